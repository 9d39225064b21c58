import { test } from "node:test";
import assert from "node:assert/strict";
import { buildReceived, rfc5322Date, withKeyword } from "./received.ts";

const base = {
  heloName: "mail.sender.test",
  heloVerb: "EHLO" as const,
  remoteAddress: "192.0.2.7",
  serverName: "mx.freehold.test",
  authenticated: false,
  smtputf8: false,
  recipients: ["bob@freehold.test"],
  date: new Date(Date.UTC(2026, 10, 23, 16, 5, 9)),
};

test("RFC 3848 and RFC 6531 with keywords", () => {
  const t = { protocol: "TLSv1.3", cipher: "TLS_AES_256_GCM_SHA384" };
  assert.equal(withKeyword({ heloVerb: "EHLO", authenticated: false, smtputf8: false }), "ESMTP");
  assert.equal(withKeyword({ heloVerb: "EHLO", tls: t, authenticated: false, smtputf8: false }), "ESMTPS");
  assert.equal(withKeyword({ heloVerb: "EHLO", authenticated: true, smtputf8: false }), "ESMTPA");
  assert.equal(withKeyword({ heloVerb: "EHLO", tls: t, authenticated: true, smtputf8: false }), "ESMTPSA");
  assert.equal(withKeyword({ heloVerb: "LHLO", authenticated: false, smtputf8: false }), "LMTP");
  assert.equal(withKeyword({ heloVerb: "HELO", authenticated: false, smtputf8: false }), "SMTP");
  assert.equal(withKeyword({ heloVerb: "EHLO", authenticated: false, smtputf8: true }), "UTF8SMTP");
  assert.equal(withKeyword({ heloVerb: "EHLO", tls: t, authenticated: false, smtputf8: true }), "UTF8SMTPS");
});

test("one recipient gets a for clause; TLS goes into a comment", () => {
  const h = buildReceived({ ...base, remoteName: "mail.sender.test", tls: { protocol: "TLSv1.3", cipher: "TLS_AES_256_GCM_SHA384" }, id: "abc123" });
  assert.equal(
    h,
    "Received: from mail.sender.test (mail.sender.test [192.0.2.7])\r\n" +
      "\tby mx.freehold.test (Freehold) with ESMTPS id abc123\r\n" +
      "\t(version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384)\r\n" +
      "\tfor <bob@freehold.test>; Mon, 23 Nov 2026 16:05:09 +0000\r\n",
  );
});

test("several recipients: no for clause; IPv6 literal; bad HELO name", () => {
  const h = buildReceived({ ...base, recipients: ["a@x.test", "b@x.test"], remoteAddress: "2001:db8::1", heloName: "bad name(" });
  assert.match(h, /^Received: from unknown \(\[IPv6:2001:db8::1\]\) \(helo=bad name\)\r\n\tby mx\.freehold\.test \(Freehold\) with ESMTP; Mon, 23 Nov 2026 16:05:09 \+0000\r\n$/);
  assert.doesNotMatch(h, / for /);
});

test("RFC 5322 date", () => {
  assert.equal(rfc5322Date(new Date(Date.UTC(2026, 0, 4, 3, 2, 1))), "Sun, 4 Jan 2026 03:02:01 +0000");
});
