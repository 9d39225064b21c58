// Python's imaplib (Debian's /usr/bin/python3) drives every basic command against our server,
// including literals, partial fetches and error answers: test/imap/clients/imaplib_session.py.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import path from "node:path";
import { PASSWORD, USER, sampleMessage, startHarness } from "./harness.ts";

const run = promisify(execFile);

test("imaplib session: commands, literals, partial fetches, errors", async () => {
  const h = await startHarness();
  try {
    for (let i = 1; i <= 3; i++) await h.deliver("INBOX", sampleMessage(i));
    const script = path.join(import.meta.dirname, "clients", "imaplib_session.py");
    const r = await run("/usr/bin/python3", [script, String(h.port), USER, PASSWORD], { timeout: 60_000 }).catch((e) => e as { stdout: string; stderr: string; code: number });
    const out = String(r.stdout);
    assert.doesNotMatch(out, /^FAIL/m, out + String(r.stderr));
    const m = /^CHECKS (\d+)$/m.exec(out);
    assert.ok(m, `script did not finish:\n${out}\n${String(r.stderr)}`);
    assert.ok(Number(m[1]) >= 60, `only ${m[1]} checks ran`);
    assert.equal((await h.store.integrityCheck()).ok, true);
  } finally {
    await h.close();
  }
});
