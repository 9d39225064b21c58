// Issue 13 §1 in CI: the relay and authentication abuse battery (soak/cases/abuse.ts) in short
// mode. Prints the table; every row must pass. `npm run soak abuse` runs the long mode.
import { test } from "node:test";
import assert from "node:assert/strict";
import { soakCases } from "../../soak/cases/abuse.ts";
import { runSoakCases } from "../../soak/support/runner.ts";
import { renderSoakTable } from "../../soak/support/table.ts";

test("relay and auth abuse battery (short): nothing relayed, nothing guessed, every limit holds", { timeout: 300_000 }, async () => {
  const rows = await runSoakCases(soakCases, "short");
  console.log(renderSoakTable(rows, "abuse (short)"));
  assert.ok(rows.length >= 15, `only ${rows.length} rows`);
  const failed = rows.filter((r) => !r.pass);
  assert.deepEqual(failed.map((r) => `${r.case}: ${r.detail ?? r.figure}`), []);
});
