import { test } from "node:test";
import assert from "node:assert/strict";
import { decideAll, decideFor, scoreFor, scoreSignals, thresholdsFor, DEFAULT_THRESHOLDS, headerValue } from "./verdict.ts";
import type { RecipientView, Signals } from "./verdict.ts";

const quiet: Signals = {
  gtube: false,
  spf: "none",
  dkim: "none",
  dmarc: "none",
  arc: "none",
  dnsbl: {},
  domainLists: {},
  fcrdns: "pass",
  helo: "ok",
  pregreet: "skipped",
  bulkCount: 0,
  limited: false,
  rspamd: null,
};
const stranger: RecipientView = { bayes: null, trusted: false, junked: 0, firstTime: false };

test("a quiet message scores 0 and goes to INBOX", () => {
  const s = scoreSignals(quiet);
  assert.equal(s.score, 0);
  assert.equal(decideFor(scoreFor(s, stranger), stranger, DEFAULT_THRESHOLDS).action, "inbox");
});

test("GTUBE is spam even for a trusted sender, but a trusted sender is never refused", () => {
  const s = scoreSignals({ ...quiet, gtube: true });
  assert.equal(decideFor(scoreFor(s, stranger), stranger, DEFAULT_THRESHOLDS).action, "reject");
  const trusted = { ...stranger, trusted: true };
  assert.equal(decideFor(scoreFor(s, trusted), trusted, DEFAULT_THRESHOLDS).action, "junk");
});

test("blocklists, unknown answers, FCrDNS and HELO", () => {
  const s = scoreSignals({
    ...quiet,
    dnsbl: { "zen.spamhaus.org": { state: "listed", codes: ["127.0.0.2"] }, "bl.spamcop.net": { state: "unknown", why: "ETIMEOUT" } },
    domainLists: { "a.example@dbl.spamhaus.org": { state: "listed", codes: ["127.0.1.2"] }, "b.example@dbl.spamhaus.org": { state: "listed", codes: ["127.0.1.2"] } },
    fcrdns: "fail",
    helo: "not-fqdn",
  });
  // An unknown answer counts nothing; two domains on one list count once.
  assert.deepEqual(s.rules, { "DNSBL:zen.spamhaus.org": 4, "URIBL:dbl.spamhaus.org": 4, NO_FCRDNS: 1.5, "HELO:not-fqdn": 1.5 });
  assert.equal(s.score, 11);
});

test("the classifier alone can file into Junk but never refuse", () => {
  const v = { ...stranger, bayes: 1 };
  const r = decideFor(scoreFor(scoreSignals(quiet), v), v, DEFAULT_THRESHOLDS);
  assert.equal(r.action, "junk");
  assert.equal(r.rules.BAYES, 6);
  const ham = { ...stranger, bayes: 0 };
  assert.equal(scoreFor(scoreSignals({ ...quiet, fcrdns: "fail", helo: "not-fqdn", spf: "fail" }), ham).score, -1);
});

test("several recipients: refuse only when every one refuses, else Junk for those who would", () => {
  const rej = { action: "reject" as const, score: 20, rules: {} };
  const inbox = { action: "inbox" as const, score: 20, rules: {} };
  assert.equal(decideAll([rej, rej]).reject, true);
  const mixed = decideAll([rej, inbox]);
  assert.equal(mixed.reject, false);
  assert.deepEqual(mixed.perRecipient.map((v) => v.action), ["junk", "inbox"]);
  assert.equal(decideAll([]).reject, false);
});

test("thresholds: user over domain over defaults, key by key", () => {
  const t = thresholdsFor("Boss@Example.com", { junk: 5, reject: 12 }, { "example.com": { junk: 3, reject: 30 } }, { "boss@example.com": { reject: 1000 } });
  assert.deepEqual(t, { junk: 3, reject: 1000 });
  assert.deepEqual(thresholdsFor("x@other.example", { junk: 5, reject: 12 }, { "example.com": { junk: 3 } }, {}), { junk: 5, reject: 12 });
});

test("header value lists the verdict, score, rules and signals", () => {
  const v = decideFor(scoreFor(scoreSignals({ ...quiet, fcrdns: "fail" }), stranger), stranger, DEFAULT_THRESHOLDS);
  assert.equal(headerValue(v, { ip: "192.0.2.1", fcrdns: "fail" }), "inbox score=1.5; rules: NO_FCRDNS=1.5; ip=192.0.2.1 fcrdns=fail");
});
