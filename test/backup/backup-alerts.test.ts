// Backup results feed the watcher's alerts (issue 10 §3): `serve` with backup.repository set to
// a repository that was never initialised (no password file) fails its scheduled backup and
// mails one alert to the alert mailbox (a "failed" and an "overdue" result in a row are one
// state change); after `freehold backup init`, the next backup (restic, real) succeeds and
// sends "ok again"; another success sends nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createDataDir, runFreeholdCli } from "../support/freehold.ts";
import { waitUntil } from "../support/peer-util.ts";
import { loadConfig } from "../../src/config/load.ts";
import type { BackupResult } from "../../src/backup/scheduler.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { openServices } from "../../src/server/services.ts";
import { startServer } from "../../src/server/run.ts";
import { protocolStarters } from "../../src/server/starters.ts";

const noRestic = spawnSync("restic", ["version"]).status === 0 ? false : "restic is not installed (scripts/install-peers.sh)";
const ADMIN = "admin@bk.test";

test("a failed scheduled backup alerts once; the next good one sends ok again", { skip: noRestic, timeout: 180_000 }, async (t) => {
  const work = await mkdtemp(path.join(os.tmpdir(), "fh-backup-alerts-"));
  process.env.RESTIC_CACHE_DIR = path.join(work, "cache");
  t.after(async () => {
    delete process.env.RESTIC_CACHE_DIR;
    await rm(work, { recursive: true, force: true });
  });
  const data = await createDataDir({ domains: ["bk.test"], users: [{ address: ADMIN }], config: { backup: { repository: path.join(work, "repo") }, watch: { alertMailboxes: [ADMIN] } } });
  t.after(() => data.remove());
  const services = await openServices(await loadConfig(data.dir), { logger: silentLogger() });
  const results: BackupResult[] = [];
  const server = await startServer(services, { starters: protocolStarters(), backupFirstDelayMs: 0, onBackupResult: (r) => results.push(r) });
  t.after(() => server.stop());
  const inbox = async () => {
    const u = (await services.storage.store.accounts.getUserByAddress(ADMIN))!;
    const mb = (await services.storage.store.mail.getMailbox(u.id, "INBOX"))!;
    const out: string[] = [];
    for (const m of await services.storage.store.mail.listMessages(mb.id)) out.push((await services.storage.blobs.readAll(m.blobId)).toString("utf8"));
    return out;
  };

  assert.ok(await waitUntil(() => results.some((r) => r.kind === "failed"), 60_000), "the scheduled backup ran and failed");
  assert.ok(await waitUntil(async () => (await inbox()).length === 1, 15_000), "one alert mail");
  let mails = await inbox();
  assert.match(mails[0], /^Subject: \[Freehold [^\]]+\] fail: backup$/m);
  assert.match(mails[0], /Scheduled backup failed: .*\(no successful backup yet\)/);

  const init = await runFreeholdCli(["--data", data.dir, "backup", "init"]);
  assert.equal(init.code, 0, init.stderr);
  assert.equal((await server.backup!.runOnce()).kind, "ok");
  assert.ok(await waitUntil(async () => (await inbox()).length === 2, 15_000), "an ok-again mail");
  mails = await inbox();
  assert.match(mails[1], /^Subject: \[Freehold [^\]]+\] ok again: backup$/m);
  assert.match(mails[1], /Backup done again: snapshot \w+/);
  assert.equal((await server.backup!.runOnce()).kind, "ok");
  await new Promise((r) => setTimeout(r, 500));
  assert.equal((await inbox()).length, 2, "a second success is not news");
});
