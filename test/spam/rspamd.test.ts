// rspamd joins the score, through the wire: Debian's rspamd (and a redis for its Bayes store),
// started by the test on loopback with their own temporary config and data directory, and a real
// Freehold with spam.rspamd.url pointing at rspamd's normal worker and spam.rspamd.learnUrl at
// its controller.
//
// rspamd's config: the stock /etc/rspamd modules (common.conf), its variables (LOCAL_CONFDIR,
// DBDIR, RUNDIR, LOGDIR) moved into the temporary directory with --var, the normal worker and
// the controller bound to free loopback ports, the proxy and fuzzy workers not started, DNS sent
// to a dead loopback port (so no lookup leaves the machine), fuzzy_check off, the Bayes
// classifier on the test's redis, and one multimap rule that gives 8 points to a test spammer's
// From address (a message "rspamd scores high" without relying on rspamd's network rules).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile, mkdir } from "node:fs/promises";
import { existsSync, openSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { ImapFlow } from "imapflow";
import { createLogger } from "../../src/log/logger.ts";
import { TEST_PASSWORD, freePort } from "../support/freehold.ts";
import { findCopy, imapClient, message, sendFrom, startSpamServer, tok } from "./support.ts";
import type { SpamServer } from "./support.ts";

function which(bin: string): string | null {
  for (const dir of ["/usr/bin", "/usr/sbin", "/usr/local/bin"]) if (existsSync(path.join(dir, bin))) return path.join(dir, bin);
  return null;
}
const RSPAMD = which("rspamd");
const REDIS = which("redis-server");
const missing = !RSPAMD ? "rspamd is not installed (scripts/install-peers.sh)" : !REDIS ? "redis-server is not installed (scripts/install-peers.sh)" : false;
if (missing && process.env.CI === "true") throw new Error(`CI: ${missing}`);
if (missing) console.warn(`SKIPPING test/spam/rspamd.test.ts: ${missing}`);
const skip = { skip: missing };

const SPAMMER = "spammer@bad-sender.test";

let dir: string;
let rspamd: ChildProcess | undefined;
let redis: ChildProcess | undefined;
let normalUrl: string;
let controllerUrl: string;
let s: SpamServer;
const logLines: Record<string, unknown>[] = [];

function startDaemon(bin: string, args: string[], out: string): ChildProcess {
  const fd = openSync(out, "a");
  const child = spawn(bin, args, { stdio: ["ignore", fd, fd] });
  closeSync(fd);
  return child;
}

async function stopDaemon(c: ChildProcess | undefined): Promise<void> {
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise<void>((r) => c.once("exit", () => r()));
  c.kill("SIGTERM");
  const t = setTimeout(() => c.kill("SIGKILL"), 10_000);
  await gone;
  clearTimeout(t);
}

async function get(url: string): Promise<string> {
  const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return r.text();
}

async function waitPing(url: string, child: ChildProcess, log: string): Promise<void> {
  const deadline = Date.now() + 45_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`rspamd exited (${child.exitCode}): ${(await readFile(log, "utf8").catch(() => "")).slice(-2000)}`);
    try {
      if ((await get(`${url}/ping`)).trim() === "pong") return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`rspamd did not answer ${url}/ping in 45 s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function learned(): Promise<number> {
  return (JSON.parse(await get(`${controllerUrl}/stat`)) as { learned: number }).learned;
}

/** rspamd's own log line for a message: `id: <mid>, ... (default: F (action): [score/required]`. */
async function rspamdLogScore(mid: string): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const log = await readFile(path.join(dir, "rspamd.log"), "utf8").catch(() => "");
    const line = log.split("\n").find((l) => l.includes("rspamd_task_write_log") && l.includes(`<${mid}>`));
    const m = line && /\[(-?[\d.]+)\/(-?[\d.]+)\]/.exec(line);
    if (m) return Number(m[1]);
    if (Date.now() > deadline) throw new Error(`no rspamd log line for <${mid}>`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

before(async () => {
  if (missing) return;
  dir = await mkdtemp(path.join(tmpdir(), "freehold-rspamd-"));
  const [normalPort, controllerPort, redisPort, deadDnsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  normalUrl = `http://127.0.0.1:${normalPort}`;
  controllerUrl = `http://127.0.0.1:${controllerPort}`;

  redis = startDaemon(REDIS!, ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], path.join(dir, "redis.out"));

  await mkdir(path.join(dir, "local.d"));
  await writeFile(
    path.join(dir, "rspamd.conf"),
    `.include "$CONFDIR/common.conf"
options {
  pidfile = "$RUNDIR/rspamd.pid";
  .include "$CONFDIR/options.inc"
  dns { nameserver = ["127.0.0.1:${deadDnsPort}"]; timeout = 0.2s; retransmits = 1; }
}
logging { type = "file"; filename = "$LOGDIR/rspamd.log"; level = "info"; }
worker "normal" { bind_socket = "127.0.0.1:${normalPort}"; .include "$CONFDIR/worker-normal.inc" }
worker "controller" { bind_socket = "127.0.0.1:${controllerPort}"; .include "$CONFDIR/worker-controller.inc" }
`,
  );
  await writeFile(path.join(dir, "local.d", "fuzzy_check.conf"), "enabled = false;\n");
  await writeFile(path.join(dir, "local.d", "classifier-bayes.conf"), `servers = "127.0.0.1:${redisPort}";\n`);
  await writeFile(path.join(dir, "spammers.map"), `${SPAMMER}\n`);
  await writeFile(
    path.join(dir, "local.d", "multimap.conf"),
    `FREEHOLD_TEST_SPAMMER {\n  type = "from";\n  filter = "email:addr";\n  map = "${path.join(dir, "spammers.map")}";\n  score = 8.0;\n  description = "The Freehold test's spammer";\n}\n`,
  );
  const vars = ["LOCAL_CONFDIR", "DBDIR", "RUNDIR", "LOGDIR"].map((v) => `--var=${v}=${dir}`);
  const conf = path.join(dir, "rspamd.conf");
  const ct = spawnSync("rspamadm", ["configtest", "-c", conf], { encoding: "utf8", timeout: 30_000 });
  assert.match(ct.stdout + ct.stderr, /syntax OK/, ct.stdout + ct.stderr);
  const asRoot = process.getuid?.() === 0 ? ["-u", "root", "-g", "root"] : [];
  rspamd = startDaemon(RSPAMD!, ["-f", ...asRoot, "-c", conf, ...vars], path.join(dir, "rspamd.out"));
  await waitPing(normalUrl, rspamd, path.join(dir, "rspamd.out"));
  await waitPing(controllerUrl, rspamd, path.join(dir, "rspamd.out"));

  const sink = new PassThrough();
  let buf = "";
  sink.on("data", (c: Buffer) => {
    buf += c.toString("utf8");
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      logLines.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
      buf = buf.slice(i + 1);
    }
  });
  s = await startSpamServer({
    users: [{ address: "bob@freehold.test" }],
    domains: ["freehold.test"],
    logger: createLogger({ level: "info", destination: sink }),
    config: { spam: { rspamd: { url: normalUrl, learnUrl: controllerUrl } } },
  });
});

after(async () => {
  await s?.stop();
  await stopDaemon(rspamd);
  await stopDaemon(redis);
  if (dir) await rm(dir, { recursive: true, force: true });
});

const rspamdField = (header: string) => Number(/(?:^|[;\s])rspamd=(-?[\d.]+)/.exec(header)?.[1] ?? NaN);

test("each message goes to rspamd's /checkv2; its score is in X-Freehold-Spam", skip, async () => {
  const t = tok();
  const r = await sendFrom(s.mxPort, ["bob@freehold.test"], message(t));
  assert.equal(r.final.code, 250, r.final.text);
  const copy = await findCopy(s, "bob@freehold.test", t);
  assert.equal(copy?.mailbox, "INBOX", copy?.header);
  const ours = rspamdField(copy!.header);
  assert.ok(Number.isFinite(ours), copy!.header);
  // rspamd really scanned it: its own log has the message with the same score.
  assert.equal(await rspamdLogScore(`${t}@sender.test`), ours);
  assert.ok(!logLines.some((l) => l.msg === "rspamd check failed; scored without it"), JSON.stringify(logLines));
});

test("a message rspamd scores high changes the verdict: Junk instead of INBOX", skip, async () => {
  const t = tok();
  const r = await sendFrom(s.mxPort, ["bob@freehold.test"], message(t, { from: SPAMMER }), { from: SPAMMER });
  assert.equal(r.final.code, 250, r.final.text);
  const copy = await findCopy(s, "bob@freehold.test", t);
  assert.equal(copy?.mailbox, "Junk", copy?.header);
  const score = rspamdField(copy!.header);
  // 8 from the test rule, give or take rspamd's own small symbols (MIME_GOOD -0.1 ...).
  assert.ok(score >= 7, copy!.header);
  assert.match(copy!.header, /RSPAMD=/);
  assert.equal(await rspamdLogScore(`${t}@sender.test`), score);
  const log = await readFile(path.join(dir, "rspamd.log"), "utf8");
  assert.match(log, /FREEHOLD_TEST_SPAMMER/);
});

function imap(): ImapFlow {
  return imapClient(s.imapPort, "bob@freehold.test");
}

test("moving mail to Junk over IMAP also trains rspamd (/learnspam on its controller, Bayes in redis)", skip, async () => {
  const c = imap();
  await c.connect();
  try {
    const t = tok();
    const body =
      `Dear friend, cheap pharmacy pills at a discount today. Order online now, no prescription needed,\r\n` +
      `best price guaranteed, limited offer for loyal customers, free shipping worldwide. ${t}\r\n`;
    assert.equal((await sendFrom(s.mxPort, ["bob@freehold.test"], message(t, { body }))).final.code, 250);
    await s.services.spam.trainer.idle();
    const before = await learned();
    await c.mailboxOpen("INBOX");
    const uids: number[] = [];
    for await (const m of c.fetch("1:*", { uid: true, envelope: true })) if (m.envelope?.subject === t) uids.push(m.uid);
    assert.equal(uids.length, 1);
    await c.messageMove(uids.join(","), "Junk", { uid: true });
    await s.services.spam.trainer.idle();
    assert.ok(!logLines.some((l) => l.msg === "rspamd learning failed"), JSON.stringify(logLines.filter((l) => l.msg === "rspamd learning failed")));
    assert.equal(await learned(), before + 1);
    const log = await readFile(path.join(dir, "rspamd.log"), "utf8");
    assert.match(log, new RegExp(`learned message as spam: ${t}@sender\\.test`));
  } finally {
    await c.logout().catch(() => undefined);
  }
});

test("a learn rspamd refuses (too few tokens) is logged with rspamd's reason and harms nothing", skip, async () => {
  const c = imap();
  await c.connect();
  try {
    const t = tok();
    assert.equal((await sendFrom(s.mxPort, ["bob@freehold.test"], message(t, { body: "hi\r\n" }))).final.code, 250);
    await s.services.spam.trainer.idle();
    const before = await learned();
    const seen = logLines.length;
    await c.mailboxOpen("INBOX");
    const uids: number[] = [];
    for await (const m of c.fetch("1:*", { uid: true, envelope: true })) if (m.envelope?.subject === t) uids.push(m.uid);
    assert.equal(uids.length, 1);
    await c.messageMove(uids.join(","), "Junk", { uid: true });
    await s.services.spam.trainer.idle();
    const warn = logLines.slice(seen).find((l) => l.msg === "rspamd learning failed");
    assert.ok(warn, JSON.stringify(logLines.slice(seen)));
    assert.match(String(warn.err), /HTTP 204 .*less tokens than required/);
    assert.equal(await learned(), before);
    // The move happened and mail still flows.
    assert.equal((await findCopy(s, "bob@freehold.test", t))?.mailbox, "Junk");
    const t2 = tok();
    assert.equal((await sendFrom(s.mxPort, ["bob@freehold.test"], message(t2))).final.code, 250);
    assert.equal((await findCopy(s, "bob@freehold.test", t2))?.mailbox, "INBOX");
  } finally {
    await c.logout().catch(() => undefined);
  }
});
