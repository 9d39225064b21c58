// The durability order of one SMTP delivery, read from the system calls of the real server:
// strace attaches to `freehold serve` and records fsync/fdatasync/rename/write. For the
// message, the trace must show, each call finished before the next began:
//   fsync(temp blob file) → rename(temp → bucket/<sha256>) → fsync(bucket directory)
//   → fsync/fdatasync(meta.sqlite-wal: the commit, synchronous=FULL) → write("250 ...") to
//   the client's socket.
// (RFC 5321 §4.1.1.4 and §6.1: after the 250 the message is ours; it must survive a crash.)
// A second trace counts the fsyncs of a batch of concurrent deliveries (group commit shares the
// directory and WAL syncs) against the same number delivered one after another.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { startFaultServer } from "../support/dns-fault.ts";
import type { FaultServer } from "../support/dns-fault.ts";
import { SmtpTestClient } from "../support/smtp-client.ts";
import { childPids, createDataDir, mailboxContents, openDataDir, startFreeholdProcess } from "../support/freehold.ts";
import type { DataDir, FreeholdProcess } from "../support/freehold.ts";

const STRACE = ["/usr/bin/strace", "/bin/strace"].find((p) => existsSync(p));
const skip = STRACE ? false : "strace is not installed (scripts/install-peers.sh)";
if (skip && process.env.CI === "true") throw new Error(`CI: ${skip}`);
const USER = "order@freehold.test";

let dns: FaultServer;
let data: DataDir;
let fh: FreeholdProcess;

before(async () => {
  if (skip) return;
  dns = await startFaultServer(() => ({ kind: "rcode", rcode: "NXDOMAIN" }));
  data = await createDataDir({ domains: ["freehold.test"], users: [{ address: USER }], dnsServers: [dns.address] });
  fh = await startFreeholdProcess(data);
});

after(async () => {
  await fh?.stop();
  await dns?.close();
  await data?.remove();
});

interface Call {
  name: string;
  /** The call's text from its start line: name(args... */
  text: string;
  /** Return value ("0", "28", "-1 ENOENT ..."). */
  result: string;
  /** Line index where the call began and where it returned. */
  start: number;
  end: number;
}

/** Parses `strace -f -tt -yy` output, joining "<unfinished ...>" with "<... resumed>" per thread. */
function parseTrace(text: string): Call[] {
  const calls: Call[] = [];
  const open = new Map<string, Call>(); // "pid name" → unfinished call
  text.split("\n").forEach((line, i) => {
    const resumed = /^(\d+)\s+\S+\s+<\.\.\. (\w+) resumed>(.*)\)\s+=\s+(.*)$/.exec(line);
    if (resumed) {
      const c = open.get(`${resumed[1]} ${resumed[2]}`);
      if (c) {
        open.delete(`${resumed[1]} ${resumed[2]}`);
        c.text += resumed[3];
        c.result = resumed[4];
        c.end = i;
        calls.push(c);
      }
      return;
    }
    const m = /^(\d+)\s+\S+\s+(\w+)\((.*)$/.exec(line);
    if (!m) return;
    const unfinished = / <unfinished \.\.\.>$/.exec(m[3]);
    if (unfinished) {
      open.set(`${m[1]} ${m[2]}`, { name: m[2], text: m[3].slice(0, unfinished.index), result: "", start: i, end: -1 });
      return;
    }
    const r = /^(.*)\)\s+=\s+(.*)$/.exec(m[3]);
    if (r) calls.push({ name: m[2], text: r[1], result: r[2], start: i, end: i });
  });
  return calls.sort((a, b) => a.start - b.start);
}

interface Trace {
  file: string;
  stop(): Promise<string>;
}

/**
 * Attaches strace to every thread of the server (and any it starts) until stop(); with
 * server.processes > 1 also to its protocol processes (FREEHOLD_TEST_PROCESSES=2), whose
 * sessions fsync their own temp files and write their own 250s.
 */
async function attachStrace(pid: number, file: string): Promise<Trace> {
  const pids = [pid, ...childPids(pid)];
  const child = spawn(STRACE!, ["-f", ...pids.flatMap((p) => ["-p", String(p)]), "-tt", "-yy", "-s", "64", "-o", file,
    "-e", "trace=fsync,fdatasync,rename,renameat,renameat2,write,writev,sendto,sendmsg"], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  // strace attaches every thread of the process, then reports "Process <pid> attached with N
  // threads" (threads started later are followed by -f).
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`strace did not attach: ${err}`)), 10_000);
      child.stderr!.on("data", (d) => {
        err += d;
        if ((err.match(/attached/g) ?? []).length >= pids.length) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then(() => reject(new Error(`strace exited: ${err}`)));
    });
  } catch (e) {
    child.kill("SIGKILL");
    await exited;
    throw e;
  }
  return {
    file,
    async stop() {
      child.kill("SIGINT"); // strace detaches and leaves the server running
      await exited;
      return readFile(file, "utf8");
    },
  };
}

function message(tok: string): string {
  return `From: <a@sender.test>\r\nTo: <${USER}>\r\nSubject: ${tok}\r\n\r\nbody of ${tok}\r\n`;
}

async function connect(port: number): Promise<SmtpTestClient> {
  const c = await SmtpTestClient.connect(port);
  assert.equal((await c.read()).code, 220);
  assert.equal((await c.cmd("EHLO order.client.test")).code, 250);
  return c;
}

const isSync = (c: Call) => c.name === "fsync" || c.name === "fdatasync";
const fdPath = (c: Call) => /^\d+<([^>]*)>/.exec(c.text)?.[1] ?? "";

test("one delivery: fsync temp → rename → fsync dir → WAL sync (commit) → 250 on the socket", { skip }, async (t) => {
  const c = await connect(fh.mxPort);
  const trace = await attachStrace(fh.pid, path.join(data.dir, "..", "one.strace"));
  const tok = `order-${Date.now()}`;
  let r: Awaited<ReturnType<SmtpTestClient["send"]>>;
  let text: string;
  try {
    r = await c.send("a@sender.test", [USER], message(tok));
    // A round trip after the 250 before strace detaches: under ptrace a thread stays stopped at
    // syscall exit until strace has handled it, so the NOOP's answer proves the 250's write(2)
    // exit was recorded. Without it the client can read the 250 while strace still holds that
    // write as "<unfinished ...>" and detaches before printing its "resumed" half (seen once in CI).
    assert.equal((await c.cmd("NOOP")).code, 250);
  } finally {
    text = await trace.stop();
  }
  await c.quit();
  assert.equal(r.final.code, 250);
  const db = await openDataDir(data.dir);
  const [copy] = (await mailboxContents(db, USER)).filter((m) => m.blob.includes(tok));
  const blob = (await db.store.blobs.get(copy.message.blobId))!;
  await db.close();

  const calls = parseTrace(text);
  const blobName = `/blobs/${blob.location}/${blob.sha256}`;
  const rename = calls.find((x) => x.name.startsWith("rename") && x.text.includes(blobName));
  assert.ok(rename, `a rename to ${blobName} in:\n${text}`);
  const tmp = /"([^"]*\/blobs\/tmp\/\d+-[0-9a-f]+)"/.exec(rename.text)?.[1];
  assert.ok(tmp, `the rename's source is a temp file: ${rename.text}`);
  const tmpSync = calls.find((x) => isSync(x) && fdPath(x) === tmp);
  assert.ok(tmpSync, `an fsync of ${tmp}`);
  const dir = path.dirname(path.join(data.dir, "blobs", blob.location, blob.sha256));
  const dirSync = calls.find((x) => isSync(x) && fdPath(x) === dir && x.start > rename.end);
  assert.ok(dirSync, `an fsync of ${dir} after the rename`);
  const walSync = calls.find((x) => isSync(x) && fdPath(x).endsWith("meta.sqlite-wal") && x.start > dirSync.end);
  assert.ok(walSync, `a WAL sync after the directory sync:\n${text}`);
  // The reply names the blob ("queued as <id in base 36>"), so this write is this message's 250.
  const line = `250 2.0.0 Ok: queued as ${blob.id.toString(36)}`;
  assert.equal(r.final.lines[0], line);
  const queuedAs = `"${line}\\r\\n"`; // as strace prints it
  const reply = calls.find((x) => /^(write|writev|sendto|sendmsg)$/.test(x.name) && x.text.includes(queuedAs) && x.text.includes("TCP:["));
  assert.ok(reply, `the 250 written to the client's TCP socket:\n${text}`);
  const steps: Array<[string, Call]> = [["fsync temp", tmpSync], ["rename", rename], ["fsync dir", dirSync], ["WAL sync", walSync], ["250", reply]];
  const lines = text.split("\n");
  for (const [name, call] of steps) t.diagnostic(`${name}: ${lines[call.start].slice(0, 160)}`);
  // Each step returned before the next began.
  for (let i = 1; i < steps.length; i++) {
    const [prevName, prev] = steps[i - 1];
    const [name, cur] = steps[i];
    assert.ok(prev.end < cur.start, `${prevName} (lines ${prev.start}-${prev.end}) must finish before ${name} (line ${cur.start})`);
    assert.equal(prev.result.split(" ")[0] === "-1", false, `${prevName} failed: ${prev.result}`);
  }
});

async function countSyncs(deliver: () => Promise<number>, label: string): Promise<{ messages: number; temp: number; dir: number; wal: number; other: number }> {
  const trace = await attachStrace(fh.pid, path.join(data.dir, "..", `${label}.strace`));
  let messages = 0;
  let text: string;
  try {
    messages = await deliver();
  } finally {
    text = await trace.stop();
  }
  const syncs = parseTrace(text).filter(isSync).map(fdPath);
  const temp = syncs.filter((p) => p.includes("/blobs/tmp/")).length;
  const wal = syncs.filter((p) => p.endsWith("-wal")).length;
  const dir = syncs.filter((p) => /\/blobs(\/\d+)?$/.test(p)).length;
  return { messages, temp, dir, wal, other: syncs.length - temp - wal - dir };
}

test("fsyncs per message: 20 concurrent deliveries share directory and WAL syncs (group commit)", { skip }, async (t) => {
  const N = 20;
  const seq = await countSyncs(async () => {
    const c = await connect(fh.mxPort);
    for (let i = 0; i < N; i++) assert.equal((await c.send("a@sender.test", [USER], message(`seq-${i}-${Date.now()}`))).final.code, 250);
    await c.quit();
    return N;
  }, "sequential");
  const clients = await Promise.all(Array.from({ length: N }, () => connect(fh.mxPort)));
  const con = await countSyncs(async () => {
    const rs = await Promise.all(clients.map((c, i) => c.send("a@sender.test", [USER], message(`con-${i}-${Date.now()}`))));
    for (const r of rs) assert.equal(r.final.code, 250);
    return N;
  }, "concurrent");
  await Promise.all(clients.map((c) => c.quit()));
  const per = (x: typeof seq) => ((x.temp + x.dir + x.wal + x.other) / x.messages).toFixed(2);
  t.diagnostic(`sequential, 1 session: ${per(seq)} fsyncs/message (temp ${seq.temp}, dir ${seq.dir}, WAL ${seq.wal}, other ${seq.other} for ${seq.messages})`);
  t.diagnostic(`concurrent, ${N} sessions: ${per(con)} fsyncs/message (temp ${con.temp}, dir ${con.dir}, WAL ${con.wal}, other ${con.other} for ${con.messages})`);
  // Every blob is synced once; one after another, every message pays its own dir and WAL sync.
  assert.equal(seq.temp, N);
  assert.equal(con.temp, N);
  assert.ok(seq.wal >= N && seq.dir >= N, "sequential deliveries cannot share");
  // Overlapping deliveries formed batches: fewer commits than messages.
  assert.ok(con.wal < N, `concurrent deliveries shared WAL syncs (${con.wal} for ${N})`);
  assert.ok(con.dir < N, `concurrent deliveries shared directory syncs (${con.dir} for ${N})`);
});
