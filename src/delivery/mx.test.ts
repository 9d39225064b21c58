import { test } from "node:test";
import assert from "node:assert/strict";
import { mxResolverOf, resolveMxTargets } from "./mx.ts";
import type { MxOptions, MxRecord, MxResolver } from "./mx.ts";

// An in-memory zone. A name absent from every table is NXDOMAIN; a name present in any table
// but without the asked type is ENODATA; "temp" entries throw ESERVFAIL.
interface Zone {
  mx?: Record<string, MxRecord[] | "temp">;
  a?: Record<string, string[] | "temp">;
  aaaa?: Record<string, string[] | "temp">;
}

function dnsError(code: string): Error {
  return Object.assign(new Error(code), { code });
}

function memoryResolver(zone: Zone): MxResolver & { queries: string[] } {
  const queries: string[] = [];
  const exists = (n: string) => [zone.mx, zone.a, zone.aaaa].some((t) => t && n in t);
  function make<T>(type: string, table: Record<string, T[] | "temp"> | undefined) {
    return async (name: string): Promise<T[]> => {
      queries.push(`${type} ${name}`);
      const v = table?.[name];
      if (v === "temp") throw dnsError("ESERVFAIL");
      if (v) return v;
      throw dnsError(exists(name) ? "ENODATA" : "ENOTFOUND");
    };
  }
  return { queries, resolveMx: make("MX", zone.mx), resolve4: make("A", zone.a), resolve6: make("AAAA", zone.aaaa) };
}

function seq(values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length];
}

const base: MxOptions = { ourHostnames: ["mail.us.example"], ourAddresses: ["192.0.2.1"], random: () => 0 };

test("MX hosts in preference order, every address of every host, IPv6 first by default", async () => {
  const r = memoryResolver({
    mx: { "dest.example": [{ exchange: "mx2.dest.example", priority: 20 }, { exchange: "mx1.dest.example", priority: 10 }] },
    a: { "mx1.dest.example": ["198.51.100.1", "198.51.100.2"], "mx2.dest.example": ["198.51.100.3"] },
    aaaa: { "mx1.dest.example": ["2001:db8::1"] },
  });
  const plan = await resolveMxTargets("Dest.Example", r, base);
  assert.equal(plan.ok, true);
  if (!plan.ok) return;
  assert.equal(plan.implicit, false);
  assert.deepEqual(
    plan.targets.map((t) => `${t.host} ${t.address}`),
    ["mx1.dest.example 2001:db8::1", "mx1.dest.example 198.51.100.1", "mx1.dest.example 198.51.100.2", "mx2.dest.example 198.51.100.3"],
  );
  const v4first = await resolveMxTargets("dest.example", r, { ...base, preferIPv4: true });
  assert.deepEqual(v4first.ok && v4first.targets.slice(0, 3).map((t) => t.family), [4, 4, 6]);
  const noV6 = await resolveMxTargets("dest.example", r, { ...base, useIPv6: false });
  assert.ok(noV6.ok && noV6.targets.every((t) => t.family === 4));
});

test("equal preferences are shuffled with the injected randomness, others keep their order", async () => {
  const r = memoryResolver({
    mx: {
      "d.example": [
        { exchange: "a.d.example", priority: 10 },
        { exchange: "b.d.example", priority: 10 },
        { exchange: "c.d.example", priority: 10 },
        { exchange: "z.d.example", priority: 5 },
        { exchange: "y.d.example", priority: 50 },
      ],
    },
    a: Object.fromEntries(["a", "b", "c", "z", "y"].map((h, i) => [`${h}.d.example`, [`203.0.113.${i + 1}`]])),
  });
  const seen = new Set<string>();
  for (const rs of [[0], [0.99], [0.5, 0.1], [0.1, 0.9], [0.7, 0.6]]) {
    const plan = await resolveMxTargets("d.example", r, { ...base, random: seq(rs) });
    assert.ok(plan.ok);
    if (!plan.ok) continue;
    const order = plan.targets.map((t) => t.host[0]);
    assert.equal(order[0], "z");
    assert.equal(order[4], "y");
    assert.deepEqual([...order.slice(1, 4)].sort(), ["a", "b", "c"]);
    seen.add(order.join(""));
  }
  assert.ok(seen.size >= 3, `randomness changes the order of equal preferences: ${[...seen]}`);
});

test("null MX bounces at once with 5.1.10 and no address lookup", async () => {
  for (const exchange of ["", "."]) {
    const r = memoryResolver({ mx: { "nomail.example": [{ exchange, priority: 0 }] }, a: { "nomail.example": ["198.51.100.9"] } });
    const plan = await resolveMxTargets("nomail.example", r, base);
    assert.deepEqual(plan, { ok: false, permanent: true, status: "5.1.10", message: plan.ok ? "" : plan.message });
    assert.deepEqual(r.queries, ["MX nomail.example"]);
  }
});

test("implicit MX only when the domain exists without MX", async () => {
  const r = memoryResolver({ a: { "bare.example": ["198.51.100.7"] } });
  const plan = await resolveMxTargets("bare.example", r, base);
  assert.ok(plan.ok && plan.implicit);
  assert.deepEqual(plan.ok && plan.targets, [{ host: "bare.example", preference: 0, address: "198.51.100.7", family: 4 }]);

  const gone = await resolveMxTargets("nonexistent.example", r, base);
  assert.equal(gone.ok, false);
  assert.ok(!gone.ok && gone.permanent && gone.status === "5.1.2");
  assert.deepEqual(r.queries.filter((q) => q.includes("nonexistent")), ["MX nonexistent.example"], "no A lookup after NXDOMAIN");

  // A domain with an MX never falls back to its own A record, even when the MX host has none.
  const r2 = memoryResolver({
    mx: { "d.example": [{ exchange: "mx.d.example", priority: 10 }] },
    a: { "d.example": ["198.51.100.8"] },
    aaaa: { "mx.d.example": [] },
  });
  const p2 = await resolveMxTargets("d.example", r2, base);
  assert.ok(!p2.ok && p2.permanent && p2.status === "5.4.4");
});

test("temporary DNS failures defer instead of bouncing", async () => {
  const mxTemp = await resolveMxTargets("t.example", memoryResolver({ mx: { "t.example": "temp" } }), base);
  assert.ok(!mxTemp.ok && !mxTemp.permanent && mxTemp.status === "4.4.3");

  const hostTemp = memoryResolver({ mx: { "t.example": [{ exchange: "mx.t.example", priority: 1 }] }, a: { "mx.t.example": "temp" } });
  const p = await resolveMxTargets("t.example", hostTemp, base);
  assert.ok(!p.ok && !p.permanent && p.status === "4.4.3");

  // One host failing temporarily does not stop delivery to the other.
  const mixed = memoryResolver({
    mx: { "t.example": [{ exchange: "bad.t.example", priority: 1 }, { exchange: "good.t.example", priority: 2 }] },
    a: { "bad.t.example": "temp", "good.t.example": ["198.51.100.5"] },
  });
  const pm = await resolveMxTargets("t.example", mixed, base);
  assert.ok(pm.ok);
  assert.deepEqual(pm.ok && pm.targets.map((t) => t.host), ["good.t.example"]);
  assert.ok(pm.ok && pm.hosts[0].error === "ESERVFAIL");
});

test("an MX that is ourselves: less preferred hosts dropped; none left → 5.4.6", async () => {
  const byName = memoryResolver({
    mx: { "d.example": [{ exchange: "MAIL.us.example.", priority: 10 }] },
    a: { "mail.us.example": ["192.0.2.1"] },
  });
  const p1 = await resolveMxTargets("d.example", byName, base);
  assert.ok(!p1.ok && p1.permanent && p1.status === "5.4.6");

  const byAddress = memoryResolver({
    mx: { "d.example": [{ exchange: "alias-of-us.d.example", priority: 10 }] },
    a: { "alias-of-us.d.example": ["192.0.2.1"] },
  });
  const p2 = await resolveMxTargets("d.example", byAddress, base);
  assert.ok(!p2.ok && p2.status === "5.4.6");

  // We are the backup MX: deliver to the primary only, never to ourselves or the ones after us.
  const backup = memoryResolver({
    mx: {
      "d.example": [
        { exchange: "primary.d.example", priority: 10 },
        { exchange: "mail.us.example", priority: 20 },
        { exchange: "tertiary.d.example", priority: 30 },
      ],
    },
    a: { "primary.d.example": ["198.51.100.1"], "mail.us.example": ["192.0.2.1"], "tertiary.d.example": ["198.51.100.3"] },
  });
  const p3 = await resolveMxTargets("d.example", backup, base);
  assert.deepEqual(p3.ok && p3.targets.map((t) => t.host), ["primary.d.example"]);

  const self = await resolveMxTargets("[192.0.2.1]", backup, base);
  assert.ok(!self.ok && self.status === "5.4.6");
});

test("address literals and IDN domains", async () => {
  const r = memoryResolver({
    mx: { "xn--bcher-kva.example": [{ exchange: "mx.xn--bcher-kva.example", priority: 0 }] },
    a: { "mx.xn--bcher-kva.example": ["198.51.100.4"] },
  });
  const idn = await resolveMxTargets("bücher.example", r, base);
  assert.deepEqual(idn.ok && idn.targets.map((t) => t.address), ["198.51.100.4"]);
  const lit = await resolveMxTargets("[IPv6:2001:db8::5]", r, base);
  assert.deepEqual(lit.ok && lit.targets, [{ host: "2001:db8::5", preference: 0, address: "2001:db8::5", family: 6 }]);
  const bad = await resolveMxTargets("[not-an-ip]", r, base);
  assert.ok(!bad.ok && bad.permanent);
});

test("a name that cannot exist bounces; the project Resolver's shape adapts", async () => {
  const bad: MxResolver = {
    resolveMx: async () => {
      throw dnsError("EBADNAME");
    },
    resolve4: async () => [],
    resolve6: async () => [],
  };
  const p = await resolveMxTargets("bad..example", bad, base);
  assert.ok(!p.ok && p.permanent);

  const calls: string[] = [];
  const projectShape = {
    mx: async (n: string) => (calls.push(`mx ${n}`), [{ exchange: "mx.d.example", priority: 1 }]),
    a: async (n: string) => (calls.push(`a ${n}`), ["198.51.100.1"]),
    aaaa: async (n: string) => (calls.push(`aaaa ${n}`), [] as string[]),
  };
  const plan = await resolveMxTargets("d.example", mxResolverOf(projectShape), base);
  assert.deepEqual(plan.ok && plan.targets.map((t) => t.address), ["198.51.100.1"]);
  assert.deepEqual(calls.sort(), ["a mx.d.example", "aaaa mx.d.example", "mx d.example"]);
});
