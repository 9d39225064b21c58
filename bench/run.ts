// `npm run bench [case...]`: runs benchmark cases (bench/cases/*.ts), prints each case's table
// and writes the results as JSON under bench/results/ (git-ignored). Cases never run as tests.
// Loopback only: the test guard is loaded here too, so a case that strays fails.
import "../test/support/guard.ts";
import fs from "node:fs/promises";
import path from "node:path";
import os from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";
import { envInt, median, type BenchCase, type CaseResult } from "./support/case.ts";
import { renderTable } from "./support/table.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

async function loadCases(): Promise<BenchCase[]> {
  const dir = path.join(root, "bench", "cases");
  const files = (await fs.readdir(dir)).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts")).sort();
  const cases: BenchCase[] = [];
  for (const f of files) {
    const mod = (await import(pathToFileURL(path.join(dir, f)).href)) as { benchCase?: BenchCase };
    if (!mod.benchCase) throw new Error(`bench/cases/${f} exports no benchCase`);
    cases.push(mod.benchCase);
  }
  return cases;
}

function usage(cases: BenchCase[]): string {
  return [
    "usage: npm run bench [case...]   (no case: all)",
    "cases:",
    ...cases.map((c) => `  ${c.name.padEnd(10)} ${c.description}`),
    "environment: see docs/benchmarks.md (BENCH_MESSAGES, BENCH_CONNECTIONS, BENCH_STRACE ...)",
  ].join("\n");
}

async function main(): Promise<number> {
  const cases = await loadCases();
  const args = process.argv.slice(2);
  if (args.includes("-h") || args.includes("--help")) {
    console.log(usage(cases));
    return 0;
  }
  const unknown = args.filter((a) => !cases.some((c) => c.name === a));
  if (unknown.length) {
    console.error(`unknown case(s): ${unknown.join(", ")}\n${usage(cases)}`);
    return 2;
  }
  const repeatEnv = process.env.BENCH_REPEAT ? envInt(process.env, "BENCH_REPEAT", 1) || 1 : null;
  const selected = args.length ? cases.filter((c) => args.includes(c.name)) : cases;
  const resultsDir = path.join(root, "bench", "results");
  await fs.mkdir(resultsDir, { recursive: true });
  let failed = 0;
  for (const c of selected) {
    const tmpDir = await fs.mkdtemp(path.join(os.tmpdir(), `freehold-bench-${c.name}-`));
    await fs.chmod(tmpDir, 0o755); // daemons that drop privileges must reach their dirs
    const started = new Date();
    const repeat = repeatEnv ?? c.repeat ?? 1;
    const log = (msg: string) => process.stderr.write(`[${c.name} ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
    try {
      log(`start: ${c.description}`);
      const runs: CaseResult[] = [];
      for (let i = 0; i < repeat; i++) {
        if (repeat > 1) log(`run ${i + 1} of ${repeat}`);
        const runDir = path.join(tmpDir, `run${i + 1}`);
        await fs.mkdir(runDir, { mode: 0o755 });
        runs.push(await c.run({ tmpDir: runDir, root, log, env: process.env }));
        await fs.rm(runDir, { recursive: true, force: true });
      }
      const result = medianOf(runs);
      console.log(`\n${renderTable(c.name, result)}\n`);
      const file = path.join(resultsDir, `${c.name}-${started.toISOString().replace(/[:.]/g, "-")}.json`);
      const record = {
        case: c.name,
        startedAt: started.toISOString(),
        finishedAt: new Date().toISOString(),
        host: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memBytes: os.totalmem(), kernel: os.release() },
        node: process.version,
        repeat,
        ...result,
        runs: repeat > 1 ? runs : undefined,
      };
      await fs.writeFile(file, JSON.stringify(record, null, 2) + "\n");
      log(`results: ${path.relative(root, file)}`);
    } catch (err) {
      failed++;
      log(`FAILED: ${(err as Error).stack ?? err}`);
    } finally {
      await fs.rm(tmpDir, { recursive: true, force: true });
    }
  }
  return failed ? 1 : 0;
}

/** Several runs of one case folded into one table: each figure is the median over the runs
 * (BENCH_REPEAT=3), since this machine varies by tens of percent between runs. */
function medianOf(runs: CaseResult[]): CaseResult {
  if (runs.length === 1) return runs[0];
  const last = runs[runs.length - 1];
  const med = (xs: Array<number | null>) => {
    const v = xs.filter((x): x is number => x !== null);
    return v.length ? median(v) : null;
  };
  const range = (xs: Array<number | null>): [number, number] | null => {
    const v = xs.filter((x): x is number => x !== null);
    return v.length > 1 ? [Math.min(...v), Math.max(...v)] : null;
  };
  return {
    ...last,
    sections: last.sections.map((section, si) => ({
      ...section,
      rows: section.rows.map((row, ri) => ({
        ...row,
        freehold: med(runs.map((r) => r.sections[si]?.rows[ri]?.freehold ?? null)),
        reference: med(runs.map((r) => r.sections[si]?.rows[ri]?.reference ?? null)),
        freeholdRange: range(runs.map((r) => r.sections[si]?.rows[ri]?.freehold ?? null)),
        referenceRange: range(runs.map((r) => r.sections[si]?.rows[ri]?.reference ?? null)),
      })),
    })),
    notes: [`figures are medians of ${runs.length} runs; notes are from the last run`, ...last.notes],
  };
}

process.exitCode = await main();
