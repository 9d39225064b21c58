// `npm run fuzz -- --minutes N`: runs every fuzzer in src/fuzz/registry.ts round-robin for N
// minutes (default 1) with random seeds, then prints per fuzzer the inputs tried and failures.
// Exits 1 on any failure, printing the counterexample and seed (replay with that seed).
import { FUZZERS, runFuzzer } from "../src/fuzz/registry.ts";

const i = process.argv.indexOf("--minutes");
const minutes = i >= 0 ? Number(process.argv[i + 1]) : 1;
if (!(minutes > 0)) {
  console.error("usage: npm run fuzz -- --minutes N");
  process.exit(2);
}
const until = Date.now() + minutes * 60_000;
const stats = new Map(FUZZERS.map((f) => [f.name, { tried: 0, failures: 0 }]));
const failures: string[] = [];
while (Date.now() < until) {
  for (const f of FUZZERS) {
    const seed = (Math.random() * 2 ** 31) | 0;
    const out = await runFuzzer(f, f.ciRuns, seed);
    const s = stats.get(f.name)!;
    s.tried += out.tried;
    if (out.failed) {
      s.failures++;
      failures.push(`${f.name}: seed ${seed}\n  counterexample: ${out.counterexample}\n  ${out.error}`);
    }
    if (Date.now() >= until) break;
  }
}
const w = Math.max(...FUZZERS.map((f) => f.name.length), 6);
console.log(`${"fuzzer".padEnd(w)}  ${"inputs".padStart(10)}  failures`);
for (const [name, s] of stats) console.log(`${name.padEnd(w)}  ${String(s.tried).padStart(10)}  ${s.failures}`);
for (const f of failures) console.error(f);
process.exit(failures.length > 0 ? 1 : 0);
