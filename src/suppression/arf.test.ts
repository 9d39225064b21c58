// ARF (RFC 5965) reports parse into the right complainer and domain: a report laid out as the
// RFC's Appendix B example (multipart/report; report-type=feedback-report, a text part, the
// message/feedback-report fields and the message/rfc822 original), and the kind the large
// mailbox providers send (recipient redacted in the fields, the original's header as
// text/rfc822-headers with the complainer in To). Not a report → null.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseFeedbackReport } from "./arf.ts";

import { crlf, RFC5965_STYLE, providerStyleReport } from "../../test/suppression/arf-samples.ts";

test("ARF: the RFC 5965 Appendix B layout: complainer from Original-Rcpt-To, domain from Original-Mail-From", () => {
  const r = parseFeedbackReport(RFC5965_STYLE);
  assert.ok(r);
  assert.equal(r.feedbackType, "abuse");
  assert.equal(r.userAgent, "SomeGenerator/1.0");
  assert.equal(r.originalMailFrom, "somespammer@example.net");
  assert.deepEqual(r.originalRcptTo, ["user@example.com"]);
  assert.deepEqual(r.removalRecipients, ["user@example.com"]);
  assert.equal(r.sourceIp, "192.0.2.1");
  assert.deepEqual(r.reportedDomains, ["example.net"]);
  assert.equal(r.complainer, "user@example.com");
  assert.equal(r.senderDomain, "example.net");
  assert.equal(r.original?.from, "somespammer@example.net");
  assert.equal(r.original?.messageId, "8787KJKJ3K4J3K4J3K4J3.mail@example.net");
});

test("ARF: a provider's abuse report with text/rfc822-headers; redacted Original-Rcpt-To still names the complainer first, the original's To is the fallback", () => {
  const r = parseFeedbackReport(providerStyleReport("cust@customer.example", "alice@local.test"));
  assert.ok(r);
  assert.equal(r.senderDomain, "local.test");
  assert.equal(r.complainer, "redacted@hotmail.example", "Original-Rcpt-To wins when present");
  const noRcpt = parseFeedbackReport(Buffer.from(providerStyleReport("cust@customer.example", "alice@local.test").toString("latin1").replace(/Original-Rcpt-To:[^\r\n]*\r\n/, "")));
  assert.equal(noRcpt?.complainer, "cust@customer.example", "then the original message's single To");
  assert.equal(noRcpt?.original?.messageId, "<offer-1@local.test>");
});

test("not a feedback report: a plain message, another report type, a report without Feedback-Type", () => {
  assert.equal(parseFeedbackReport(crlf("From: a@b\nSubject: hi\n\nhello\n")), null);
  assert.equal(parseFeedbackReport(Buffer.from(RFC5965_STYLE.toString("latin1").replace("report-type=feedback-report", "report-type=delivery-status"))), null);
  assert.equal(parseFeedbackReport(Buffer.from(RFC5965_STYLE.toString("latin1").replace("Feedback-Type: abuse\r\n", ""))), null);
});
