import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { addressText, extractSearchDoc } from "./search-text.ts";

const at = (s: string): string => addressText(Buffer.from(s, "utf8"));

test("address fields are indexed without comments and CFWS (RFC 5322 §3.4, §3.2.2)", () => {
  assert.equal(at("<user-from (comment)@ (comment) domain.org>"), "<user-from@domain.org>");
  // Only a comment after a bare addr-spec's start names it, as Dovecot reads it.
  assert.equal(at("a (x)@b.org, c@d.org (y) (z), (pre) e@f.org, <g@h.org> (c1)"), "x <a@b.org>, z <c@d.org>, <e@f.org>, <g@h.org>");
  assert.equal(at("user@domain.org (Real Name)"), "Real Name <user@domain.org>");
  assert.equal(at('"Doe, John" <j@x.org>, ann@y.org'), "Doe, John <j@x.org>, <ann@y.org>");
  assert.equal(at("team: a@x.org, b@x.org;, other: c@x.org;"), "team: <a@x.org>, <b@x.org>;, other: <c@x.org>;");
  assert.equal(at("=?UTF-8?Q?J=C3=B6rg?= <joerg@example.org>"), "Jörg <joerg@example.org>");
  assert.equal(at("Zoë <zoë@exämple.org>"), "Zoë <zoë@exämple.org>", "UTF-8 header (RFC 6532)");
  const doc = extractSearchDoc(Buffer.from("From: <a (x)@ b.org>\r\nDate: Sun, 25 Mar 2007 00:00:00 +0200\r\n\r\nbody\r\n"), 1, 1);
  assert.equal(doc.from, "<a@b.org>");
  assert.equal(doc.sentDay, Date.UTC(2007, 2, 25) / 86_400_000);
  assert.match(doc.headers, /^From: <a \(x\)@ b\.org>/, "HEADER FROM still sees the field as written");
});

test("property: addressText never throws and yields text for any header value", () => {
  const unit = fc.constantFrom(..."ab@.<>(),;:\"\\ =?Q_\t\u00e9".split(""));
  fc.assert(
    fc.property(fc.string({ unit, maxLength: 40 }), (s) => {
      assert.equal(typeof addressText(Buffer.from(s, "utf8")), "string");
    }),
    { numRuns: 3000 },
  );
});
