// DNS-based signals against an in-memory resolver (the same result shapes and error codes as
// the real one); the through-the-wire test uses knot.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createMemoryResolve } from "../dns/memory-resolver.ts";
import type { MemoryEntry } from "../dns/memory-resolver.ts";
import type { Resolver } from "../dns/resolver.ts";
import { checkDomains, checkIp, expandIPv6, interpretAnswer, ipQueryName } from "../dnsbl/dnsbl.ts";
import { checkFcrdns, heloCheck } from "./client.ts";
import { Greylist, clientNetwork } from "./greylist.ts";
import { BulkTracker } from "./bulk.ts";
import { hasGtube, GTUBE } from "./gtube.ts";
import { ManualClock } from "../clock.ts";

function resolver(zone: Record<string, MemoryEntry>, ptr: Record<string, string> = {}): Resolver {
  const resolve = createMemoryResolve(zone);
  return {
    resolve,
    a: (n) => resolve(n, "A"),
    aaaa: (n) => resolve(n, "AAAA"),
    mx: (n) => resolve(n, "MX"),
    txt: (n) => resolve(n, "TXT"),
    ptr: (ip) => resolve(ptr[ip] ?? `${ip}.ptr.invalid`, "PTR"),
    lookup: (() => undefined) as never,
    servers: [],
    cancel: () => undefined,
  };
}

test("query names: IPv4 reversed octets, IPv6 reversed nibbles (RFC 5782 §2.1, §2.4)", () => {
  assert.equal(ipQueryName("192.0.2.99", "zen.example"), "99.2.0.192.zen.example");
  assert.equal(expandIPv6("2001:db8::1"), "20010db8000000000000000000000001");
  assert.equal(ipQueryName("2001:db8::1", "z"), `${[..."20010db8000000000000000000000001"].reverse().join(".")}.z`);
  assert.equal(expandIPv6("1::2::3"), null);
  assert.equal(ipQueryName("not-an-ip", "z"), null);
});

test("list answers: 127/8 listed; Spamhaus refusal codes and non-127 answers unknown", () => {
  assert.deepEqual(interpretAnswer(["127.0.0.2"]), { state: "listed", codes: ["127.0.0.2"] });
  assert.equal(interpretAnswer(["127.255.255.254"]).state, "unknown");
  assert.equal(interpretAnswer(["203.0.113.5"]).state, "unknown");
});

test("checkIp: listed, clean (NXDOMAIN) and unknown (SERVFAIL, REFUSED, timeout) are kept apart", async () => {
  const r = resolver({
    "2.2.0.192.listed.test": { A: ["127.0.0.2"] },
    "2.2.0.192.broken.test": "SERVFAIL",
    "2.2.0.192.refused.test": "REFUSED",
    "2.2.0.192.slow.test": "TIMEOUT",
  });
  const out = await checkIp(r, "192.0.2.2", ["listed.test", "clean.test", "broken.test", "refused.test", "slow.test"]);
  assert.deepEqual(out["listed.test"], { state: "listed", codes: ["127.0.0.2"] });
  assert.deepEqual(out["clean.test"], { state: "clean" });
  for (const z of ["broken.test", "refused.test", "slow.test"]) assert.equal(out[z].state, "unknown", z);
});

test("checkDomains keeps only listed and unknown, and bounds the lookups", async () => {
  const r = resolver({ "bad.example.dbl.test": { A: ["127.0.1.2"] }, "flaky.example.dbl.test": "SERVFAIL" });
  const out = await checkDomains(r, ["Bad.Example", "good.example", "flaky.example"], ["dbl.test"]);
  assert.deepEqual(Object.keys(out).sort(), ["bad.example@dbl.test", "flaky.example@dbl.test"]);
  const many = Array.from({ length: 50 }, (_, i) => `d${i}.example`);
  const counting = createMemoryResolve({});
  const rr = { ...r, a: (n: string) => counting(n, "A") };
  await checkDomains(rr, many, ["dbl.test"]);
  assert.equal(counting.queries.length, 10);
});

test("FCrDNS: pass when a PTR name resolves back, fail without PTR or match, unknown on SERVFAIL", async () => {
  const r = resolver(
    {
      "good.ptr": { PTR: ["mail.good.example"] },
      "mail.good.example": { A: ["192.0.2.1"] },
      "liar.ptr": { PTR: ["mail.other.example"] },
      "mail.other.example": { A: ["192.0.2.200"] },
      "broken.ptr": "SERVFAIL",
    },
    { "192.0.2.1": "good.ptr", "192.0.2.3": "liar.ptr", "192.0.2.4": "broken.ptr" },
  );
  assert.deepEqual(await checkFcrdns(r, "192.0.2.1"), { result: "pass", names: ["mail.good.example"] });
  assert.equal((await checkFcrdns(r, "192.0.2.2")).result, "fail");
  assert.equal((await checkFcrdns(r, "192.0.2.3")).result, "fail");
  assert.equal((await checkFcrdns(r, "192.0.2.4")).result, "unknown");
});

test("HELO plausibility", () => {
  assert.equal(heloCheck("mail.example.com", "192.0.2.1", ["mx.ours.example"]), "ok");
  assert.equal(heloCheck("[192.0.2.1]", "192.0.2.1", []), "ok");
  assert.equal(heloCheck("[192.0.2.9]", "192.0.2.1", []), "ip-literal-mismatch");
  assert.equal(heloCheck("192.0.2.1", "192.0.2.1", []), "not-fqdn");
  assert.equal(heloCheck("desktop", "192.0.2.1", []), "not-fqdn");
  assert.equal(heloCheck("localhost", "192.0.2.1", []), "localhost");
  assert.equal(heloCheck("MX.ours.example", "192.0.2.1", ["mx.ours.example"]), "ours");
});

test("greylisting: first try refused, retry after the delay accepted, /64 and /24 grouped", () => {
  const clock = new ManualClock();
  const g = new Greylist(clock, { delayMs: 300_000, retryWindowMs: 3_600_000, passLifetimeMs: 86_400_000 });
  assert.deepEqual(g.check("2001:db8:1:2::1", "a@x.example", "u@ours.example"), { ok: false, retryInMs: 300_000 });
  clock.advance(60_000);
  assert.equal(g.check("2001:db8:1:2::ffff", "a@x.example", "u@ours.example").ok, false);
  clock.advance(240_000);
  // Another address of the same /64 retries: accepted.
  assert.equal(g.check("2001:db8:1:2:aaaa::1", "a@x.example", "u@ours.example").ok, true);
  assert.equal(g.check("2001:db8:1:3::1", "a@x.example", "u@ours.example").ok, false);
  assert.equal(clientNetwork("192.0.2.77"), "192.0.2.0/24");
  // A retry after the window starts over.
  g.check("198.51.100.1", "b@x.example", "u@ours.example");
  clock.advance(3_600_001);
  assert.equal(g.check("198.51.100.1", "b@x.example", "u@ours.example").ok, false);
});

test("bulk: identical bodies counted within the window only", () => {
  const clock = new ManualClock();
  const b = new BulkTracker(clock, { windowMs: 60_000 });
  const text = "Limited offer ".repeat(30);
  assert.equal(b.record(text), 1);
  assert.equal(b.record(text), 2);
  assert.equal(b.record("short"), 0);
  clock.advance(61_000);
  assert.equal(b.record(text), 1);
});

test("GTUBE is found anywhere in the bytes", () => {
  assert.equal(hasGtube(Buffer.from(`Subject: t\r\n\r\nhello ${GTUBE}\r\n`)), true);
  assert.equal(hasGtube(Buffer.from("Subject: t\r\n\r\nhello\r\n")), false);
});
