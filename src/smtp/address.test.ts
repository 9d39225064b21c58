import { test } from "node:test";
import assert from "node:assert/strict";
import { parsePath, PathSyntaxError, isValidAddressLiteral } from "./address.ts";

const opts = { utf8: false, allowNull: true, allowPostmaster: true };

test("plain, quoted and literal mailboxes", () => {
  const p = parsePath("<user.name+tag@example.test> SIZE=10", opts);
  assert.equal(p.mailbox?.address, "user.name+tag@example.test");
  assert.equal(p.rest, " SIZE=10");
  const q = parsePath('<"john smith\\"x"@example.test>', opts);
  assert.equal(q.mailbox?.localPart, 'john smith"x');
  assert.equal(q.mailbox?.address, '"john smith\\"x"@example.test');
  // A quoted local part that is a valid dot-string is written bare.
  assert.equal(parsePath('<"abc"@x.test>', opts).mailbox?.address, "abc@x.test");
  const l = parsePath("<a@[192.0.2.1]>", opts);
  assert.equal(l.mailbox?.isAddressLiteral, true);
  assert.ok(parsePath("<a@[IPv6:2001:db8::1]>", opts).mailbox);
});

test("null path and Postmaster", () => {
  assert.equal(parsePath("<>", opts).mailbox, null);
  const pm = parsePath("<PostMaster>", opts);
  assert.equal(pm.postmaster, true);
  assert.throws(() => parsePath("<>", { ...opts, allowNull: false }), PathSyntaxError);
  assert.throws(() => parsePath("<Postmaster>", { ...opts, allowPostmaster: false }), PathSyntaxError);
});

test("source routes are recognised and stripped (RFC 5321 Appendix C)", () => {
  const p = parsePath("<@relay.test,@other.test:user@final.test>", opts);
  assert.deepEqual(p.sourceRoute, ["relay.test", "other.test"]);
  assert.equal(p.mailbox?.address, "user@final.test");
});

test("syntax errors", () => {
  for (const bad of ["user@x.test", "<user>", "<user@>", "<@x.test>", "<a..b@x.test>", "<.a@x.test>", "<a@-x.test>", "<a@x_y.test>",
    "<a b@x.test>", '<"unterminated@x.test>', "<a@[1.2.3.999]>", `<${"l".repeat(65)}@x.test>`, "<a@x.test", "<a@[IPv6:1::2::3]>"]) {
    assert.throws(() => parsePath(bad, opts), PathSyntaxError, bad);
  }
});

test("non-ASCII needs SMTPUTF8 (RFC 6531)", () => {
  assert.throws(() => parsePath("<jöran@bücher.test>", opts), PathSyntaxError);
  const p = parsePath("<jöran@bücher.test>", { ...opts, utf8: true });
  assert.equal(p.mailbox?.localPart, "jöran");
  assert.equal(p.mailbox?.domain, "bücher.test");
});

test("address literals", () => {
  assert.equal(isValidAddressLiteral("[127.0.0.1]"), true);
  assert.equal(isValidAddressLiteral("[IPv6:::1]"), true);
  assert.equal(isValidAddressLiteral("[IPv6:::ffff:1.2.3.4]"), true);
  assert.equal(isValidAddressLiteral("[IPv6:1:2:3:4:5:6:7:8:9]"), false);
  assert.equal(isValidAddressLiteral("[x-tag:stuff]"), true);
  assert.equal(isValidAddressLiteral("[256.0.0.1]"), false);
});
