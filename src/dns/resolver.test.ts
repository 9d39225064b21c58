// The Resolver against the fault-injection server on loopback: result shapes, the error codes
// that decide none vs temperror, TCP fallback on truncation, timeouts and retries, and lookup.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import dgram from "node:dgram";
import { createResolver, isNoRecord, isTemporary, isNxDomain, parseResolvConf, reverseName } from "./resolver.ts";
import { startFaultServer } from "../../test/support/dns-fault.ts";
import { connectViaResolver } from "../../test/support/dns-connect.ts";
import type { FaultHandler } from "../../test/support/dns-fault.ts";

const zone: FaultHandler = (q) => {
  const name = q.name.toLowerCase();
  if (name === "nx.test") return { kind: "rcode", rcode: "NXDOMAIN" };
  if (name === "broken.test") return { kind: "rcode", rcode: "SERVFAIL" };
  if (name === "refused.test") return { kind: "rcode", rcode: "REFUSED" };
  if (name === "silent.test") return { kind: "drop" };
  if (name === "big.test" && q.type === "TXT") {
    // Larger than a 512-byte UDP answer: served over TCP only.
    return { kind: "answer", truncateUdp: true, answers: [{ type: "TXT", name: q.name, ttl: 60, data: ["x".repeat(255), "y".repeat(255), "z".repeat(100)] }] };
  }
  if (name === "host.test" && q.type === "A") return { kind: "answer", answers: [{ type: "A", name: q.name, ttl: 60, data: "127.0.0.1" }] };
  if (name === "host.test" && q.type === "AAAA") return { kind: "answer", answers: [{ type: "AAAA", name: q.name, ttl: 60, data: "::1" }] };
  if (name === "host.test" && q.type === "MX") return { kind: "answer", answers: [{ type: "MX", name: q.name, ttl: 60, data: { preference: 10, exchange: "mx.host.test" } }] };
  if (name === "host.test" && q.type === "TXT") return { kind: "answer", answers: [{ type: "TXT", name: q.name, ttl: 60, data: ["v=spf1 ", "-all"] }] };
  if (name === "1.0.0.127.in-addr.arpa" && q.type === "PTR") return { kind: "answer", answers: [{ type: "PTR", name: q.name, ttl: 60, data: "host.test" }] };
  if (name === "v4only.test" && q.type === "A") return { kind: "answer", answers: [{ type: "A", name: q.name, ttl: 60, data: "127.0.0.2" }] };
  return { kind: "rcode", rcode: "NOERROR" }; // NODATA
};

test("resolve returns dns.promises shapes for A, AAAA, MX, TXT and PTR", async (t) => {
  const srv = await startFaultServer(zone);
  t.after(() => srv.close());
  const r = createResolver({ servers: [srv.address], timeoutMs: 500, tries: 1 });
  assert.deepEqual(r.servers, [srv.address]);
  assert.deepEqual(await r.resolve("host.test", "A"), ["127.0.0.1"]);
  assert.deepEqual(await r.aaaa("host.test"), ["::1"]);
  const mx = await r.mx("host.test");
  assert.deepEqual(
    mx.map((m) => [m.priority, m.exchange]),
    [[10, "mx.host.test"]],
  );
  assert.deepEqual(await r.resolve("host.test", "TXT"), [["v=spf1 ", "-all"]]);
  assert.deepEqual(await r.ptr("127.0.0.1"), ["host.test"]);
});

test("NXDOMAIN is ENOTFOUND, NODATA is ENODATA; both mean no record, neither is temporary", async (t) => {
  const srv = await startFaultServer(zone);
  t.after(() => srv.close());
  const r = createResolver({ servers: [srv.address], timeoutMs: 500, tries: 1 });
  const nx = await r.resolve("nx.test", "TXT").catch((e: unknown) => e);
  assert.equal((nx as { code: string }).code, "ENOTFOUND");
  assert.ok(isNxDomain(nx) && isNoRecord(nx) && !isTemporary(nx));
  const nodata = await r.resolve("host.test", "CNAME").catch((e: unknown) => e);
  assert.equal((nodata as { code: string }).code, "ENODATA");
  assert.ok(!isNxDomain(nodata) && isNoRecord(nodata) && !isTemporary(nodata));
});

test("SERVFAIL, REFUSED and no answer are temporary failures", async (t) => {
  const srv = await startFaultServer(zone);
  t.after(() => srv.close());
  const r = createResolver({ servers: [srv.address], timeoutMs: 200, tries: 2 });
  const sf = await r.resolve("broken.test", "TXT").catch((e: unknown) => e);
  assert.equal((sf as { code: string }).code, "ESERVFAIL");
  assert.ok(isTemporary(sf));
  const rf = await r.resolve("refused.test", "TXT").catch((e: unknown) => e);
  assert.equal((rf as { code: string }).code, "EREFUSED");
  assert.ok(isTemporary(rf));
  const started = Date.now();
  const to = await r.resolve("silent.test", "TXT").catch((e: unknown) => e);
  const elapsed = Date.now() - started;
  assert.equal((to as { code: string }).code, "ETIMEOUT");
  assert.ok(isTemporary(to));
  // tries: 2 means the question was sent twice, each attempt capped at timeoutMs.
  assert.equal(srv.log.filter((q) => q.name === "silent.test").length, 2);
  assert.ok(elapsed < 2000, `timeout took ${elapsed} ms`);
});

test("a truncated UDP answer is retried over TCP", async (t) => {
  const srv = await startFaultServer(zone);
  t.after(() => srv.close());
  const r = createResolver({ servers: [srv.address], timeoutMs: 500, tries: 1 });
  const txt = await r.txt("big.test");
  assert.equal(txt[0].join("").length, 610);
  const transports = srv.log.filter((q) => q.name === "big.test").map((q) => q.transport);
  assert.deepEqual(transports, ["udp", "tcp"]);
});

// Issue 17: a server that cannot be reached at all (no route, no IPv6, nothing listening)
// counts as that server failing, exactly like a timeout: the next one is asked, and when none
// answers the lookup fails with a temporary code. Before the fix the connect callback's error
// was ignored and send() threw outside any handler, killing the process.
test("an unreachable server is skipped like a timeout, and alone it is a temporary failure", async (t) => {
  const srv = await startFaultServer(zone);
  t.after(() => srv.close());
  // fe80::1 without a zone id: connect(2) fails at once with EINVAL, no packet leaves the host,
  // which is the callback error path (ENETUNREACH in a namespace without routes, see
  // test/durability/network-faults.test.ts).
  const r = createResolver({ servers: ["[fe80::1]:53", srv.address], timeoutMs: 500, tries: 1, cache: false });
  assert.deepEqual(await r.a("host.test"), ["127.0.0.1"]);
  const alone = createResolver({ servers: ["[fe80::1]:53"], timeoutMs: 500, tries: 2, cache: false });
  const err = await alone.a("host.test").catch((e: unknown) => e);
  assert.equal((err as { code: string }).code, "EINVAL");
  assert.ok(isTemporary(err) && !isNoRecord(err));
  const lk = await new Promise<NodeJS.ErrnoException | null>((res) => alone.lookup("host.test", {}, (e) => res(e)));
  assert.ok(lk && isTemporary(lk), `lookup error ${lk?.code}`);
});

test("a refusing server (ICMP port unreachable) is skipped like a timeout", async (t) => {
  const srv = await startFaultServer(zone);
  t.after(() => srv.close());
  // A UDP port nobody listens on: the kernel answers with ICMP port unreachable, which the
  // connected socket reports as ECONNREFUSED.
  const dead = dgramFreePort();
  const r = createResolver({ servers: [`127.0.0.1:${await dead}`, srv.address], timeoutMs: 10_000, tries: 1, cache: false });
  const started = Date.now();
  assert.deepEqual(await r.a("host.test"), ["127.0.0.1"]);
  assert.ok(Date.now() - started < 9000, "the refusal must not wait for the 10 s timeout");
  const alone = createResolver({ servers: [`127.0.0.1:${await dead}`], timeoutMs: 2000, tries: 1, cache: false });
  const err = await alone.a("host.test").catch((e: unknown) => e);
  assert.equal((err as { code: string }).code, "ECONNREFUSED");
  assert.ok(isTemporary(err));
});

test("a truncated answer whose TCP retry is reset moves on to the next server", async (t) => {
  const bad = await startFaultServer(() => ({ kind: "truncate-then-reset" }));
  const good = await startFaultServer(zone);
  t.after(() => Promise.all([bad.close(), good.close()]));
  const r = createResolver({ servers: [bad.address, good.address], timeoutMs: 1000, tries: 1, cache: false });
  assert.deepEqual(await r.a("host.test"), ["127.0.0.1"]);
  assert.deepEqual(
    bad.log.map((q) => q.transport),
    ["udp", "tcp"],
  );
  const alone = createResolver({ servers: [bad.address], timeoutMs: 1000, tries: 1, cache: false });
  const err = await alone.a("host.test").catch((e: unknown) => e);
  assert.equal((err as { code: string }).code, "ECONNRESET");
  assert.ok(isTemporary(err));
});

test("lookup serves net.connect without the system resolver", async (t) => {
  const srv = await startFaultServer(zone);
  t.after(() => srv.close());
  const r = createResolver({ servers: [srv.address], timeoutMs: 500, tries: 1 });
  const listener = net.createServer((s) => s.end("hello"));
  await new Promise<void>((res) => listener.listen(0, "127.0.0.1", () => res()));
  t.after(() => listener.close());
  const port = (listener.address() as net.AddressInfo).port;
  assert.equal(await connectViaResolver(srv.address, "host.test", port), "hello");
  // with autoSelectFamily (Node's default) lookup is called with all: true
  const all = await new Promise<unknown>((res, rej) => r.lookup("host.test", { all: true }, (e, a) => (e ? rej(e) : res(a))));
  assert.deepEqual(all, [
    { address: "127.0.0.1", family: 4 },
    { address: "::1", family: 6 },
  ]);
  const v4only = await new Promise<unknown>((res, rej) => r.lookup("v4only.test", { all: true }, (e, a) => (e ? rej(e) : res(a))));
  assert.deepEqual(v4only, [{ address: "127.0.0.2", family: 4 }]);
  const nx = await new Promise<NodeJS.ErrnoException | null>((res) => r.lookup("nx.test", {}, (e) => res(e)));
  assert.equal(nx?.code, "ENOTFOUND");
  const tmp = await new Promise<NodeJS.ErrnoException | null>((res) => r.lookup("broken.test", {}, (e) => res(e)));
  assert.equal(tmp?.code, "ESERVFAIL");
  const literal = await new Promise<unknown>((res) => r.lookup("127.0.0.9", {}, (_e, a, f) => res([a, f])));
  assert.deepEqual(literal, ["127.0.0.9", 4]);
  const before = srv.log.length;
  const local = await new Promise<unknown>((res) => r.lookup("localhost", { family: 4 }, (_e, a) => res(a)));
  assert.equal(local, "127.0.0.1");
  assert.equal(srv.log.length, before, "localhost must not be sent to the DNS server");
});

test("reverseName builds in-addr.arpa and ip6.arpa names", () => {
  assert.equal(reverseName("192.0.2.1"), "1.2.0.192.in-addr.arpa");
  assert.equal(reverseName("2001:db8::1"), `1.${"0.".repeat(23)}8.b.d.0.1.0.0.2.ip6.arpa`);
  assert.equal(reverseName("::ffff:192.0.2.1"), `1.0.2.0.0.0.0.c.f.f.f.f.${"0.".repeat(20)}ip6.arpa`);
  assert.throws(() => reverseName("nope"));
});

test("parseResolvConf reads nameserver lines", () => {
  assert.deepEqual(parseResolvConf("# c\nsearch x\nnameserver 10.0.0.1\nnameserver fe80::1%eth0\n"), ["10.0.0.1", "fe80::1"]);
});

test("createResolver rejects nonsense settings", () => {
  assert.throws(() => createResolver({ timeoutMs: 0 }), RangeError);
  assert.throws(() => createResolver({ tries: 0 }), RangeError);
});


/** A UDP port on 127.0.0.1 that was free a moment ago (nothing listens on it afterwards). */
async function dgramFreePort(): Promise<number> {
  const s = dgram.createSocket("udp4");
  await new Promise<void>((res) => s.bind(0, "127.0.0.1", () => res()));
  const port = s.address().port;
  await new Promise<void>((res) => s.close(() => res()));
  return port;
}
