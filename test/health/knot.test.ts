// Health checks against a real DNS server (knot on loopback): a test DNSBL zone with ZEN-style
// return codes, a list that refuses (127.255.255.254), one with no test entry, and PTR zones.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startKnot, findKnotd } from "../support/knot.ts";
import type { KnotServer } from "../support/knot.ts";
import { createResolver } from "../../src/dns/resolver.ts";
import type { Resolver } from "../../src/dns/resolver.ts";
import { checkList, zenMeaning } from "../../src/dnsbl/dnsbl.ts";
import { checkReverseDns } from "../../src/health/identity.ts";

const skip = findKnotd() ? false : "knotd not installed";
let knot: KnotServer;
let resolver: Resolver;

before(async () => {
  if (skip) return;
  knot = await startKnot({
    "zen.bl.test": {
      "@": { NS: ["ns.zen.bl.test."] },
      ns: { A: ["127.0.0.1"] },
      "2.0.0.127": { A: ["127.0.0.2"], TXT: ["test entry"] },
      "2.2.0.192": { A: ["127.0.0.2"] },
      "4.2.0.192": { A: ["127.0.0.4"] },
      "10.2.0.192": { A: ["127.0.0.10"], TXT: ["PBL range"] },
    },
    "refused.bl.test": { "@": { NS: ["ns.zen.bl.test."] }, "2.0.0.127": { A: ["127.255.255.254"] }, "2.2.0.192": { A: ["127.255.255.254"] } },
    "silent.bl.test": { "@": { NS: ["ns.zen.bl.test."] } },
    "2.0.192.in-addr.arpa": {
      "@": { NS: ["ns.zen.bl.test."] },
      "20": { PTR: ["mail.example.test."] },
      "21": { PTR: ["other.example.test."] },
    },
    "example.test": { "@": { NS: ["ns.zen.bl.test."] }, mail: { A: ["192.0.2.20"] } },
  });
  resolver = createResolver({ servers: [knot.address], cache: false, timeoutMs: 3000 });
});
after(async () => {
  resolver?.cancel();
  await knot?.stop();
});

test("DNSBL: each ZEN return code told apart; clean; refused and silent lists unknown", { skip }, async () => {
  const sbl = await checkList(resolver.resolve, "192.0.2.2", "zen.bl.test", "ip");
  assert.deepEqual([sbl.status, sbl.codes, zenMeaning(sbl.codes[0])?.list], ["listed", ["127.0.0.2"], "SBL"]);
  const xbl = await checkList(resolver.resolve, "192.0.2.4", "zen.bl.test", "ip");
  assert.deepEqual([xbl.status, zenMeaning(xbl.codes[0])?.list], ["listed", "XBL"]);
  const pbl = await checkList(resolver.resolve, "192.0.2.10", "zen.bl.test", "ip");
  assert.deepEqual([pbl.status, zenMeaning(pbl.codes[0])?.list, pbl.reason], ["listed", "PBL", "PBL range"]);
  assert.match(zenMeaning(pbl.codes[0])!.fix, /relay/);
  assert.deepEqual(await checkList(resolver.resolve, "192.0.2.99", "zen.bl.test", "ip"), { status: "clean", codes: [] });
  const refused = await checkList(resolver.resolve, "192.0.2.2", "refused.bl.test", "ip");
  assert.equal(refused.status, "unknown");
  assert.match(refused.detail!, /refused-code/);
  const silent = await checkList(resolver.resolve, "192.0.2.2", "silent.bl.test", "ip");
  assert.deepEqual([silent.status, silent.detail], ["unknown", "test entry clean"]);
});

test("reverse DNS: forward-confirmed ok; PTR not matching HELO fails with the exact fix", { skip }, async () => {
  const ok = await checkReverseDns(resolver.resolve, "192.0.2.20", "mail.example.test");
  assert.equal(ok.status, "ok");
  const bad = await checkReverseDns(resolver.resolve, "192.0.2.21", "mail.example.test");
  assert.equal(bad.status, "fail");
  assert.equal(bad.fix, "ask your hosting provider to set 21.2.0.192.in-addr.arpa. PTR mail.example.test.");
  const none = await checkReverseDns(resolver.resolve, "192.0.2.22", "mail.example.test");
  assert.deepEqual([none.status, none.message], ["fail", "192.0.2.22 has no reverse DNS (PTR)"]);
});
