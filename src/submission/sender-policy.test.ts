import { test } from "node:test";
import assert from "node:assert/strict";
import { mailboxesOf, parseAddressField } from "./header-addresses.ts";
import { checkHeaderSenders, checkMailFrom, checkSubmissionSender, normalizeAddress } from "./sender-policy.ts";
import type { SenderAuthority, SenderRefusal } from "./sender-policy.ts";

const user: SenderAuthority = { addresses: ["me@y.example", "Sales@Y.example", "ich@bücher.example"], domains: [] };
const admin: SenderAuthority = { addresses: ["admin@corp.example"], domains: ["corp.example"] };

function head(...lines: string[]): string {
  return [...lines, "To: someone@elsewhere.example", "Subject: hi", "", "body"].join("\r\n");
}

function code(r: ReturnType<typeof checkHeaderSenders>): SenderRefusal | "ok" {
  return r.ok ? "ok" : r.code;
}

test("the strict parser reads names, quotes, comments, groups and encoded words", () => {
  const r = parseAddressField(' "Doe, John" <john.doe@x.example> (work), =?utf-8?q?J=C3=B6rg?= <j@x.example>, team: a@x.example, b@x.example;');
  assert.ok(r.ok);
  if (!r.ok) return;
  const boxes = mailboxesOf(r.items);
  assert.deepEqual(
    boxes.map((b) => [b.displayName, `${b.local}@${b.domain}`]),
    [
      ["Doe, John", "john.doe@x.example"],
      ["Jörg", "j@x.example"],
      ["", "a@x.example"],
      ["", "b@x.example"],
    ],
  );
  assert.deepEqual(boxes[0].comments, ["work"]);
  assert.equal(r.items.length, 3);
  const q = parseAddressField('"john doe"@x.example');
  assert.ok(q.ok && mailboxesOf(q.items)[0].local === '"john doe"');
  const unq = parseAddressField('"john"@x.example');
  assert.ok(unq.ok && mailboxesOf(unq.items)[0].local === "john", "needless quotes dropped");
});

test("the strict parser refuses what clients could read differently", () => {
  for (const bad of [
    "",
    "(only a comment)",
    "me@y.example,",
    ", me@y.example",
    "me",
    "John Smith",
    "<@relay.example:me@y.example>",
    '"unterminated <me@y.example>',
    "me@y.example (unterminated",
    "<me@y.example",
    "me@y.example>",
    "john doe@y.example",
    "a@b@c.example",
    "me@.y.example",
    "me..x@y.example",
    "team: a@x.example",
    "me@y.example me2@y.example",
    "me@[1.2.3.4",
  ]) {
    assert.equal(parseAddressField(bad).ok, false, bad);
  }
});

test("MAIL FROM: own address, aliases, +tags, domain admin; case and IDN insensitive", () => {
  const ok = (a: string, auth = user) => checkMailFrom(a, auth).ok;
  assert.equal(ok("me@y.example"), true);
  assert.equal(ok("ME@Y.EXAMPLE"), true);
  assert.equal(ok("sales@y.example"), true, "alias");
  assert.equal(ok("me+news@y.example"), true, "subaddress of an owned address");
  assert.equal(ok("me+news@y.example", { ...user, allowSubaddress: false }), false);
  assert.equal(ok("ich@xn--bcher-kva.example"), true, "A-label equals the U-label");
  assert.equal(ok("ICH@BÜCHER.example"), true);
  assert.equal(ok("boss@y.example"), false);
  assert.equal(ok("me@y.example.evil.example"), false);
  assert.equal(ok(""), true, "the null path claims no one");
  assert.equal(ok("anyone@corp.example", admin), true);
  assert.equal(ok("anyone@sub.corp.example", admin), false, "a domain admin owns the domain, not its subdomains");
  const r = checkMailFrom("boss@y.example", user);
  assert.ok(!r.ok && r.status === "5.7.1" && r.code === "sender-not-owned");
});

test("From and Sender: every mailbox must be owned", () => {
  assert.equal(code(checkHeaderSenders(head("From: Me <me@y.example>"), user)), "ok");
  assert.equal(code(checkHeaderSenders(head("From: =?utf-8?b?TcOp?= <ME@y.example>"), user)), "ok");
  assert.equal(code(checkHeaderSenders(head("From: Me <ich@xn--bcher-kva.example>"), user)), "ok");
  assert.equal(code(checkHeaderSenders(Buffer.from(head("From: Ich <ich@bücher.example>"), "utf8"), user)), "ok", "RFC 6532 UTF-8 header");
  assert.equal(code(checkHeaderSenders(head("From: Boss <boss@y.example>"), user)), "header-not-owned");
  assert.equal(code(checkHeaderSenders(head("From: me@y.example", "Sender: boss@y.example"), user)), "header-not-owned");
  assert.equal(code(checkHeaderSenders(head("From: team: me@y.example, boss@y.example;", "Sender: me@y.example"), user)), "header-not-owned", "group members are checked");
  assert.equal(code(checkHeaderSenders(head("From: team: me@y.example, sales@y.example;", "Sender: me@y.example"), user)), "ok");
  assert.equal(code(checkHeaderSenders(head("From: undisclosed:;"), user)), "from-count");
});

test("header tricks are refused", () => {
  assert.equal(code(checkHeaderSenders(head('From: "boss@x.example" <me@y.example>'), user)), "misleading-name");
  assert.equal(code(checkHeaderSenders(head("From: =?utf-8?q?boss=40x=2Eexample?= <me@y.example>"), user)), "misleading-name", "encoded word");
  assert.equal(code(checkHeaderSenders(head('From: "boss＠x.example" <me@y.example>'), user)), "misleading-name", "fullwidth at sign");
  assert.equal(code(checkHeaderSenders(head("From: me@y.example (boss@x.example)"), user)), "misleading-name", "comment");
  assert.equal(code(checkHeaderSenders(head('From: "me@y.example" <me@y.example>'), user)), "ok", "a name equal to the address");
  assert.equal(code(checkHeaderSenders(head('From: "ME@Y.EXAMPLE." <me@y.example>'), user)), "ok");
  assert.equal(code(checkHeaderSenders(head("From: me@y.example", "From: boss@x.example"), user)), "from-count", "two From fields");
  assert.equal(code(checkHeaderSenders(head("From: me@y.example", "from: me@y.example"), user)), "from-count", "even the same twice");
  assert.equal(code(checkHeaderSenders(head("Subject: no from"), user)), "from-count");
  assert.equal(code(checkHeaderSenders(head("From: me@y.example, sales@y.example"), user)), "sender-required");
  assert.equal(code(checkHeaderSenders(head("From: me@y.example, sales@y.example", "Sender: me@y.example"), user)), "ok");
  assert.equal(code(checkHeaderSenders(head("From: me@y.example", "Sender: me@y.example", "Sender: me@y.example"), user)), "sender-count");
  assert.equal(code(checkHeaderSenders(head("From: me@y.example", "Sender: me@y.example, sales@y.example"), user)), "sender-count");
  assert.equal(code(checkHeaderSenders(head("From: <@evil.example:me@y.example>"), user)), "unparseable");
  assert.equal(code(checkHeaderSenders(head("From: me@y.example,"), user)), "unparseable");
  // A folded From is one field.
  assert.equal(code(checkHeaderSenders("From: Me\r\n <me@y.example>\r\n\r\nbody", user)), "ok");
  // A From in the body is not a header field.
  assert.equal(code(checkHeaderSenders("From: me@y.example\r\n\r\nFrom: boss@x.example\r\n", user)), "ok");
});

test("the combined check looks at the envelope first", () => {
  const r = checkSubmissionSender("boss@y.example", head("From: me@y.example"), user);
  assert.ok(!r.ok && r.code === "sender-not-owned");
  assert.ok(checkSubmissionSender("me@y.example", head("From: me@y.example"), user).ok);
  assert.equal(normalizeAddress('"Me"@Bücher.Example'), "me@xn--bcher-kva.example");
});

test("fuzz: the parser never throws and never accepts a mailbox without a domain", async () => {
  const fc = (await import("fast-check")).default;
  const unit = fc.constantFrom(..."ab.@<>():;,\"\\[] \t=?qQ_é＠".split(""), "=?utf-8?q?", "?=", "x.example", "\r\n ");
  fc.assert(
    fc.property(fc.string({ unit, maxLength: 40 }), (s) => {
      const r = parseAddressField(s);
      if (r.ok) for (const mb of mailboxesOf(r.items)) if (!mb.local || !mb.domain) return false;
      return true;
    }),
    { numRuns: 3000 },
  );
});
