// Runs soak cases and collects their rows; shared by `npm run soak` and the per-area CI tests.
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { SoakCase, SoakMode, SoakRow } from "./case.ts";

export async function runSoakCases(cases: SoakCase[], mode: SoakMode, log = (m: string) => process.stderr.write(`${m}\n`)): Promise<SoakRow[]> {
  const rows: SoakRow[] = [];
  for (const c of cases) {
    const tmpDir = await fs.mkdtemp(path.join(os.tmpdir(), `freehold-soak-${c.area}-`));
    await fs.chmod(tmpDir, 0o755);
    const started = Date.now();
    try {
      log(`[soak ${c.area}] ${c.name} (${mode})`);
      rows.push(...(await c.run({ mode, tmpDir, log: (m) => log(`[soak ${c.area}/${c.name}] ${m}`) })));
    } catch (err) {
      rows.push({ area: c.area, case: c.name, tried: 0, figure: "—", pass: false, detail: `crashed: ${(err as Error).stack?.split("\n").slice(0, 3).join(" ") ?? String(err)}` });
    } finally {
      await fs.rm(tmpDir, { recursive: true, force: true });
      log(`[soak ${c.area}] ${c.name} done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
  }
  return rows;
}
