import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { ManualClock } from "../clock.ts";
import { writeSelfSigned } from "./selfsigned.ts";
import { loadTlsContext } from "./context.ts";
import { watchTlsFiles } from "./reload.ts";
import type { Logger } from "../log/logger.ts";

test("a SIGHUP that lands during a file-change reload still reloads and is logged as SIGHUP (CI found it lost)", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "freehold-reload-"));
  try {
    const certPath = path.join(dir, "cert.pem");
    const keyPath = path.join(dir, "key.pem");
    const clock = new ManualClock(Date.now());
    await writeSelfSigned(certPath, keyPath, { hostname: "a.example.test", clock });
    const live = await loadTlsContext(certPath, keyPath);
    const lines: Array<{ reason?: string; msg: string }> = [];
    const logger = { info: (o: { reason?: string }, msg: string) => lines.push({ ...o, msg }), error: (o: { reason?: string }, msg: string) => lines.push({ ...o, msg }) } as unknown as Logger;
    const r = watchTlsFiles(live, { certPath, keyPath, logger, pollMs: 60_000, sighup: false });
    try {
      await writeSelfSigned(certPath, keyPath, { hostname: "b.example.test", clock });
      const byFile = r.reload("file changed");
      const byHup = r.reload("SIGHUP"); // while the first is still loading
      const byFile2 = r.reload("file changed"); // shares the queued SIGHUP rerun
      assert.equal(await byFile, true);
      assert.equal(await byHup, true, "the SIGHUP reload ran (it reloads unchanged files)");
      assert.equal(await byFile2, true);
      assert.deepEqual(lines.map((l) => [l.msg, l.reason]), [["TLS certificate reloaded", "file changed"], ["TLS certificate reloaded", "SIGHUP"]]);
      assert.match(live.subject, /b\.example\.test/);
    } finally {
      r.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
