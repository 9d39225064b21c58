// issue 14: `server.processes: 2`, a store owner plus one protocol process sharing the mx socket
// (src/server/processes.ts). Proved here with real `freehold serve` processes, raw SMTP clients
// (test/support/smtp-client.ts) and imapflow:
//   - mail accepted by either process lands exactly once, and an IDLE session (IMAP runs in the
//     owner) is told of every one, the protocol process's included;
//   - kill -9 of the protocol process mid-DATA: nothing acknowledged is lost, its temp files are
//     removed, the owner's own sessions finish with 250, and a new protocol process takes over;
//   - smtp.maxConnectionsPerIp holds across the processes (one counter, in the owner).
// Listeners bind 127.0.25.1 (this suite's loopback block).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import path from "node:path";
import YAML from "yaml";
import { readFile, writeFile } from "node:fs/promises";
import { ImapFlow } from "imapflow";
import { startFaultServer } from "../support/dns-fault.ts";
import { SmtpTestClient } from "../support/smtp-client.ts";
import { TEST_PASSWORD, childPids, createDataDir, logLines, openDataDir, startFreeholdProcess, waitForLog } from "../support/freehold.ts";
import type { DataDir, FreeholdProcess } from "../support/freehold.ts";
import { verifyBlobFiles } from "../../src/store/collector.ts";

const HOST = "127.0.25.1";
const USER = "multi@freehold.test";

async function setup(config: Record<string, unknown>, imap = false): Promise<{ data: DataDir; close(): Promise<void> }> {
  const dns = await startFaultServer(() => ({ kind: "rcode", rcode: "NXDOMAIN" }));
  const data = await createDataDir({ domains: ["freehold.test"], users: [{ address: USER }], dnsServers: [dns.address], imap, config: { server: { processes: 2 }, ...config } });
  // Onto this suite's loopback address (createDataDir writes 127.0.0.1).
  const file = path.join(data.dir, "freehold.yaml");
  const doc = YAML.parse(await readFile(file, "utf8")) as { listeners: Array<{ address: string }> };
  for (const l of doc.listeners) l.address = HOST;
  await writeFile(file, YAML.stringify(doc), { mode: 0o600 });
  return { data, close: async () => (await dns.close(), await data.remove()) };
}

function message(tok: string, bytes = 400): string {
  const line = `${tok} ${"y".repeat(70)}\r\n`;
  return `From: <s@sender.test>\r\nTo: <${USER}>\r\nSubject: ${tok}\r\nX-Token: ${tok}\r\n\r\n${line.repeat(Math.max(1, Math.floor(bytes / line.length)))}`;
}

async function sendOne(port: number, tok: string): Promise<number> {
  const c = await SmtpTestClient.connect(port, HOST, 10_000);
  try {
    assert.equal((await c.read()).code, 220);
    assert.equal((await c.cmd("EHLO multi.client.test")).code, 250);
    const r = await c.send("s@sender.test", [USER], message(tok));
    await c.quit();
    return r.final.code;
  } finally {
    c.destroy();
  }
}

/** pid → "delivered" log lines; the owner's lines carry no pid (key 0). */
function deliveriesByProcess(fh: FreeholdProcess): Map<number, number> {
  const out = new Map<number, number>();
  for (const l of logLines(fh.output())) if (l.msg === "delivered") out.set(Number(l.pid ?? 0), (out.get(Number(l.pid ?? 0)) ?? 0) + 1);
  return out;
}

async function tokensStored(data: DataDir): Promise<{ tokens: string[]; temps: string[] }> {
  const db = await openDataDir(data.dir);
  try {
    assert.deepEqual((await db.store.integrityCheck()).problems, []);
    assert.deepEqual(await verifyBlobFiles(db.store, db.blobs), { missingFiles: [], orphanFiles: [] }, "rows and files agree");
    const user = (await db.store.accounts.getUserByAddress(USER))!;
    const inbox = (await db.store.mail.getMailbox(user.id, "INBOX"))!;
    const tokens: string[] = [];
    for (const m of await db.store.mail.listMessages(inbox.id)) {
      const text = (await db.blobs.readAll(m.blobId)).toString("latin1");
      tokens.push(/^X-Token: (\S+)/m.exec(text)![1]);
    }
    return { tokens, temps: await db.blobs.listTemps() };
  } finally {
    await db.close();
  }
}

async function until(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test("processes = 2: mail through either process is stored exactly once and IDLE (in the owner) sees every delivery", { timeout: 90_000 }, async (t) => {
  const env = await setup({}, true);
  let fh: FreeholdProcess | undefined;
  let imap: ImapFlow | undefined;
  try {
    fh = await startFreeholdProcess(env.data);
    const child = Number((await waitForLog(fh, "protocol process ready", 15_000)).pid);
    assert.deepEqual(childPids(fh.pid), [child], "one protocol process, a child of the owner");
    imap = new ImapFlow({ host: HOST, port: env.data.imapPort!, secure: false, tls: { rejectUnauthorized: false }, auth: { user: USER, pass: TEST_PASSWORD }, logger: false });
    await imap.connect();
    await imap.mailboxOpen("INBOX");
    let exists = 0;
    imap.on("exists", (e: { count: number }) => void (exists = e.count));
    const idle = imap.idle();
    const sent: string[] = [];
    // The kernel hands each connection to whichever process accepts first: send in rounds of 10
    // new connections until both processes have delivered some.
    for (let round = 0; round < 20; round++) {
      const toks = Array.from({ length: 10 }, (_, i) => `P${round}-${i}-${Math.random().toString(36).slice(2, 8)}`);
      const codes = await Promise.all(toks.map((tok) => sendOne(env.data.mxPort, tok)));
      assert.deepEqual(codes, toks.map(() => 250));
      sent.push(...toks);
      await new Promise((r) => setTimeout(r, 150)); // the logger's buffer
      const by = deliveriesByProcess(fh);
      if ((by.get(0) ?? 0) > 0 && (by.get(child) ?? 0) > 0) break;
    }
    const by = deliveriesByProcess(fh);
    t.diagnostic(`${sent.length} messages: owner delivered ${by.get(0) ?? 0}, protocol process ${by.get(child) ?? 0}`);
    assert.ok((by.get(child) ?? 0) > 0, "the protocol process accepted mail");
    assert.ok((by.get(0) ?? 0) > 0, "the owner accepted mail");
    assert.equal((by.get(0) ?? 0) + (by.get(child) ?? 0), sent.length);
    await until(`IDLE to report ${sent.length} messages (now ${exists})`, () => exists === sent.length);
    await imap.logout().catch(() => undefined);
    await idle.catch(() => undefined);
    imap = undefined;
    assert.equal(await fh.stop(), 0, "graceful stop of owner and protocol process");
    const stored = await tokensStored(env.data);
    assert.deepEqual([...stored.tokens].sort(), [...sent].sort(), "each message exactly once");
    assert.deepEqual(stored.temps, []);
  } finally {
    imap?.close();
    await fh?.kill9();
    await env.close();
  }
});

test("processes = 2: kill -9 of the protocol process mid-DATA loses nothing acknowledged; its temps go; it is respawned", { timeout: 90_000 }, async (t) => {
  const env = await setup({});
  let fh: FreeholdProcess | undefined;
  const open: SmtpTestClient[] = [];
  try {
    fh = await startFreeholdProcess(env.data);
    const child = Number((await waitForLog(fh, "protocol process ready", 15_000)).pid);
    const acked: string[] = [];
    for (let i = 0; i < 10; i++) {
      const tok = `A${i}-${Math.random().toString(36).slice(2, 8)}`;
      assert.equal(await sendOne(env.data.mxPort, tok), 250);
      acked.push(tok);
    }
    // Sessions mid-DATA: 300 KiB sent (past the blob writer's 256 KiB buffer, so each has its
    // temp file on disk), the final dot not yet. Open more until each process holds one.
    const tmpDir = path.join(env.data.dir, "blobs", "tmp");
    const mid = new Map<SmtpTestClient, string>();
    const childTemps = async () => (await readdir(tmpDir)).filter((n) => n.startsWith(`${child}-`));
    const ownerTemps = async () => (await readdir(tmpDir)).filter((n) => n.startsWith(`${fh!.pid}-`));
    const big = (tok: string) => SmtpTestClient.dataBody(message(tok, 300 * 1024));
    for (let i = 0; i < 40 && ((await childTemps()).length === 0 || (await ownerTemps()).length === 0); i++) {
      const c = await SmtpTestClient.connect(env.data.mxPort, HOST, 10_000);
      open.push(c);
      assert.equal((await c.read()).code, 220);
      assert.equal((await c.cmd("EHLO mid.client.test")).code, 250);
      assert.equal((await c.cmd("MAIL FROM:<s@sender.test>")).code, 250);
      assert.equal((await c.cmd(`RCPT TO:<${USER}>`)).code, 250);
      assert.equal((await c.cmd("DATA")).code, 354);
      const tok = `M${i}-${Math.random().toString(36).slice(2, 8)}`;
      const body = big(tok);
      c.write(body.subarray(0, body.length - 5 - 200)); // all but the last line and the dot
      mid.set(c, tok);
      await new Promise((r) => setTimeout(r, 150));
    }
    await until("a temp file of the protocol process", async () => (await childTemps()).length > 0, 10_000);
    process.kill(child, "SIGKILL");
    // The owner removes the dead process's temps and starts another protocol process.
    await until("the dead process's temps to be removed", async () => (await childTemps()).length === 0);
    await until("a new protocol process", () => logLines(fh!.output()).some((l) => l.msg === "protocol process ready" && Number(l.pid) !== child));
    const next = Number(logLines(fh.output()).filter((l) => l.msg === "protocol process ready").at(-1)!.pid);
    assert.notEqual(next, child);
    assert.deepEqual(childPids(fh.pid), [next]);
    // The owner's own mid-DATA sessions go on: finish them. The dead process's were cut off.
    let finished = 0;
    let cut = 0;
    for (const [c, tok] of mid) {
      const body = big(tok);
      try {
        c.write(body.subarray(body.length - 5 - 200));
        const r = await c.read();
        if (r.code === 250) {
          acked.push(tok);
          finished++;
        } else cut++;
      } catch {
        cut++;
      }
    }
    t.diagnostic(`${mid.size} sessions mid-DATA at the kill: ${finished} (owner's) finished with 250, ${cut} (the protocol process's) cut off`);
    assert.ok(cut > 0, "at least one session was in the killed process");
    assert.ok(finished > 0, "at least one session mid-DATA in the owner finished");
    // Both processes serve again.
    for (let i = 0; i < 20; i++) {
      const tok = `B${i}-${Math.random().toString(36).slice(2, 8)}`;
      assert.equal(await sendOne(env.data.mxPort, tok), 250, "after the respawn");
      acked.push(tok);
    }
    for (const c of open) c.destroy();
    assert.equal(await fh.stop(), 0);
    const stored = await tokensStored(env.data);
    assert.deepEqual([...stored.tokens].sort(), [...acked].sort(), "every acknowledged message once, the cut ones not at all");
    assert.deepEqual(stored.temps, [], "no temp file left");
  } finally {
    for (const c of open) c.destroy();
    await fh?.kill9();
    await env.close();
  }
});

test("processes = 2: smtp.maxConnectionsPerIp is one limit across the processes", { timeout: 60_000 }, async () => {
  const env = await setup({ smtp: { maxConnectionsPerIp: 4, pregreet: { enabled: false } } });
  let fh: FreeholdProcess | undefined;
  const open: SmtpTestClient[] = [];
  try {
    fh = await startFreeholdProcess(env.data);
    await waitForLog(fh, "protocol process ready", 15_000);
    const greetings: number[] = [];
    for (let i = 0; i < 10; i++) {
      const c = await SmtpTestClient.connect(env.data.mxPort, HOST, 10_000);
      open.push(c);
      greetings.push((await c.read()).code);
    }
    assert.deepEqual(greetings.filter((g) => g === 220).length, 4, `greetings: ${greetings.join(" ")}`);
    assert.deepEqual(greetings.filter((g) => g !== 220), [421, 421, 421, 421, 421, 421]);
    // Slots come back when sessions end, wherever they ran.
    for (const c of open.splice(0)) await c.quit();
    await until("slots to be released", async () => {
      const c = await SmtpTestClient.connect(env.data.mxPort, HOST, 10_000);
      open.push(c);
      return (await c.read()).code === 220;
    });
  } finally {
    for (const c of open) c.destroy();
    await fh?.kill9();
    await env.close();
  }
});

test("processes = 2: a fatal error in the protocol process ends only that process (exit 70); the owner respawns it and keeps serving", { timeout: 60_000 }, async () => {
  const env = await setup({});
  let fh: FreeholdProcess | undefined;
  const open: SmtpTestClient[] = [];
  try {
    fh = await startFreeholdProcess(env.data, { env: { FREEHOLD_TEST_FAULTS: "1" } });
    const child = Number((await waitForLog(fh, "protocol process ready", 15_000)).pid);
    const acked: string[] = [];
    for (let i = 0; i < 3; i++) {
      const tok = `F${i}-${Math.random().toString(36).slice(2, 8)}`;
      assert.equal(await sendOne(env.data.mxPort, tok), 250);
      acked.push(tok);
    }
    // A session the protocol process serves: its "connect" line names the client's port.
    let faulty: SmtpTestClient | undefined;
    for (let i = 0; i < 40 && !faulty; i++) {
      const c = await SmtpTestClient.connect(env.data.mxPort, HOST, 10_000);
      open.push(c);
      assert.equal((await c.read()).code, 220);
      await until("its connect line", () => logLines(fh!.output()).some((l) => l.msg === "connect" && l.port === c.localPort), 5000);
      const line = logLines(fh.output()).find((l) => l.msg === "connect" && l.port === c.localPort)!;
      if (Number(line.pid) === child) faulty = c;
    }
    assert.ok(faulty, "a session in the protocol process");
    assert.equal((await faulty.cmd("EHLO client.example.test")).code, 250);
    assert.equal((await faulty.cmd("MAIL FROM:<fh-test-throw@example.test>")).code, 250);
    await until("the protocol process to exit", () => logLines(fh!.output()).some((l) => l.msg === "protocol process exited; starting another" && Number(l.pid) === child));
    const lines = logLines(fh.output());
    const fatal = lines.find((l) => l.level === 60 && Number(l.pid) === child);
    assert.ok(fatal, "a fatal line from the protocol process");
    assert.equal(fatal.origin, "uncaughtException");
    assert.equal(fatal.component, "smtp:mx");
    assert.equal(lines.find((l) => l.msg === "protocol process exited; starting another")!.code, 70);
    await until("a new protocol process", () => logLines(fh!.output()).some((l) => l.msg === "protocol process ready" && Number(l.pid) !== child));
    assert.equal(fh.child.exitCode, null, "the owner still runs");
    for (let i = 0; i < 6; i++) {
      const tok = `G${i}-${Math.random().toString(36).slice(2, 8)}`;
      assert.equal(await sendOne(env.data.mxPort, tok), 250);
      acked.push(tok);
    }
    for (const c of open) c.destroy();
    assert.equal(await fh.stop(), 0);
    const stored = await tokensStored(env.data);
    assert.deepEqual([...stored.tokens].sort(), [...acked].sort());
  } finally {
    for (const c of open) c.destroy();
    await fh?.kill9();
    await env.close();
  }
});
