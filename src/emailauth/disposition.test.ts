// The pure parts: pct parsing and sampling, alignment doubt, the disposition table, and the
// Authentication-Results formatting helpers.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { parsePct, samplePolicy } from "./dmarc-policy.ts";
import { decideAction, mayAlign } from "./disposition.ts";
import { fold, formatAuthenticationResults, formatAuthservId, formatComment, formatPvalue } from "./ar-format.ts";
import type { DmarcOutcome, SpfOutcome } from "./verify.ts";

test("parsePct: RFC 7489 §6.3 syntax, default 100, invalid values ignored", () => {
  assert.equal(parsePct("v=DMARC1; p=reject"), 100);
  assert.equal(parsePct("v=DMARC1; p=reject; pct=20"), 20);
  assert.equal(parsePct("v=DMARC1; p=reject; PCT = 0 ;"), 0);
  assert.equal(parsePct("v=DMARC1; pct=150"), 100);
  assert.equal(parsePct("v=DMARC1; pct=-5"), 100);
  assert.equal(parsePct("v=DMARC1; pct=abc"), 100);
  assert.equal(parsePct("v=DMARC1; pct=1000"), 100);
});

test("samplePolicy: pct=100 always applies, pct=0 never, t=y ignores pct", () => {
  fc.assert(
    fc.property(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (r) => {
      assert.equal(samplePolicy("reject", "p=reject", false, () => r).applied, "reject");
      assert.equal(samplePolicy("reject", "p=reject; pct=0", false, () => r).applied, "quarantine");
      assert.equal(samplePolicy("quarantine", "p=quarantine; pct=0", false, () => r).applied, "none");
      assert.equal(samplePolicy("quarantine", "p=reject; t=y; pct=0", true, () => r).applied, "quarantine");
      const half = samplePolicy("reject", "p=reject; pct=50", false, () => r);
      assert.equal(half.selected, r < 0.5);
    }),
  );
});

test("mayAlign: strict needs the same name, relaxed a shared parent", () => {
  assert.ok(mayAlign("Example.COM.", "example.com", true));
  assert.ok(!mayAlign("mail.example.com", "example.com", true));
  assert.ok(mayAlign("mail.example.com", "example.com", false));
  assert.ok(!mayAlign("example.net", "example.com", false));
  assert.ok(!mayAlign("", "example.com", false));
});

function dmarc(over: Partial<DmarcOutcome>): DmarcOutcome {
  return {
    result: "fail",
    fromDomain: "example.com",
    policyDomain: "example.com",
    pct: 100,
    testMode: false,
    policy: "reject",
    selected: true,
    appliedPolicy: "reject",
    spfAligned: null,
    dkimAligned: null,
    strictSpf: false,
    strictDkim: false,
    ...over,
  };
}
const spf = (result: SpfOutcome["result"], domain = "other.net"): SpfOutcome => ({ result, domain, identity: `a@${domain}`, comment: "" });

test("decideAction: the disposition table", () => {
  const cases: Array<[string, Parameters<typeof decideAction>[0], string]> = [
    ["no DMARC", { spf: spf("pass"), dkim: [], dmarc: null }, "accept"],
    ["pass", { spf: spf("pass"), dkim: [], dmarc: dmarc({ result: "pass" }) }, "accept"],
    ["none", { spf: spf("pass"), dkim: [], dmarc: dmarc({ result: "none", policy: null, appliedPolicy: null }) }, "accept"],
    ["fail reject", { spf: spf("pass"), dkim: [], dmarc: dmarc({}) }, "reject"],
    ["fail quarantine", { spf: spf("pass"), dkim: [], dmarc: dmarc({ policy: "quarantine", appliedPolicy: "quarantine" }) }, "quarantine"],
    ["fail none", { spf: spf("pass"), dkim: [], dmarc: dmarc({ policy: "none", appliedPolicy: "none" }) }, "accept"],
    ["fail reject, aligned SPF temperror", { spf: spf("temperror", "example.com"), dkim: [], dmarc: dmarc({}) }, "tempfail"],
    ["fail reject, unaligned SPF temperror", { spf: spf("temperror", "other.net"), dkim: [], dmarc: dmarc({}) }, "reject"],
    ["fail reject, aligned DKIM temperror", { spf: spf("fail"), dkim: [{ result: "temperror", domain: "mail.example.com", aligned: false }], dmarc: dmarc({}) }, "tempfail"],
    ["fail reject, DKIM temperror, strict alignment", { spf: spf("fail"), dkim: [{ result: "temperror", domain: "mail.example.com", aligned: false }], dmarc: dmarc({ strictDkim: true }) }, "reject"],
    ["fail quarantine, aligned temperror", { spf: spf("temperror", "example.com"), dkim: [], dmarc: dmarc({ policy: "quarantine", appliedPolicy: "quarantine" }) }, "accept"],
    ["temperror, reject known", { spf: spf("pass"), dkim: [], dmarc: dmarc({ result: "temperror" }) }, "tempfail"],
    ["temperror, policy unknown", { spf: spf("pass"), dkim: [], dmarc: dmarc({ result: "temperror", policy: null, appliedPolicy: null }) }, "accept"],
  ];
  for (const [name, input, action] of cases) {
    const d = decideAction(input);
    assert.equal(d.action, action, name);
    assert.equal(d.reply === null, action === "accept" || action === "quarantine", name);
    if (action === "reject") assert.deepEqual([d.reply?.code, d.reply?.enhanced], [550, "5.7.1"]);
    if (action === "tempfail") assert.deepEqual([d.reply?.code, d.reply?.enhanced], [451, "4.4.3"]);
  }
});

test("Authentication-Results formatting helpers", () => {
  assert.equal(formatAuthservId("mx.example.com"), "mx.example.com");
  assert.equal(formatAuthservId("odd id"), '"odd id"');
  assert.equal(formatComment("a (b) \\c"), "(a \\(b\\) \\\\c)");
  assert.equal(formatPvalue("user@example.com"), "user@example.com");
  assert.equal(formatPvalue("first last@example.com"), '"first last@example.com"');
  assert.equal(formatPvalue("mx.example.com"), "mx.example.com");
  const long = `spf=pass (${"word ".repeat(60)}) smtp.mailfrom=a@b.c`;
  const folded = fold(long, 78);
  assert.equal(folded.replace(/\r\n/g, ""), long);
  assert.ok(folded.split("\r\n").every((l) => l.length <= 78));
  assert.equal(formatAuthenticationResults("mx.example.com", []), "Authentication-Results: mx.example.com;\r\n none\r\n");
});
