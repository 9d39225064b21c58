// DNS record and resolver fuzzers (issue 13 §4): our entry points that read DNS answers, fed random
// and mutated records (seeds: the SPF records of the RFC 7208 suite and the DKIM key records in
// ../shared/vectors), and the Resolver's wire path fed byte-mutated answers from a UDP server on
// loopback. Most record parsing is mailauth's; these fuzz what flows through our code around it.
// Property for each: the function returns a result of its documented type (or throws only its
// documented error), within the per-input deadline; never an unexpected exception or a hang.
import fc from "fast-check";
import dgram from "node:dgram";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import dnsPacket from "dns-packet";
import { checkSpf } from "../health/spf-check.ts";
import { createMemoryResolve } from "../dns/memory-resolver.ts";
import type { MemoryEntry } from "../dns/memory-resolver.ts";
import { createResolver, isNoRecord, isTemporary } from "../dns/resolver.ts";
import type { RRType, Resolver } from "../dns/resolver.ts";
import { verifyMessage } from "../emailauth/verify.ts";
import { samplePolicy } from "../emailauth/dmarc-policy.ts";
import { MtaStsPolicies } from "../delivery/mta-sts.ts";
import { silentLogger } from "../log/logger.ts";
import { FUZZ_HOST, mutated, timedAsync, vectorsDir } from "./support.ts";
import type { Fixture, Fuzzer } from "./support.ts";

/** SPF and TXT records of the RFC 7208 suite (spf/rfc7208-tests.yml zonedata), or null without the corpus. */
function spfSeeds(): string[] | null {
  const f = join(vectorsDir(), "spf", "rfc7208-tests.yml");
  if (!existsSync(f)) return null;
  const out = new Set<string>();
  for (const m of readFileSync(f, "latin1").matchAll(/^\s*- (?:SPF|TXT):\s+(.*)$/gm)) {
    let v = m[1]!.trim();
    if (/^".*"$/.test(v)) v = v.slice(1, -1).replace(/\\x([0-9a-f]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16)));
    else if (/^'.*'$/.test(v)) v = v.slice(1, -1);
    out.add(v);
  }
  return [...out];
}

/** DKIM key records (dkim/cases.json "dns" values), or null without the corpus. */
function dkimSeeds(): string[] | null {
  const f = join(vectorsDir(), "dkim", "cases.json");
  if (!existsSync(f)) return null;
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === "string") {
      if (/^v=DKIM1|^k=|p=/.test(v)) out.push(v);
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") Object.values(v).forEach(walk);
  };
  walk(JSON.parse(readFileSync(f, "utf8")));
  return out;
}

const SPF_TOKENS = ["v=spf1", " ", "include:", "redirect=", "a", "mx", "ptr", "exists:", "ip4:", "ip6:", "-all", "~all", "+all", "?all", "exp=",
  "fz.test", "a.fz.test", "b.fz.test", "c.fz.test", "%{i}", "%{d}", "%{l}", "/24", "//64", "127.0.0.1", "::1", ":", "=", "\t", "é", "\x00", "x"];
const spfSoup = fc.array(fc.constantFrom(...SPF_TOKENS), { maxLength: 30 }).map((t) => t.join(""));
const NAMES = ["fz.test", "a.fz.test", "b.fz.test", "c.fz.test"];
const failure = fc.constantFrom<MemoryEntry>("SERVFAIL", "TIMEOUT", "REFUSED");

function spfRecord(seeds: string[]): fc.Arbitrary<string> {
  const base = seeds.length ? fc.oneof(spfSoup, fc.constantFrom(...seeds)) : spfSoup;
  // Records that include each other (loops, fan-out) matter most for the lookup counter.
  const fanOut = fc.array(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 12 }).map((ns) => `v=spf1 ${ns.map((n) => `include:${n}`).join(" ")} -all`);
  return fc.oneof(base, fanOut, mutated(base, SPF_TOKENS));
}

function zoneArb(txt: fc.Arbitrary<string>): fc.Arbitrary<Record<string, MemoryEntry>> {
  const entry: fc.Arbitrary<MemoryEntry> = fc.oneof(
    { weight: 5, arbitrary: fc.record({ TXT: fc.array(fc.oneof(txt, fc.array(txt, { maxLength: 3 })), { maxLength: 3 }), A: fc.constantFrom(["127.0.0.1"], [] as string[]) }) },
    { weight: 1, arbitrary: failure },
  );
  return fc.tuple(...NAMES.map(() => fc.option(entry, { nil: undefined }))).map((es) => {
    const z: Record<string, MemoryEntry> = {};
    es.forEach((e, i) => {
      if (e !== undefined) z[NAMES[i]] = e;
    });
    return z;
  });
}

const CHECK_STATUS = new Set(["ok", "warn", "fail", "unknown"]);

const spfCheck: Fuzzer = {
  name: "SPF record check (ours)",
  ciRuns: 300,
  seeds: spfSeeds,
  property: (seeds) =>
    fc.asyncProperty(zoneArb(spfRecord(seeds)), fc.constantFrom("v=spf1 mx -all", "v=spf1 include:a.fz.test -all"), async (zone, expected) => {
      // Each answer after a macrotask turn, so the deadline timer can fire if the walk runs away.
      const mem = createMemoryResolve(zone);
      const resolve = (async (n: string, t: RRType) => {
        await new Promise((r) => setImmediate(r));
        return mem(n, t);
      }) as typeof mem;
      const out = await timedAsync("checkSpf", zone, checkSpf(resolve, "fz.test", expected));
      if (!Array.isArray(out) || out.length === 0) throw new Error(`checkSpf returned ${JSON.stringify(out)}`);
      for (const r of out) if (typeof r.id !== "string" || !CHECK_STATUS.has(r.status) || typeof r.message !== "string") throw new Error(`bad CheckResult ${JSON.stringify(r)}`);
    }),
};

const DMARC_TOKENS = ["v=DMARC1", "; ", ";", "p=", "sp=", "np=", "none", "quarantine", "reject", "pct=", "50", "0", "101", "t=y", "t=n", "adkim=s", "aspf=r",
  "rua=mailto:r@fz.test", "fo=1", " ", "\t", "=", "é", "\x00", "x"];
const dmarcRecord = fc.oneof(
  fc.array(fc.constantFrom(...DMARC_TOKENS), { maxLength: 20 }).map((t) => t.join("")),
  mutated(fc.constantFrom("v=DMARC1; p=reject", "v=DMARC1; p=quarantine; pct=50; sp=none", "v=DMARC1; p=none; t=y"), DMARC_TOKENS),
);

const dmarcSample: Fuzzer = {
  name: "DMARC policy sampling (ours)",
  ciRuns: 500,
  property: () =>
    fc.property(fc.constantFrom("none", "quarantine", "reject" as const), dmarcRecord, fc.boolean(), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (p, rec, t, rnd) => {
      const s = samplePolicy(p as "none", rec, t, () => rnd);
      if (!["none", "quarantine", "reject"].includes(s.applied) || !Number.isInteger(s.pct) || s.pct < 0 || s.pct > 100) throw new Error(`samplePolicy: ${JSON.stringify(s)}`);
      // Sampling only ever weakens the policy (RFC 7489 §6.6.4).
      const rank = { none: 0, quarantine: 1, reject: 2 } as const;
      if (rank[s.applied] > rank[p as "none"]) throw new Error(`sampling strengthened ${p} to ${s.applied}`);
    }),
};

const MESSAGE = Buffer.from(
  "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=fz.test; s=s1; h=from:subject; bh=frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=; b=QUJD\r\n" +
    "From: Someone <a@fz.test>\r\nTo: b@freehold.test\r\nSubject: fuzz\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <v@fz.test>\r\n\r\nbody\r\n",
);
const ACTIONS = new Set(["accept", "quarantine", "reject", "tempfail"]);
const SPF_RESULTS = new Set(["pass", "fail", "softfail", "neutral", "none", "permerror", "temperror"]);
const DMARC_RESULTS = new Set(["pass", "fail", "none", "temperror", "permerror"]);

const emailAuth: Fuzzer = {
  name: "email authentication verdict (ours over mailauth)",
  ciRuns: 60,
  seeds: () => {
    const a = spfSeeds();
    const b = dkimSeeds();
    return a === null || b === null ? null : [...a, ...b];
  },
  property: (seeds) => {
    const txt = fc.oneof(spfRecord(seeds.filter((s) => !/DKIM/.test(s))), dmarcRecord, seeds.length ? fc.constantFrom(...seeds) : fc.constant("v=DKIM1; p=QUJD"));
    const name = fc.constantFrom("fz.test", "_dmarc.fz.test", "s1._domainkey.fz.test", "a.fz.test", "b.fz.test");
    const zone = fc.array(fc.tuple(name, fc.oneof({ weight: 4, arbitrary: fc.record({ TXT: fc.array(txt, { maxLength: 2 }) }) as fc.Arbitrary<MemoryEntry> }, { weight: 1, arbitrary: failure })), { maxLength: 6 })
      .map((es) => Object.fromEntries(es) as Record<string, MemoryEntry>);
    return fc.asyncProperty(zone, fc.boolean(), async (z, allFail) => {
      const mem = createMemoryResolve(z);
      const resolve = (allFail ? async (n: string, t: RRType) => Promise.reject(Object.assign(new Error(`${t} ${n} SERVFAIL`), { code: "ESERVFAIL" })) : mem) as typeof mem;
      const v = await timedAsync("verifyMessage", z, verifyMessage({ message: MESSAGE, ip: "127.0.0.1", helo: "fz.test", mailFrom: "a@fz.test" }, { resolve, authservId: "mx.freehold.test", random: () => 0.5 }), 10_000);
      if (!ACTIONS.has(v.action) || !SPF_RESULTS.has(v.spf.result) || (v.dmarc !== null && !DMARC_RESULTS.has(v.dmarc.result)) || !Array.isArray(v.dkim))
        throw new Error(`verdict shape: ${JSON.stringify({ action: v.action, spf: v.spf.result, dmarc: v.dmarc?.result })}`);
      if (!/^Authentication-Results: [\s\S]*\r\n$/.test(v.authenticationResults)) throw new Error(`Authentication-Results: ${JSON.stringify(v.authenticationResults)}`);
      // With every lookup failing temporarily, nothing passes and nothing is rejected.
      if (allFail && (v.action === "reject" || v.spf.result === "pass" || v.dmarc?.result === "pass")) throw new Error(`DNS SERVFAIL gave ${v.action}, spf ${v.spf.result}, dmarc ${v.dmarc?.result}`);
    });
  },
};

const STS_TOKENS = ["v=STSv1", "; ", ";", "id=", "20260101", "x", " ", "=", "\t", "é", "\x00", "v=STSv2", "id=" + "a".repeat(40)];
const mtaSts: Fuzzer = {
  name: "MTA-STS discovery (ours over mailauth)",
  ciRuns: 100,
  property: () => {
    const rec = fc.oneof(fc.array(fc.constantFrom(...STS_TOKENS), { maxLength: 12 }).map((t) => t.join("")), mutated(fc.constant("v=STSv1; id=20260101"), STS_TOKENS));
    const entry = fc.oneof({ weight: 4, arbitrary: fc.record({ TXT: fc.array(fc.oneof(rec, fc.array(rec, { maxLength: 2 })), { maxLength: 3 }) }) as fc.Arbitrary<MemoryEntry> }, { weight: 1, arbitrary: failure });
    return fc.asyncProperty(fc.option(entry, { nil: undefined }), fc.constantFrom("mx.fz.test", "*.fz.test", "", "é"), async (e, mx) => {
      // mta-sts.fz.test has no address: a policy fetch fails at once (no connection leaves loopback).
      const zone: Record<string, MemoryEntry> = e === undefined ? {} : { "_mta-sts.fz.test": e };
      const resolve = createMemoryResolve(zone);
      const resolver = { resolve } as unknown as Resolver;
      const p = new MtaStsPolicies({ resolver, logger: silentLogger(), timeoutMs: 1000 });
      const v = await timedAsync("MtaStsPolicies.verdict", zone, p.verdict("fz.test"), 5000);
      if (!["enforce", "testing", "none"].includes(v.mode) || typeof v.allows(mx) !== "boolean") throw new Error(`verdict ${JSON.stringify(v)}`);
    });
  },
};

// The Resolver's wire path: a UDP server on loopback answers each query with a valid response
// that the run then mutates byte-wise (flips, truncation, garbage appended, the TC bit, a wrong ID).
interface WireEnv {
  resolver: Resolver;
  plan: { mutate: (b: Buffer) => Buffer; type: string };
  close(): Promise<void>;
}

const wireFixture: Fixture<WireEnv> = {
  async open() {
    const sock = dgram.createSocket("udp4");
    await new Promise<void>((r) => sock.bind(0, FUZZ_HOST, () => r()));
    const port = sock.address().port;
    const env: WireEnv = {
      resolver: createResolver({ servers: [`${FUZZ_HOST}:${port}`], timeoutMs: 100, tries: 1, cache: false }),
      plan: { mutate: (b) => b, type: "A" },
      close: () => new Promise((r) => sock.close(() => r())),
    };
    sock.on("message", (msg, rinfo) => {
      let q: dnsPacket.DecodedPacket;
      try {
        q = dnsPacket.decode(msg);
      } catch {
        return;
      }
      const qn = q.questions?.[0];
      if (!qn) return;
      const answers = answersFor(qn.name, qn.type);
      const resp = dnsPacket.encode({
        type: "response", id: q.id, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE, questions: q.questions, answers,
        authorities: [{ type: "SOA", name: "fz.test", ttl: 60, data: { mname: "ns.fz.test", rname: "h.fz.test", serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 60 } }],
      } as never);
      sock.send(env.plan.mutate(resp), rinfo.port, rinfo.address);
    });
    return env;
  },
  close: (env) => env.close(),
};

function answersFor(name: string, type: string): dnsPacket.Answer[] {
  const base = { name, ttl: 300, class: "IN" as const };
  switch (type) {
    case "A": return [{ ...base, type: "A", data: "127.0.0.1" }, { ...base, type: "CNAME", data: `c.${name}` } as never];
    case "AAAA": return [{ ...base, type: "AAAA", data: "::1" }];
    case "MX": return [{ ...base, type: "MX", data: { preference: 10, exchange: `mx.${name}` } }];
    case "TXT": return [{ ...base, type: "TXT", data: ["v=spf1 -all", "second"] }];
    case "PTR": return [{ ...base, type: "PTR", data: "host.fz.test" }];
    case "NS": return [{ ...base, type: "NS", data: "ns.fz.test" }];
    default: return [{ ...base, type: "CNAME", data: "t.fz.test" }];
  }
}

const mutation = fc.oneof(
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 6 }).map((flips) => (b: Buffer) => {
    const c = Buffer.from(b);
    // Keep the ID (octets 0-1) mostly, so the answer is taken and parsed rather than ignored.
    for (const [at, x] of flips) c[2 + (at % (c.length - 2))] ^= x;
    return c;
  }),
  fc.nat().map((n) => (b: Buffer) => b.subarray(0, 12 + (n % Math.max(1, b.length - 12)))),
  fc.uint8Array({ minLength: 1, maxLength: 40 }).map((g) => (b: Buffer) => Buffer.concat([b, g])),
  fc.constant((b: Buffer) => Buffer.from([b[0] ^ 0xff, ...b.subarray(1)])),
  fc.constant((b: Buffer) => {
    const c = Buffer.from(b);
    c[2] |= 0x02; // TC: the resolver retries over TCP, where nobody listens
    return c;
  }),
  fc.nat().map((n) => (b: Buffer) => {
    const c = Buffer.from(b);
    c[3] = (c[3] & 0xf0) | (n % 16); // any rcode
    return c;
  }),
);

const SHAPES: Record<string, (r: unknown) => boolean> = {
  A: (r) => typeof r === "string",
  AAAA: (r) => typeof r === "string",
  PTR: (r) => typeof r === "string",
  NS: (r) => typeof r === "string",
  CNAME: (r) => typeof r === "string",
  MX: (r) => typeof r === "object" && r !== null && "exchange" in r && "priority" in r,
  TXT: (r) => Array.isArray(r) && r.every((p) => typeof p === "string"),
};

let wireRun = 0;
const resolverWire: Fuzzer<WireEnv> = {
  name: "resolver wire answers (mutated dns-packet)",
  ciRuns: 80,
  fixture: wireFixture,
  property: (_seeds, env) =>
    fc.asyncProperty(mutation, fc.constantFrom("A", "AAAA", "MX", "TXT", "PTR", "NS", "CNAME"), async (mutate, type) => {
      env.plan = { mutate, type };
      // A fresh name each run, so no in-flight query is shared.
      const name = type === "PTR" ? `${++wireRun % 250}.0.0.127.in-addr.arpa` : `n${++wireRun}.fz.test`;
      try {
        const r = await timedAsync("resolver", { type }, env.resolver.resolve(name, type as "A"), 5000);
        if (!Array.isArray(r) || !r.every(SHAPES[type])) throw new Error(`resolver gave ${JSON.stringify(r)} for ${type}`);
      } catch (e) {
        if (isTemporary(e) || isNoRecord(e)) return;
        throw e;
      }
    }),
};

export const DNS_FUZZERS: Fuzzer[] = [spfCheck, dmarcSample, emailAuth, mtaSts, resolverWire];
