// Fuzzing rows for the soak table (issue 13 §4): one row per registered fuzzer, short = the CI
// run count with a fixed seed, long = 20x that with a random seed.
import type { SoakCase } from "../support/case.ts";
import { row } from "../support/case.ts";
import { FUZZERS, runFuzzer } from "../../src/fuzz/registry.ts";

export const soakCases: SoakCase[] = FUZZERS.map((f) => ({
  area: "fuzz",
  name: f.name,
  async run(ctx) {
    const seed = ctx.mode === "short" ? 1307 : (Math.random() * 2 ** 31) | 0;
    const out = await runFuzzer(f, ctx.mode === "short" ? f.ciRuns : f.ciRuns * 20, seed);
    const detail = out.failed ? `seed ${seed}: ${out.counterexample}` : out.seedsMissing ? "seed corpus missing" : `seed ${seed}`;
    return [row("fuzz", `fuzz: ${f.name}`, out.tried, `failures ${out.failed ? 1 : 0}`, !out.failed, detail)];
  },
}));
