import { test } from "node:test";
import assert from "node:assert/strict";
import { parseDsn, statusBlocks } from "./dsn-report.ts";
import { postfixStyleDsn, RFC3464_STYLE } from "../../test/suppression/dsn-samples.ts";
import { RFC5965_STYLE } from "../../test/suppression/arf-samples.ts";

test("an RFC 3464 report: every recipient block, with action, status and diagnostic; the returned message's Message-ID", () => {
  const r = parseDsn(RFC3464_STYLE)!;
  assert.equal(r.reportingMta, "cs.utk.edu");
  assert.equal(r.originalMessageId, "<orig.1994@cs.utk.edu>");
  assert.deepEqual(
    r.recipients.map((x) => [x.finalRecipient, x.originalRecipient, x.action, x.status, x.diagnostic, x.remoteMta]),
    [
      ["arathib@vnet.ibm.com", "arathib@vnet.ibm.com", "failed", "4.0.0", "426 connection timed out", null],
      ["wsnell@sdcc13.ucsd.edu", null, "failed", "5.1.1", "550 user unknown", "sdcc13.ucsd.edu"],
      ["nobody@example.com", null, "delayed", "4.4.1", null, null],
    ],
  );
});

test("a Postfix-style bounce: folded Diagnostic-Code, text/rfc822-headers returned", () => {
  const r = parseDsn(postfixStyleDsn({ to: "alice@local.test", failed: "Gone@Remote.test", messageId: "<m1@local.test>" }))!;
  assert.equal(r.originalMessageId, "<m1@local.test>");
  assert.equal(r.recipients.length, 1);
  assert.equal(r.recipients[0].finalRecipient, "gone@remote.test");
  assert.equal(r.recipients[0].status, "5.1.1");
  assert.match(r.recipients[0].diagnostic!, /^550 5\.1\.1 <Gone@Remote\.test>: Recipient address rejected: User unknown/);
});

test("not a DSN: an ARF report, a plain message, garbage give null; blocks without the required fields are skipped", () => {
  assert.equal(parseDsn(RFC5965_STYLE), null);
  assert.equal(parseDsn(Buffer.from("Subject: hi\r\n\r\nbody\r\n")), null);
  assert.equal(parseDsn(Buffer.from([0xff, 0x00, 0x0d, 0x0a, 0x3a])), null);
  const noStatus = Buffer.from(postfixStyleDsn({ to: "a@local.test", failed: "b@remote.test", messageId: "<x@y>" }).toString("latin1").replace(/Status: 5\.1\.1\r\n/, ""));
  assert.deepEqual(parseDsn(noStatus)!.recipients, []);
  assert.deepEqual([...statusBlocks("A: 1\r\n  2\r\n\r\n\r\nB: 3\r\nB: 4\r\n")[0]], [["a", "1 2"]]);
});
