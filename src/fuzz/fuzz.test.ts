// CI run of every registered fuzzer (issue 13 §4): a fixed numRuns and seed per fuzzer; on a
// failure the seed and counterexample are in the message. Seed corpora come from ../shared/vectors;
// missing corpora are skipped loudly, and fail under CI=true.
import { test } from "node:test";
import assert from "node:assert/strict";
import { FUZZERS, runFuzzer, vectorsDir } from "./registry.ts";

const CI_SEED = 1307;

for (const f of FUZZERS) {
  test(`fuzz: ${f.name}`, { timeout: 120_000 }, async (t) => {
    const out = await runFuzzer(f, f.ciRuns, CI_SEED);
    if (out.seedsMissing) {
      const msg = `seed corpus missing under ${vectorsDir()}: fuzzing ${f.name} without seeds`;
      if (process.env.CI === "true") assert.fail(msg);
      t.diagnostic(`SKIPPED SEEDS: ${msg}`);
    }
    assert.ok(out.tried > 0, `${f.name}: zero inputs ran`);
    assert.ok(!out.failed, `${f.name} failed (seed ${out.seed}): counterexample ${out.counterexample}\n${out.error}`);
  });
}
