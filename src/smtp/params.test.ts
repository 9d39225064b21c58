import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeXtext, encodeXtext, parseMailParams, parseRcptParams } from "./params.ts";
import { SmtpError } from "./errors.ts";

const mailOpts = { utf8Allowed: true, binaryMime: true, dsn: true };

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SmtpError, String(e));
    return `${e.entry.reply} ${e.entry.enhanced}`;
  }
  assert.fail("no error");
}

test("MAIL parameters", () => {
  const p = parseMailParams(" SIZE=1000 body=8bitmime SMTPUTF8 RET=HDRS ENVID=QQ+2B1", mailOpts);
  assert.equal(p.size, 1000);
  assert.equal(p.body, "8BITMIME");
  assert.equal(p.smtputf8, true);
  assert.equal(p.ret, "HDRS");
  assert.equal(p.envid, "QQ+1");
  assert.deepEqual(parseMailParams("", mailOpts).smtputf8, false);
});

test("unknown and malformed parameters", () => {
  assert.equal(code(() => parseMailParams(" FOO=1", mailOpts)), "555 5.5.4");
  assert.equal(code(() => parseMailParams(" SIZE=abc", mailOpts)), "501 5.5.4");
  assert.equal(code(() => parseMailParams(" SIZE=1 SIZE=2", mailOpts)), "501 5.5.4");
  assert.equal(code(() => parseMailParams(" BODY=BINARYMIME", { ...mailOpts, binaryMime: false })), "504 5.5.4");
  assert.equal(code(() => parseMailParams(" RET=ALL", mailOpts)), "501 5.5.4");
  assert.equal(code(() => parseMailParams(" RET=FULL", { ...mailOpts, dsn: false })), "555 5.5.4");
  assert.equal(code(() => parseMailParams(` ENVID=${"a".repeat(101)}`, mailOpts)), "501 5.5.4");
  assert.equal(code(() => parseMailParams(" ENVID=a+zz", mailOpts)), "501 5.5.4");
  assert.equal(code(() => parseMailParams(" SMTPUTF8=yes", mailOpts)), "501 5.5.4");
});

test("an extension may claim a parameter", () => {
  const p = parseMailParams(" AUTH=<>", { ...mailOpts, claim: (x) => x.keyword === "AUTH" });
  assert.equal(p.extra.get("AUTH"), "<>");
});

test("RCPT parameters", () => {
  const p = parseRcptParams(" NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bb@x.test", { utf8: false, dsn: true });
  assert.deepEqual(p.notify, ["SUCCESS", "FAILURE"]);
  assert.deepEqual(p.orcpt, { addrType: "rfc822", address: "a+b@x.test" });
  assert.equal(parseRcptParams(" NOTIFY=never", { utf8: false, dsn: true }).notify, "NEVER");
  assert.deepEqual(parseRcptParams(" ORCPT=utf-8;j\\x{F6}ran@x.test", { utf8: false, dsn: true }).orcpt?.address, "jöran@x.test");
  assert.equal(code(() => parseRcptParams(" NOTIFY=NEVER,SUCCESS", { utf8: false, dsn: true })), "501 5.5.4");
  assert.equal(code(() => parseRcptParams(" ORCPT=nosemicolon", { utf8: false, dsn: true })), "501 5.5.4");
  assert.equal(code(() => parseRcptParams(" X=1", { utf8: false, dsn: true })), "555 5.5.4");
});

test("xtext round trip (RFC 3461 §4)", () => {
  for (const s of ["plain", "a+b=c", "sp ace", "ünï"]) {
    assert.equal(Buffer.from(decodeXtext(encodeXtext(s)), "latin1").toString("utf8"), s);
  }
});
