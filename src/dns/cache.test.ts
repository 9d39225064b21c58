// The Resolver's answer cache: TTLs honoured (positive, negative per RFC 2308 §5), failures never
// cached, bounded size, shared in-flight queries, copies handed out; on a ManualClock against the
// fault-injection DNS server on loopback.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { DnsCache } from "./cache.ts";
import { createResolver, toEntry } from "./resolver.ts";
import { startFaultServer } from "../../test/support/dns-fault.ts";
import type { FaultHandler } from "../../test/support/dns-fault.ts";

const soa = (ttl: number, minimum: number) => ({
  type: "SOA" as const,
  name: "test",
  ttl,
  data: { mname: "ns.test", rname: "hostmaster.test", serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum },
});

const zone: FaultHandler = (q) => {
  const name = q.name.toLowerCase();
  if (name === "spf.test" && q.type === "TXT") return { kind: "answer", answers: [{ type: "TXT", name: q.name, ttl: 60, data: ["v=spf1 -all"] }] };
  if (name === "zero.test" && q.type === "TXT") return { kind: "answer", answers: [{ type: "TXT", name: q.name, ttl: 0, data: ["x"] }] };
  if (name === "alias.test" && q.type === "TXT") {
    return {
      kind: "answer",
      answers: [
        { type: "CNAME", name: q.name, ttl: 20, data: "spf.test" },
        { type: "TXT", name: "spf.test", ttl: 60, data: ["v=spf1 -all"] },
        { type: "TXT", name: "elsewhere.test", ttl: 60, data: ["not in the chain"] },
      ],
    };
  }
  if (name === "mx.test" && q.type === "MX") {
    return {
      kind: "answer",
      answers: [
        { type: "MX", name: q.name, ttl: 300, data: { preference: 20, exchange: "b.mx.test" } },
        { type: "MX", name: q.name, ttl: 300, data: { preference: 10, exchange: "a.mx.test" } },
      ],
    };
  }
  if (name === "_dmarc.nx.test") return { kind: "rcode", rcode: "NXDOMAIN", authorities: [soa(3600, 30)] };
  if (name === "nosoa.test") return { kind: "rcode", rcode: "NXDOMAIN" };
  if (name === "nodata.test") return { kind: "rcode", rcode: "NOERROR", authorities: [soa(10, 300)] };
  if (name === "broken.test") return { kind: "rcode", rcode: "SERVFAIL" };
  return { kind: "rcode", rcode: "NXDOMAIN" };
};

async function setup(t: { after(fn: () => unknown): void }, cache?: { maxEntries?: number }) {
  const srv = await startFaultServer(zone);
  t.after(() => srv.close());
  const clock = new ManualClock();
  const r = createResolver({ servers: [srv.address], timeoutMs: 300, tries: 1, clock, cache });
  const asked = (name: string) => srv.log.filter((q) => q.name.toLowerCase() === name).length;
  return { srv, clock, r, asked };
}

const code = (e: unknown) => (e as { code?: string }).code;

test("a positive answer is served from the cache until its TTL runs out", async (t) => {
  const { clock, r, asked } = await setup(t);
  assert.deepEqual(await r.txt("spf.test"), [["v=spf1 -all"]]);
  assert.deepEqual(await r.resolve("SPF.test.", "TXT"), [["v=spf1 -all"]], "case and the root dot do not matter");
  clock.advance(59_000);
  await r.txt("spf.test");
  assert.equal(asked("spf.test"), 1);
  clock.advance(1_000);
  await r.txt("spf.test");
  assert.equal(asked("spf.test"), 2, "asked again once the 60 s TTL ran out");
  assert.deepEqual(r.cacheStats?.(), { size: 1, hits: 2, misses: 2 });
});

test("TTL 0 is never cached", async (t) => {
  const { r, asked } = await setup(t);
  await r.txt("zero.test");
  await r.txt("zero.test");
  assert.equal(asked("zero.test"), 2);
});

test("a CNAME chain: records of the chain only, cached for the smallest TTL in it", async (t) => {
  const { clock, r, asked } = await setup(t);
  assert.deepEqual(await r.txt("alias.test"), [["v=spf1 -all"]]);
  clock.advance(19_000);
  await r.txt("alias.test");
  assert.equal(asked("alias.test"), 1);
  clock.advance(1_000);
  await r.txt("alias.test");
  assert.equal(asked("alias.test"), 2, "the CNAME's 20 s TTL bounds the answer");
});

test("RFC 2308: NXDOMAIN and NODATA are cached for min(SOA TTL, MINIMUM); without an SOA not at all", async (t) => {
  const { clock, r, asked } = await setup(t);
  for (let i = 0; i < 3; i++) assert.equal(code(await r.txt("_dmarc.nx.test").catch((e: unknown) => e)), "ENOTFOUND");
  assert.equal(asked("_dmarc.nx.test"), 1);
  clock.advance(30_000);
  assert.equal(code(await r.txt("_dmarc.nx.test").catch((e: unknown) => e)), "ENOTFOUND");
  assert.equal(asked("_dmarc.nx.test"), 2, "MINIMUM 30 s is below the SOA's TTL");

  assert.equal(code(await r.txt("nodata.test").catch((e: unknown) => e)), "ENODATA");
  clock.advance(9_000);
  assert.equal(code(await r.txt("nodata.test").catch((e: unknown) => e)), "ENODATA");
  assert.equal(asked("nodata.test"), 1);
  clock.advance(1_000);
  await r.txt("nodata.test").catch(() => undefined);
  assert.equal(asked("nodata.test"), 2, "the SOA's own 10 s TTL is below MINIMUM");

  await r.txt("nosoa.test").catch(() => undefined);
  await r.txt("nosoa.test").catch(() => undefined);
  assert.equal(asked("nosoa.test"), 2);
});

test("failures are not cached", async (t) => {
  const { r, asked } = await setup(t);
  assert.equal(code(await r.txt("broken.test").catch((e: unknown) => e)), "ESERVFAIL");
  assert.equal(code(await r.txt("broken.test").catch((e: unknown) => e)), "ESERVFAIL");
  assert.equal(asked("broken.test"), 2);
});

test("concurrent identical questions share one query", async (t) => {
  const { r, asked } = await setup(t);
  const all = await Promise.all(Array.from({ length: 10 }, () => r.mx("mx.test")));
  assert.equal(asked("mx.test"), 1);
  for (const mx of all) assert.deepEqual(mx.map((m) => [m.priority, m.exchange]), [[20, "b.mx.test"], [10, "a.mx.test"]]);
});

test("callers get copies: sorting one answer does not change the next", async (t) => {
  const { r } = await setup(t);
  const first = await r.mx("mx.test");
  first.sort((x, y) => x.priority - y.priority);
  first[0].exchange = "changed";
  const second = await r.mx("mx.test");
  assert.deepEqual(second.map((m) => m.exchange), ["b.mx.test", "a.mx.test"]);
});

test("cache: false asks every time", async (t) => {
  const srv = await startFaultServer(zone);
  t.after(() => srv.close());
  const r = createResolver({ servers: [srv.address], timeoutMs: 300, tries: 1, cache: false });
  await r.txt("spf.test");
  await r.txt("spf.test");
  assert.equal(srv.log.filter((q) => q.name === "spf.test").length, 2);
});

test("DnsCache is bounded: the least recently used entry goes first", () => {
  const clock = new ManualClock();
  const c = new DnsCache({ clock, maxEntries: 2 });
  c.set("a", { kind: "records", value: [1] }, 60);
  c.set("b", { kind: "records", value: [2] }, 60);
  assert.ok(c.get("a"), "a is now the most recently used");
  c.set("c", { kind: "records", value: [3] }, 60);
  assert.equal(c.get("b"), undefined);
  assert.ok(c.get("a") && c.get("c"));
  assert.equal(c.stats().size, 2);
});

test("DnsCache caps TTLs", () => {
  const clock = new ManualClock();
  const c = new DnsCache({ clock, maxTtlS: 100, maxNegativeTtlS: 10 });
  c.set("pos", { kind: "records", value: [] }, 86_400);
  c.set("neg", { kind: "negative", code: "ENOTFOUND" }, 86_400);
  clock.advance(10_000);
  assert.equal(c.get("neg"), undefined);
  assert.ok(c.get("pos"));
  clock.advance(90_000);
  assert.equal(c.get("pos"), undefined);
});

test("toEntry: NOERROR with only a CNAME to elsewhere is NODATA", () => {
  const r = toEntry("a.test", "TXT", "NOERROR", [{ type: "CNAME", name: "a.test", ttl: 60, data: "b.test" }], []);
  assert.deepEqual(r.entry, { kind: "negative", code: "ENODATA" });
  assert.equal(r.ttlS, 0);
});
