import { test } from "node:test";
import assert from "node:assert/strict";
import { createMemoryResolve } from "../dns/memory-resolver.ts";
import type { MemoryEntry } from "../dns/memory-resolver.ts";
import { checkSpf } from "./spf-check.ts";

const want = "v=spf1 ip4:192.0.2.10 -all";

test("SPF: correct, two records, 11 lookups, void overflow", async () => {
  const zone: Record<string, MemoryEntry> = {
    "ok.test": { TXT: [want] },
    "two.test": { TXT: [want, "v=spf1 -all"] },
    "many.test": { TXT: [`v=spf1 ${Array.from({ length: 11 }, (_, i) => `include:i${i}.test`).join(" ")} -all`] },
    "void.test": { TXT: ["v=spf1 include:n1.test include:n2.test include:n3.test -all"] },
  };
  for (let i = 0; i < 11; i++) zone[`i${i}.test`] = { TXT: ["v=spf1 ip4:192.0.2.1 -all"] };
  const r = createMemoryResolve(zone);
  assert.deepEqual((await checkSpf(r, "ok.test", want)).map((c) => c.status), ["ok", "ok"]);
  const two = await checkSpf(r, "two.test", want);
  assert.equal(two[0].status, "fail");
  assert.equal(two[0].fix, `keep only two.test. TXT "${want}"`);
  const many = await checkSpf(r, "many.test", want);
  assert.deepEqual([many[1].id, many[1].status, many[1].message], ["spf.lookups", "fail", "SPF needs 11 DNS lookups, more than 10 (RFC 7208 §4.6.4)"]);
  const v = await checkSpf(r, "void.test", want);
  assert.deepEqual(v.find((c) => c.id === "spf.void")?.status, "fail");
  assert.equal((await checkSpf(r, "none.test", want))[0].fix, `add none.test. TXT "${want}"`);
});

// Found by the SPF fuzzer (src/fuzz/dns-records.ts): includes that fan out and loop (each record
// naming the others several times) made the lookup counter walk 12^12 branches — the check hung
// and grew memory. It stops counting past the limit now.
test("SPF: fan-out include loops stop at the lookup limit", async () => {
  const names = ["a.test", "b.test", "c.test"];
  const rec = `v=spf1 ${Array.from({ length: 12 }, (_, i) => `include:${names[i % 3]}`).join(" ")} -all`;
  const zone: Record<string, MemoryEntry> = Object.fromEntries(names.map((n) => [n, { TXT: [rec] }]));
  const r = createMemoryResolve(zone);
  const t0 = Date.now();
  const out = await checkSpf(r, "a.test", want);
  assert.ok(Date.now() - t0 < 10_000);
  assert.ok(r.queries.length < 50, `${r.queries.length} queries`);
  assert.deepEqual([out[1].id, out[1].status, out[1].message], ["spf.lookups", "fail", "SPF needs more than 10 DNS lookups (RFC 7208 §4.6.4); counting stopped at 11"]);
});
