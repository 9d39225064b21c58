// Issue 13 §5 in CI: TLS hardening on every TLS listener (soak/cases/tls.ts) in short mode:
// protocol versions, a sweep of every TLS 1.2 cipher openssl knows, renegotiation, certificate
// reload without a restart. Prints the table; every row must pass. `npm run soak tls` runs it too.
import { test } from "node:test";
import assert from "node:assert/strict";
import { soakCases } from "../../soak/cases/tls.ts";
import { runSoakCases } from "../../soak/support/runner.ts";
import { renderSoakTable } from "../../soak/support/table.ts";

test("TLS battery (short): TLS 1.2+ only, no weak cipher, no renegotiation, certificate reload", { timeout: 300_000 }, async () => {
  const rows = await runSoakCases(soakCases, "short");
  console.log(renderSoakTable(rows, "tls (short)"));
  assert.ok(rows.length >= 15, `only ${rows.length} rows`);
  const failed = rows.filter((r) => !r.pass);
  assert.deepEqual(failed.map((r) => `${r.case}: ${r.detail ?? r.figure}`), []);
});
