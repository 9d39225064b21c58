// `npm run soak [--short] [area...]`: runs the hardening battery (soak/cases/*.ts) and prints one
// table with every case: what was tried, how many, the figure and pass/fail (issue 13). The long
// mode is the default here; CI runs each area's short mode from test/hardening/*.test.ts.
// Loopback only: the test guard is loaded here too.
import "../test/support/guard.ts";
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { SoakCase } from "./support/case.ts";
import { runSoakCases } from "./support/runner.ts";
import { renderSoakTable } from "./support/table.ts";

const here = path.dirname(fileURLToPath(import.meta.url));

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const mode = args.includes("--short") ? "short" : "long";
  const areas = args.filter((a) => !a.startsWith("--"));
  const files = (await fs.readdir(path.join(here, "cases"))).filter((f) => f.endsWith(".ts")).sort();
  const cases: SoakCase[] = [];
  for (const f of files) {
    const mod = (await import(pathToFileURL(path.join(here, "cases", f)).href)) as { soakCases?: SoakCase[] };
    if (!mod.soakCases) throw new Error(`soak/cases/${f} exports no soakCases`);
    cases.push(...mod.soakCases.filter((c) => areas.length === 0 || areas.includes(c.area)));
  }
  if (cases.length === 0) {
    console.error(`no soak cases${areas.length ? ` for ${areas.join(", ")}` : ""}`);
    return 2;
  }
  const rows = await runSoakCases(cases, mode);
  console.log(`\n${renderSoakTable(rows, `soak (${mode})`)}\n`);
  return rows.every((r) => r.pass) ? 0 : 1;
}

process.exitCode = await main();
