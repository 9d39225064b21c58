// Backup and restore with restic (issue 10 §3), the way an operator runs them: `freehold backup
// create` while `freehold serve` takes SMTP deliveries (smtplib) and IMAP APPENDs (imaplib);
// `freehold backup restore` onto new data folders; `freehold serve` on each restored folder
// serves the same messages with the same UIDs, UIDVALIDITY, HIGHESTMODSEQ, flags and bodies
// (imaplib dumps compared). A snapshot with a flipped byte in one blob's pack data, and one with a
// truncated database, fail `freehold backup verify` naming the blob and the database.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn, spawnSync } from "node:child_process";
import { chmod, cp, mkdtemp, open, readdir, rm, stat, truncate, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { createDataDir, runFreeholdCli, startFreeholdProcess, TEST_PASSWORD } from "../support/freehold.ts";
import type { FreeholdProcess } from "../support/freehold.ts";
import { loadConfig } from "../../src/config/load.ts";
import { BackupScheduler } from "../../src/backup/scheduler.ts";
import type { BackupResult } from "../../src/backup/scheduler.ts";
import { listBackups, targetOf } from "../../src/backup/service.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { openServices } from "../../src/server/services.ts";
import { startServer } from "../../src/server/run.ts";
import type { RunningServer } from "../../src/server/run.ts";
import { protocolStarters } from "../../src/server/starters.ts";
import { systemClock } from "../../src/clock.ts";

const run = promisify(execFile);
const HOST = "127.0.29.1";
const USER = "alice@example.test";
const STATE = path.join(import.meta.dirname, "imap_state.py");
const LOAD = path.join(import.meta.dirname, "mail_load.py");
const noRestic = spawnSync("restic", ["version"]).status === 0 ? false : "restic is not installed (scripts/install-peers.sh)";

type Box = { uidvalidity: number; uidnext: number; highestmodseq: number; messages: Record<string, { flags: string[]; internaldate: string; sha256: string; size: number }> };
type State = Record<string, Box>;

function ports(fh: FreeholdProcess): { mx: number; imap: number } {
  const port = (role: string) => Number(new RegExp(`listening: ${role} [^ ]+:(\\d+)`).exec(fh.output())?.[1]);
  return { mx: port("mx"), imap: port("imap") };
}

/** A port on HOST that was free a moment ago (the config file needs a real port). */
async function freePortOn(host: string): Promise<number> {
  const srv = net.createServer();
  const port = await new Promise<number>((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(0, host, () => resolve((srv.address() as net.AddressInfo).port));
  });
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function imapState(imapPort: number): Promise<State> {
  const r = await run("/usr/bin/python3", [STATE, HOST, String(imapPort), USER, TEST_PASSWORD], { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(r.stdout) as State;
}

const SEED = String.raw`
import imaplib, ssl, smtplib, sys, random
host, mx, imap, user, pw = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
with smtplib.SMTP(host, mx, local_hostname="seed.elsewhere.test", timeout=60) as s:
    for i in range(8):
        s.sendmail("seed@elsewhere.test", [user], "From: seed@elsewhere.test\r\nTo: %s\r\nSubject: seed %d\r\n\r\nseed body %d\r\n" % (user, i, i))
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4(host, imap, timeout=60); m.starttls(ssl_context=ctx); m.login(user, pw)
assert m.create("Projects")[0] == "OK"
rnd = random.Random(7)
# ~300 KiB: one restic chunk (below its 512 KiB minimum), so its restic blob id is its SHA-256.
big = "From: big@elsewhere.test\r\nSubject: big\r\n\r\n" + "".join("%064x\r\n" % rnd.getrandbits(256) for _ in range(4600))
assert m.append("Projects", "(\\Flagged)", imaplib.Time2Internaldate(1700000000), big.encode())[0] == "OK"
m.select("INBOX")
assert m.uid("STORE", "1:3", "+FLAGS", "(\\Seen $Important)")[0] == "OK"
assert m.uid("STORE", "2", "+FLAGS", "(\\Answered)")[0] == "OK"
m.logout()
`;

test("backup under load, restore onto new folders, same IMAP state; tampered blob and truncated database fail verify", { skip: noRestic, timeout: 240_000 }, async () => {
  const work = await mkdtemp(path.join(os.tmpdir(), "freehold-backup-"));
  const repo = path.join(work, "repo");
  process.env.RESTIC_CACHE_DIR = path.join(work, "cache");
  const data = await createDataDir({
    domains: ["example.test"],
    users: [{ address: USER }],
    config: {
      listeners: [
        { role: "mx", address: HOST, port: await freePortOn(HOST) },
        { role: "imap", address: HOST, port: await freePortOn(HOST) },
      ],
      smtp: { pregreet: { enabled: false } },
      backup: { repository: repo, schedule: false },
    },
  });
  const servers: FreeholdProcess[] = [];
  const cli = async (args: string[], dir = data.dir) => {
    const r = await runFreeholdCli(["--data", dir, ...args]);
    assert.equal(r.code, 0, `freehold ${args.join(" ")}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  try {
    const init = await cli(["backup", "init"]);
    assert.match(init, /Created the repository password in .*backup-password/);
    assert.match(init, /Created restic repository/);
    const pwFile = path.join(data.dir, "secrets", "backup-password");
    assert.equal((await stat(pwFile)).mode & 0o777, 0o600);
    assert.match(await cli(["backup", "init"]), /already exists/);

    const live = await startFreeholdProcess({ dir: data.dir, mxPort: 0 });
    servers.push(live);
    const p = ports(live);
    await run("/usr/bin/python3", ["-c", SEED, HOST, String(p.mx), String(p.imap), USER, TEST_PASSWORD], { timeout: 120_000 });

    // Snapshot 1, taken while deliveries and APPENDs keep coming.
    const stopFile = path.join(work, "stop-load");
    const load = spawn("/usr/bin/python3", [LOAD, HOST, String(p.mx), String(p.imap), USER, TEST_PASSWORD, stopFile], { stdio: ["ignore", "pipe", "pipe"] });
    let loadOut = "";
    load.stdout.on("data", (d) => (loadOut += d));
    load.stderr.on("data", (d) => (loadOut += d));
    const loadDone = new Promise<void>((resolve) => load.once("close", () => resolve()));
    await new Promise((r) => setTimeout(r, 1500));
    const first = JSON.parse(await cli(["backup", "create", "--json", "--no-prune"])) as { snapshotId: string; messages: number; blobs: number; added: number; filesUnmodified: number };
    await new Promise((r) => setTimeout(r, 500));
    await writeFile(stopFile, "");
    await loadDone;
    const counts = JSON.parse(loadOut.trim().split("\n").at(-1)!) as { delivered: number; appended: number; errors: string[] };
    assert.deepEqual(counts.errors, [], loadOut);
    assert.ok(counts.delivered > 0 && counts.appended > 0, loadOut);
    console.log(`load during snapshot 1: ${counts.delivered} delivered, ${counts.appended} appended; snapshot 1: ${first.messages} messages`);

    // Snapshot 2 on a quiet server: incremental (the blobs of snapshot 1 are not read again).
    const second = JSON.parse(await cli(["backup", "create", "--json", "--no-prune"])) as typeof first & { bytes: number };
    assert.ok(second.messages > first.messages, "snapshot 2 holds the load that came after snapshot 1");
    assert.ok(second.filesUnmodified >= first.blobs, `incremental: ${second.filesUnmodified} unmodified files, snapshot 1 had ${first.blobs} blobs`);
    console.log(`snapshot 2: ${second.messages} messages, ${second.blobs} blobs, ${second.bytes} bytes, ${second.added} added, ${second.filesUnmodified} files unchanged`);
    const liveState = await imapState(p.imap);
    // The restored folders carry the same listeners.
    await live.stop();
    assert.equal(Object.values(liveState).reduce((n, b) => n + Object.keys(b.messages).length, 0), second.messages);

    const listed = JSON.parse(await cli(["backup", "list", "--json"])) as Array<{ shortId: string; messages: number }>;
    assert.deepEqual(listed.map((s) => [s.shortId, s.messages]), [[first.snapshotId, first.messages], [second.snapshotId, second.messages]]);
    assert.match(await cli(["backup", "verify"]), new RegExp(`Snapshot ${second.snapshotId}\\w* OK: ${second.blobs} blobs`));

    // Restore both onto new folders, as on a fresh machine (repository and password file given).
    const restore = async (snapshot: string, dir: string) => cli(["backup", "restore", "--snapshot", snapshot, "--repository", repo, "--password-file", pwFile], dir);
    const r1 = path.join(work, "restored-1", "data");
    const r2 = path.join(work, "restored-2");
    assert.match(await restore(first.snapshotId, r1), /Restored snapshot/);
    assert.match(await restore(second.snapshotId, r2), /Restored snapshot/);
    for (const [f, mode] of [["", 0o700], ["meta.sqlite", 0o600], ["freehold.yaml", 0o600], ["tls/key.pem", 0o600], ["secrets/backup-password", 0o600], ["blobs", 0o700]] as const) {
      assert.equal((await stat(path.join(r2, f))).mode & 0o777, mode, `${f || "folder"} mode`);
    }
    // The log is not data: the live folder has one, the snapshot leaves it out.
    await stat(path.join(data.dir, "logs", "freehold.log"));
    await assert.rejects(stat(path.join(r2, "logs", "freehold.log")));
    const refused = await runFreeholdCli(["--data", r2, "backup", "restore", "--snapshot", second.snapshotId, "--repository", repo, "--password-file", pwFile]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /is not empty/);

    // The quiet snapshot serves exactly what the live server serves.
    const s2 = await startFreeholdProcess({ dir: r2, mxPort: 0 });
    servers.push(s2);
    const state2 = await imapState(ports(s2).imap);
    await s2.stop();
    assert.deepEqual(state2, liveState);
    assert.ok(Object.keys(liveState.INBOX!.messages).length >= 8 && Object.keys(liveState.Projects!.messages).length >= 2);
    assert.deepEqual(liveState.INBOX!.messages["2"]!.flags, ["$Important", "\\Answered", "\\Seen"]);

    // The snapshot taken under load is a consistent cut: every message the live server has
    // below the snapshot's UIDNEXT is there, with the same bytes, date and flags; nothing more.
    const s1 = await startFreeholdProcess({ dir: r1, mxPort: 0 });
    servers.push(s1);
    const state1 = await imapState(ports(s1).imap);
    await s1.stop();
    assert.deepEqual(Object.keys(state1).sort(), Object.keys(liveState).sort());
    let total1 = 0;
    for (const [name, box] of Object.entries(state1)) {
      const lbox = liveState[name]!;
      assert.equal(box.uidvalidity, lbox.uidvalidity, name);
      assert.ok(box.uidnext <= lbox.uidnext && box.highestmodseq <= lbox.highestmodseq, name);
      const expected = Object.fromEntries(Object.entries(lbox.messages).filter(([uid]) => Number(uid) < box.uidnext));
      assert.deepEqual(box.messages, expected, name);
      total1 += Object.keys(box.messages).length;
    }
    assert.equal(total1, first.messages);

    // A flipped byte inside one blob's data in a pack file: verify names that blob.
    const bigBlob = (await findBlobs(r2)).sort((a, b) => b.size - a.size)[0]!;
    const tampered = path.join(work, "repo-tampered");
    await cp(repo, tampered, { recursive: true });
    const restic = (args: string[], r: string, cwd?: string) =>
      run("restic", args, { cwd, env: { ...process.env, RESTIC_REPOSITORY: r, RESTIC_PASSWORD_FILE: pwFile }, maxBuffer: 64 * 1024 * 1024 });
    const where = await packOf(bigBlob.sha256, (a) => restic(a, tampered));
    const packFile = path.join(tampered, "data", where.pack.slice(0, 2), where.pack);
    await flipByte(packFile, where.offset + Math.floor(where.length / 2));
    const bad = await runFreeholdCli(["--data", data.dir, "backup", "verify", "--repository", tampered]);
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    assert.match(bad.stderr, /FAILED verification: 1 problem\b/);
    assert.ok(bad.stderr.includes(`blob ${bigBlob.rel}: `), bad.stderr);
    console.log(`verify of the tampered repository:\n${withoutProgress(bad.stderr)}`);

    // A snapshot whose meta.sqlite was cut in half: verify names the database.
    const cutRepo = path.join(work, "repo-cut");
    await cp(repo, cutRepo, { recursive: true });
    const tree = path.join(work, "cut-tree");
    await restic(["restore", second.snapshotId, "--target", tree], cutRepo);
    const meta = path.join(tree, "meta.sqlite");
    await truncate(meta, Math.floor((await stat(meta)).size / 2));
    const made = await restic(["backup", "--json", ".", "--tag", "freehold", "--host", data.hostname], cutRepo, tree);
    const cutId = (JSON.parse(made.stdout.trim().split("\n").at(-1)!) as { snapshot_id: string }).snapshot_id;
    const cut = await runFreeholdCli(["--data", data.dir, "backup", "verify", "--repository", cutRepo, "--snapshot", cutId]);
    assert.equal(cut.code, 1, cut.stdout + cut.stderr);
    assert.match(cut.stderr, /database meta\.sqlite: \d+ bytes, the manifest says \d+ \(truncated or damaged\)/);
    console.log(`verify of the truncated-database snapshot:\n${withoutProgress(cut.stderr)}`);
    // Restore refuses it and leaves nothing behind.
    const r3 = path.join(work, "restored-3");
    const noRestore = await runFreeholdCli(["--data", r3, "backup", "restore", "--snapshot", cutId, "--repository", cutRepo, "--password-file", pwFile]);
    assert.equal(noRestore.code, 1);
    assert.match(noRestore.stderr, /Nothing was restored/);
    await assert.rejects(stat(r3));
    assert.deepEqual((await readdir(path.join(work, "restored-1"))).filter((n) => n.startsWith(".freehold-")), []);

    // The scheduler's hook: a failing run reports failed and overdue; a good one ok; retention prunes.
    const config = await loadConfig(data.dir);
    const events: BackupResult[] = [];
    const broken = new BackupScheduler({ config, logger: silentLogger(), clock: systemClock, onBackupResult: (r) => events.push(r), target: { ...targetOf(config), program: path.join(work, "no-such-restic") } });
    assert.equal((await broken.runOnce()).kind, "failed");
    assert.deepEqual(events.map((e) => e.kind), ["failed", "overdue"]);
    assert.match((events[0] as { error: string }).error, /restic not found/);
    const good = new BackupScheduler({ config, logger: silentLogger(), clock: systemClock, onBackupResult: (r) => events.push(r) });
    assert.equal((await good.runOnce()).kind, "ok");
    assert.equal(events.at(-1)!.kind, "ok");
    // backup.keep (daily 7, weekly 4, monthly 12): three snapshots of one day keep the last.
    const left = await listBackups(targetOf(config));
    assert.deepEqual(left.map((s) => s.shortId), [(events.at(-1) as { result: { snapshotId: string } }).result.snapshotId]);
  } finally {
    for (const s of servers) await s.stop().catch(() => undefined);
    delete process.env.RESTIC_CACHE_DIR;
    await data.remove();
    await rm(work, { recursive: true, force: true });
  }
});

const withoutProgress = (s: string) => s.split("\n").filter((l) => !/^\w+: \d+% \(/.test(l)).join("\n").trim();

async function findBlobs(dir: string): Promise<Array<{ rel: string; sha256: string; size: number }>> {
  const out = [];
  for (const bucket of await readdir(path.join(dir, "blobs"))) {
    for (const sha of await readdir(path.join(dir, "blobs", bucket))) {
      out.push({ rel: `blobs/${bucket}/${sha}`, sha256: sha, size: (await stat(path.join(dir, "blobs", bucket, sha))).size });
    }
  }
  return out;
}

/** The pack file, offset and length of a data blob, from the repository's index files. */
async function packOf(blobId: string, restic: (args: string[]) => Promise<{ stdout: string }>): Promise<{ pack: string; offset: number; length: number }> {
  const ids = (await restic(["list", "index"])).stdout.trim().split("\n");
  for (const id of ids) {
    const index = JSON.parse((await restic(["cat", "index", id])).stdout) as { packs: Array<{ id: string; blobs: Array<{ id: string; offset: number; length: number }> }> };
    for (const p of index.packs) {
      const b = p.blobs.find((x) => x.id === blobId);
      if (b) return { pack: p.id, offset: b.offset, length: b.length };
    }
  }
  throw new Error(`blob ${blobId} is in no index`);
}

async function flipByte(file: string, at: number): Promise<void> {
  await chmod(file, 0o600);
  const fh = await open(file, "r+");
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, at);
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, at);
  } finally {
    await fh.close();
  }
}

test("serve takes a scheduled backup once a repository is set and reports it to onBackupResult", { skip: noRestic, timeout: 120_000 }, async () => {
  const work = await mkdtemp(path.join(os.tmpdir(), "freehold-backup-sched-"));
  process.env.RESTIC_CACHE_DIR = path.join(work, "cache");
  const data = await createDataDir({
    domains: ["example.test"],
    config: { listeners: [{ role: "mx", address: HOST, port: await freePortOn(HOST) }], backup: { repository: path.join(work, "repo") } },
  });
  try {
    const init = await runFreeholdCli(["--data", data.dir, "backup", "init"]);
    assert.equal(init.code, 0, init.stderr);
    const config = await loadConfig(data.dir);
    const services = await openServices(config, { logger: silentLogger() });
    const results: BackupResult[] = [];
    const got = new Promise<void>((resolve) => {
      const server = startServer(services, { starters: protocolStarters(), backupFirstDelayMs: 0, onBackupResult: (r) => (results.push(r), resolve()) });
      void server.then((s) => (running = s));
    });
    let running: RunningServer | undefined;
    await got;
    assert.equal(results[0]!.kind, "ok", JSON.stringify(results[0]));
    const snaps = await listBackups(targetOf(config));
    assert.equal(snaps.length, 1);
    assert.equal(snaps[0]!.shortId, (results[0] as { result: { snapshotId: string } }).result.snapshotId);
    assert.ok(running?.backup);
    await running!.stop();
  } finally {
    delete process.env.RESTIC_CACHE_DIR;
    await data.remove();
    await rm(work, { recursive: true, force: true });
  }
});
