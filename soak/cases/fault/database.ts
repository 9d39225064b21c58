// The database locked by another process, and the data folder's file system gone read-only.
//   locked: a second process (python3's sqlite3, as any tool would) holds BEGIN EXCLUSIVE on
//     meta.sqlite for longer than the server's busy timeout. SMTP deliveries get 4xx, APPENDs
//     NO; an IMAP session that reads (SELECT, FETCH) keeps working; once the lock is released
//     the same server accepts both again.
//   read-only: the tmpfs under the data folder is remounted read-only (what the kernel does to
//     ext4 after an I/O error with errors=remount-ro). Same expectations, then `remount,rw`.
// Afterwards: integrity check clean, rows and files agree, refused tokens absent, acknowledged
// ones present once.
import { execFileSync, spawn } from "node:child_process";
import path from "node:path";
import type { SoakCase, SoakRow } from "../../support/case.ts";
import { row } from "../../support/case.ts";
import { startFreeholdProcess } from "../../../test/support/freehold.ts";
import { AREA, imapAppend, imapLogin, message, sleep, smtpSend, startRig } from "./common.ts";
import type { Rig } from "./common.ts";
import type { RawClient } from "../../../test/imap/raw-client.ts";
import { audit, mountTmpfs } from "./disk.ts";

const HOLD = `
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
c.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
c.execute("ROLLBACK")
`;

async function holdLock(dbPath: string): Promise<() => Promise<void>> {
  const child = spawn("python3", ["-c", HOLD, dbPath], { stdio: ["pipe", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => d.toString().includes("locked") && resolve());
    child.once("exit", (c) => reject(new Error(`lock holder exited ${c}`)));
  });
  return async () => {
    child.stdin.end();
    await new Promise((r) => child.once("exit", r));
  };
}

interface Tally {
  smtp: number;
  smtp4xx: number;
  append: number;
  appendNo: number;
  reads: number;
  readsOk: number;
  after: number;
  afterOk: number;
  problems: string[];
  acked: Set<string>;
  refused: Set<string>;
  maxReadMs: number;
  maxStallMs: number;
}

/** While the fault lasts: writes must be refused temporarily, reads must work. */
async function underFault(rig: Rig, label: string, t: Tally, n: number, reader: RawClient): Promise<void> {
  const writer = await imapLogin(rig.data.imapPort!);
  try {
    // A SELECT now (it records \Recent claims, a write) must be refused cleanly too.
    const probe = await imapLogin(rig.data.imapPort!);
    const sel = await probe.cmd("SELECT INBOX").catch((e: Error) => ({ status: "ERR", text: e.message }));
    probe.close();
    if (sel.status !== "OK" && sel.status !== "NO") t.problems.push(`${label} SELECT: ${sel.text}`);
    if (sel.status === "NO" && /SERVERBUG/.test(sel.text)) t.problems.push(`${label} SELECT: ${sel.text}`);
    for (let i = 0; i < n; i++) {
      const tok = `${label}-s${i}-${Math.random().toString(36).slice(2, 6)}`;
      t.smtp++;
      // A NOOP from the reading session while the delivery waits for the lock: how long every
      // other session stalls (node:sqlite waits busy_timeout on the event loop).
      const stall = (async () => {
        await sleep(50);
        const s0 = Date.now();
        await reader.cmd("NOOP").catch(() => undefined);
        t.maxStallMs = Math.max(t.maxStallMs, Date.now() - s0);
      })();
      const r = await smtpSend(rig.fh.mxPort, tok, 2_000).catch((e: Error) => ({ code: 0, text: e.message }));
      await stall;
      if (r.code >= 400 && r.code < 500) {
        t.smtp4xx++;
        t.refused.add(tok);
      } else if (r.code === 250) t.acked.add(tok);
      else {
        t.refused.add(tok);
        t.problems.push(`${label} SMTP: ${r.code} ${r.text}`);
      }
      const a = `${label}-a${i}-${Math.random().toString(36).slice(2, 6)}`;
      t.append++;
      const text = await imapAppend(writer, "INBOX", message(a, 2_000)).catch((e: Error) => `ERR ${e.message}`);
      if (text.startsWith("NO")) {
        t.appendNo++;
        t.refused.add(a);
      } else if (text.startsWith("OK")) t.acked.add(a);
      else {
        t.refused.add(a);
        t.problems.push(`${label} APPEND: ${text}`);
      }
      const started = Date.now();
      t.reads++;
      const f = await reader.cmd("FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])").catch((e: Error) => ({ status: "ERR", text: e.message }));
      t.maxReadMs = Math.max(t.maxReadMs, Date.now() - started);
      if (f.status === "OK") t.readsOk++;
      else t.problems.push(`${label} FETCH: ${f.text}`);
    }
  } finally {
    writer.close();
  }
}

async function afterFault(rig: Rig, label: string, t: Tally): Promise<void> {
  const c = await imapLogin(rig.data.imapPort!);
  try {
    const tok = `${label}-after-${Math.random().toString(36).slice(2, 6)}`;
    t.after += 2;
    const r = await smtpSend(rig.fh.mxPort, tok, 2_000);
    if (r.code === 250) {
      t.afterOk++;
      t.acked.add(tok);
    } else t.problems.push(`${label} recovered? SMTP ${r.code} ${r.text}`);
    const a = `${label}-after-a-${Math.random().toString(36).slice(2, 6)}`;
    const text = await imapAppend(c, "INBOX", message(a, 2_000));
    if (text.startsWith("OK")) {
      t.afterOk++;
      t.acked.add(a);
    } else t.problems.push(`${label} recovered? APPEND ${text}`);
  } finally {
    c.close();
  }
}

function newTally(): Tally {
  return { smtp: 0, smtp4xx: 0, append: 0, appendNo: 0, reads: 0, readsOk: 0, after: 0, afterOk: 0, problems: [], acked: new Set(), refused: new Set(), maxReadMs: 0, maxStallMs: 0 };
}

function rowsOf(what: string, t: Tally): SoakRow[] {
  return [
    row(AREA, `${what}: SMTP → 4xx, APPEND → NO`, t.smtp + t.append, `4xx ${t.smtp4xx}/${t.smtp}, NO ${t.appendNo}/${t.append}`, t.smtp4xx === t.smtp && t.appendNo === t.append, t.problems.filter((p) => /SMTP|APPEND/.test(p) && !p.includes("recovered")).slice(0, 2).join("; ") || undefined),
    row(AREA, `${what}: reads served, recovers after`, t.reads + t.after, `FETCH ok ${t.readsOk}/${t.reads} (slowest ${t.maxReadMs} ms; a NOOP beside a waiting write ${t.maxStallMs} ms), after ${t.afterOk}/${t.after}`, t.problems.length === 0 && t.readsOk === t.reads && t.afterOk === t.after, t.problems.slice(0, 3).join("; ") || undefined),
  ];
}

export const databaseCase: SoakCase = {
  area: AREA,
  name: "database locked or read-only",
  async run(ctx) {
    const n = ctx.mode === "long" ? 10 : 1;
    const rig = await startRig();
    const rows: SoakRow[] = [];
    let mounted = false;
    try {
      // Something to read while writes are refused.
      await smtpSend(rig.fh.mxPort, "seed-message", 1_000);
      const locked = newTally();
      const reader = await imapLogin(rig.data.imapPort!);
      await reader.cmd("SELECT INBOX");
      const release = await holdLock(path.join(rig.data.dir, "meta.sqlite"));
      try {
        await underFault(rig, "locked", locked, n, reader);
      } finally {
        await release();
        reader.close();
      }
      await afterFault(rig, "locked", locked);
      locked.problems.push(...(await audit(rig, locked)));
      rows.push(...rowsOf("database locked by another process", locked));

      await rig.fh.kill9();
      try {
        await mountTmpfs(rig.data.dir);
        mounted = true;
      } catch (e) {
        rows.push(row(AREA, "file system read-only", 0, "—", false, `cannot mount a tmpfs (needs root): ${(e as Error).message.split("\n")[0]}`));
        return rows;
      }
      // A live `remount,ro` is refused (EBUSY) while the server holds files open for writing:
      // only the kernel does that (ext4 errors=remount-ro). What an operator meets is a restart
      // on a file system that came back read-only: the server must refuse to start, saying why,
      // and start normally once it is writable again.
      execFileSync("mount", ["-o", "remount,ro", rig.data.dir]);
      let refusal = "";
      try {
        rig.fh = await startFreeholdProcess(rig.data, { timeoutMs: 15_000 });
        refusal = "started";
      } catch (e) {
        refusal = (e as Error).message;
      } finally {
        execFileSync("mount", ["-o", "remount,rw", rig.data.dir]);
      }
      const ro = newTally();
      const said = /read-only|EROFS|readonly/i.test(refusal);
      if (refusal === "started") {
        await rig.fh.kill9();
        ro.problems.push("serve started on a read-only data folder");
      } else if (!said) ro.problems.push(`refused without naming the cause: ${refusal.split("\n").slice(0, 3).join(" ")}`);
      rig.fh = await startFreeholdProcess(rig.data);
      await afterFault(rig, "readonly", ro);
      ro.problems.push(...(await audit(rig, ro)));
      rows.push(row(AREA, "file system read-only at start: refused, then starts", 1 + ro.after, `refused ${refusal !== "started" ? "yes" : "no"}${said ? " (EROFS named)" : ""}, after ${ro.afterOk}/${ro.after}`, ro.problems.length === 0, ro.problems.slice(0, 2).join("; ") || undefined));
    } finally {
      await rig.fh.kill9();
      if (mounted) execFileSync("umount", ["-l", rig.data.dir]);
      await rig.close();
    }
    return rows;
  },
};
