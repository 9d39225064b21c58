// Issue 13 §3 in CI: the fault cases of soak/cases/fault.ts in short mode, as one table; every
// row must pass. `npm run soak fault` runs the long mode (200 kills).
import { test } from "node:test";
import assert from "node:assert/strict";
import { soakCases } from "../../soak/cases/fault.ts";
import { runSoakCases } from "../../soak/support/runner.ts";
import { renderSoakTable } from "../../soak/support/table.ts";

test("faults (short): disk full, database locked/read-only, damaged blobs, DNS failures, kill -9 during writes", { timeout: 240_000 }, async (t) => {
  const rows = await runSoakCases(soakCases, "short", (m) => {
    t.diagnostic(m);
    return true;
  });
  const table = renderSoakTable(rows, "soak fault (short)");
  process.stdout.write(`\n${table}\n`);
  for (const r of rows) assert.ok(r.pass, `${r.case}: ${r.figure} — ${r.detail ?? ""}`);
});
