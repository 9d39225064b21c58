// kill -9 during every kind of write (issue 13 §3). test/durability/crash-smtp.test.ts kills the
// server under SMTP deliveries alone; this case kills it while all the writers run at once:
//   delivery     SMTP to mx, INBOX                       acked on 250
//   hand-off     SMTP to an alias that forwards outside: an INBOX copy and a queue entry in
//                one transaction (DNS answers SERVFAIL, so the entry stays queued)
//   APPEND       into Box                                acked on OK
//   STORE        +FLAGS (\Flagged) on an INBOX message   acked on OK
//   MOVE         Box ⇄ Box2                               a token must exist exactly once
//   EXPUNGE      a scratch message in Trash              acked on OK: gone for good
//   RENAME       a mailbox holding a tracked message, R-a ⇄ R-b
//   DELETE       a scratch mailbox with a message         acked on OK: gone for good
//   DKIM         `freehold dkim rotate` beside the server, SIGKILLed too at the same moment
// Each kill comes at a random moment while these run; after the restart (startup recovery has
// run) and before any writer resumes: PRAGMA integrity_check is clean, rows and files agree
// (no row without its file, no file without a row, no temp file), every acknowledged token is
// stored exactly once (across mailboxes; a forwarded one also once in the queue), no token is
// stored twice, acknowledged flags, expunges, deletes and renames hold, and DKIM keys come in
// whole rotations (both keys of a rotation or neither; every printed rotation is there).
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import path from "node:path";
import type { SoakCase } from "../../support/case.ts";
import { row } from "../../support/case.ts";
import { verifyBlobFiles } from "../../../src/store/collector.ts";
import { openSideDb, SqliteDkimKeys } from "../../../src/store/sqlite/dkim.ts";
import { ROOT, openDataDir, startFreeholdProcess, waitForLog } from "../../../test/support/freehold.ts";
import type { RawClient } from "../../../test/imap/raw-client.ts";
import { AREA, USER, imapAppend, imapLogin, message, sleep, smtpSend, startRig } from "./common.ts";
import type { Rig } from "./common.ts";
import { Gate } from "../../../test/support/gate.ts";

const FWD = "fwd@freehold.test";
const KINDS = ["delivery", "hand-off", "APPEND", "STORE", "MOVE", "EXPUNGE", "RENAME", "DELETE", "DKIM"] as const;
type Kind = (typeof KINDS)[number];

interface Ledger {
  /** Tokens that must exist exactly once in the user's mailboxes. */
  mustExist: Set<string>;
  /** Tokens forwarded outside: also exactly once in the queue. */
  queued: Set<string>;
  /** Tokens whose removal (EXPUNGE, DELETE) was acknowledged. */
  gone: Set<string>;
  /** INBOX tokens whose \Flagged STORE was acknowledged. */
  flagged: Set<string>;
  /** Every token ever sent (unacknowledged ones may be stored once, or not). */
  sent: Set<string>;
  /** Name the RENAME mailbox has after the last acknowledged RENAME (null before the first). */
  renamed: string | null;
  renameInFlight: boolean;
  /** DKIM selectors of rotations the CLI printed. */
  dkimAcked: Set<string>;
  inFlight: Map<Kind, number>;
  acks: Map<Kind, number>;
  /** Kinds that were in flight at some kill. */
  hit: Map<Kind, number>;
}

const tokenOf = (text: string): string | undefined => /^X-Token: (\S+)/m.exec(text)?.[1];
const rnd = (): string => Math.random().toString(36).slice(2, 8);

/** Runs one write, counting it as in flight until it settles; true when acknowledged. */
async function op(l: Ledger, kind: Kind, fn: () => Promise<boolean>): Promise<boolean> {
  l.inFlight.set(kind, (l.inFlight.get(kind) ?? 0) + 1);
  try {
    const ok = await fn();
    if (ok) l.acks.set(kind, (l.acks.get(kind) ?? 0) + 1);
    return ok;
  } finally {
    l.inFlight.set(kind, (l.inFlight.get(kind) ?? 1) - 1);
  }
}

async function uidsOf(c: RawClient, mailbox: string): Promise<number[]> {
  const s = await c.cmd(`SELECT "${mailbox}"`);
  if (s.status !== "OK") throw new Error(`SELECT ${mailbox}: ${s.text}`);
  const r = await c.cmd("UID SEARCH ALL");
  const line = r.untagged.find((x) => x.startsWith("* SEARCH")) ?? "";
  return line.split(" ").slice(2).filter(Boolean).map(Number);
}

/** A worker: loops while `stop` is false; a lost connection waits at the gate, then reconnects. */
function worker(rig: Rig, gate: Gate, stop: { now: boolean }, body: (c: RawClient | null) => Promise<void>, imap = true): Promise<void> {
  return (async () => {
    while (!stop.now) {
      await gate.wait();
      if (stop.now) return;
      let c: RawClient | null = null;
      try {
        if (imap) c = await imapLogin(rig.data.imapPort!);
        while (!stop.now) await body(c);
      } catch {
        await sleep(20); // the server died: wait at the gate
      } finally {
        c?.close();
      }
    }
  })();
}

function startWorkers(rig: Rig, gate: Gate, stop: { now: boolean }, l: Ledger): Promise<void>[] {
  const smtp = (kind: "delivery" | "hand-off") =>
    worker(rig, gate, stop, async () => {
      const t = `${kind === "delivery" ? "D" : "F"}-${rnd()}`;
      l.sent.add(t);
      await op(l, kind, async () => {
        const r = await smtpSend(rig.fh.mxPort, t, 300 + Math.floor(Math.random() * 20_000), kind === "delivery" ? USER : FWD);
        if (r.code !== 250) {
          if (r.code >= 500) throw new Error(`permanent ${r.code} for ${t}`);
          return false;
        }
        l.mustExist.add(t);
        if (kind === "hand-off") l.queued.add(t);
        return true;
      });
    }, false);
  return [
    smtp("delivery"),
    smtp("delivery"),
    smtp("hand-off"),
    worker(rig, gate, stop, async (c) => {
      const t = `A-${rnd()}`;
      l.sent.add(t);
      await op(l, "APPEND", async () => {
        const ok = (await imapAppend(c!, "Box", message(t, 200 + Math.floor(Math.random() * 8000)))).startsWith("OK");
        if (ok) l.mustExist.add(t);
        return ok;
      });
    }),
    worker(rig, gate, stop, async (c) => {
      const uids = await uidsOf(c!, "INBOX");
      if (uids.length === 0) return void (await sleep(20));
      const uid = uids[Math.floor(Math.random() * uids.length)];
      const f = await c!.cmd(`UID FETCH ${uid} (BODY.PEEK[HEADER.FIELDS (X-Token)])`);
      const tok = /X-Token: (\S+)/.exec(f.untagged.join("\n"))?.[1];
      if (!tok) return;
      await op(l, "STORE", async () => {
        const ok = (await c!.cmd(`UID STORE ${uid} +FLAGS (\\Flagged)`)).status === "OK";
        if (ok) l.flagged.add(tok);
        return ok;
      });
    }),
    worker(rig, gate, stop, async (c) => {
      for (const [from, to] of [["Box", "Box2"], ["Box2", "Box"]]) {
        const uids = await uidsOf(c!, from);
        if (uids.length === 0) continue;
        const pick = uids.filter(() => Math.random() < 0.3).slice(0, 5);
        if (pick.length === 0) continue;
        await op(l, "MOVE", async () => (await c!.cmd(`UID MOVE ${pick.join(",")} ${to}`)).status === "OK");
      }
      await sleep(5);
    }),
    worker(rig, gate, stop, async (c) => {
      const t = `X-${rnd()}`;
      l.sent.add(t);
      if (!(await imapAppend(c!, "Trash", message(t, 500))).startsWith("OK")) return;
      const uids = await uidsOf(c!, "Trash");
      if (uids.length === 0) return;
      await c!.cmd(`UID STORE ${uids.join(",")} +FLAGS.SILENT (\\Deleted)`);
      const toks = new Set<string>();
      const f = await c!.cmd(`UID FETCH ${uids.join(",")} (BODY.PEEK[HEADER.FIELDS (X-Token)])`);
      for (const m of f.untagged.join("\n").matchAll(/X-Token: (\S+)/g)) toks.add(m[1]);
      await op(l, "EXPUNGE", async () => {
        const ok = (await c!.cmd("EXPUNGE")).status === "OK";
        if (ok) for (const x of toks) l.gone.add(x);
        return ok;
      });
    }),
    worker(rig, gate, stop, async (c) => {
      // The renamed mailbox holds one tracked message, APPENDed once.
      if (l.renamed === null) {
        const cr = await c!.cmd("CREATE R-a");
        if (cr.status !== "OK" && !/ALREADYEXISTS/.test(cr.text)) return;
        const t = `R-${rnd()}`;
        l.sent.add(t);
        if (!(await imapAppend(c!, "R-a", message(t, 300))).startsWith("OK")) return;
        l.mustExist.add(t);
        l.renamed = "R-a";
      }
      const from = l.renamed;
      const to = from === "R-a" ? "R-b" : "R-a";
      l.renameInFlight = true;
      await op(l, "RENAME", async () => {
        const r = await c!.cmd(`RENAME ${from} ${to}`);
        if (r.status === "OK") l.renamed = to;
        return r.status === "OK";
      });
      l.renameInFlight = false;
      await sleep(5);
    }),
    worker(rig, gate, stop, async (c) => {
      const name = `Del-${rnd()}`;
      if ((await c!.cmd(`CREATE ${name}`)).status !== "OK") return;
      const t = `Y-${rnd()}`;
      l.sent.add(t);
      await imapAppend(c!, name, message(t, 400));
      await op(l, "DELETE", async () => {
        const ok = (await c!.cmd(`DELETE ${name}`)).status === "OK";
        if (ok) l.gone.add(t);
        return ok;
      });
    }),
  ];
}

/** `freehold dkim rotate` in a loop beside the server; the child is exposed so a kill can hit it. */
function dkimWorker(rig: Rig, gate: Gate, stop: { now: boolean }, l: Ledger, current: { child: ChildProcess | null }): Promise<void> {
  return (async () => {
    while (!stop.now) {
      await gate.wait();
      if (stop.now) return;
      const child = spawn(process.execPath, [path.join(ROOT, "src/cli/main.ts"), "--data", rig.data.dir, "dkim", "rotate", "freehold.test"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
      current.child = child;
      let out = "";
      child.stdout!.on("data", (d) => (out += d));
      child.stderr!.on("data", () => undefined);
      l.inFlight.set("DKIM", 1);
      const code = await new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
      l.inFlight.set("DKIM", 0);
      current.child = null;
      if (code === 0) {
        l.acks.set("DKIM", (l.acks.get("DKIM") ?? 0) + 1);
        for (const m of out.matchAll(/^New \S+ key (\S+) for/gm)) l.dkimAcked.add(m[1]);
      }
      await sleep(100 + Math.random() * 300);
    }
  })();
}

async function check(rig: Rig, l: Ledger, label: string): Promise<string[]> {
  const p: string[] = [];
  const db = await openDataDir(rig.data.dir);
  try {
    const integ = await db.store.integrityCheck();
    if (integ.problems.length) p.push(`${label}: integrity ${integ.problems.slice(0, 2).join(", ")}`);
    const v = await verifyBlobFiles(db.store, db.blobs);
    if (v.missingFiles.length) p.push(`${label}: ${v.missingFiles.length} rows without their file`);
    if (v.orphanFiles.length) p.push(`${label}: ${v.orphanFiles.length} files without a row after recovery`);
    const temps = await db.blobs.listTemps();
    if (temps.length) p.push(`${label}: ${temps.length} temp files after recovery`);
    const u = (await db.store.accounts.getUserByAddress(USER))!;
    const count = new Map<string, number>();
    const flags = new Map<string, string[]>();
    const names = new Set<string>();
    for (const mb of await db.store.mail.listMailboxes(u.id)) {
      names.add(mb.name);
      for (const m of await db.store.mail.listMessages(mb.id)) {
        const tok = tokenOf((await db.blobs.readAll(m.blobId)).toString("latin1")) ?? `?${m.blobId}`;
        count.set(tok, (count.get(tok) ?? 0) + 1);
        if (mb.name === "INBOX") flags.set(tok, m.flags);
      }
    }
    for (const [t, n] of count) {
      if (n > 1) p.push(`${label}: ${t} stored ${n} times`);
      if (!l.sent.has(t)) p.push(`${label}: ${t} was never sent`);
    }
    for (const t of l.mustExist) if (count.get(t) !== 1) p.push(`${label}: acknowledged ${t} stored ${count.get(t) ?? 0} times`);
    for (const t of l.gone) if (count.has(t)) p.push(`${label}: ${t} is back after an acknowledged EXPUNGE/DELETE`);
    for (const t of l.flagged) if (!flags.get(t)?.some((f) => f.toLowerCase() === "\\flagged")) p.push(`${label}: acknowledged \\Flagged on ${t} lost`);
    const rNames = ["R-a", "R-b"].filter((n) => names.has(n));
    if (l.renamed !== null && rNames.length !== 1) p.push(`${label}: rename mailbox is ${rNames.join("+") || "gone"}`);
    if (l.renamed !== null && !l.renameInFlight && !names.has(l.renamed)) p.push(`${label}: acknowledged RENAME to ${l.renamed} lost`);
    const queue = new Map<string, number>();
    for (const q of await db.store.queue.list()) {
      const tok = tokenOf((await db.blobs.readAll(q.blobId)).toString("latin1")) ?? "?";
      queue.set(tok, (queue.get(tok) ?? 0) + 1);
    }
    for (const [t, n] of queue) if (n > 1) p.push(`${label}: ${t} queued ${n} times`);
    for (const t of l.queued) if (queue.get(t) !== 1) p.push(`${label}: forwarded ${t} queued ${queue.get(t) ?? 0} times`);
    for (const t of count.keys()) if (t.startsWith("F-") && !queue.has(t)) p.push(`${label}: ${t} delivered locally but its forward copy is not queued`);
  } finally {
    await db.close();
  }
  const side = openSideDb(rig.data.dir);
  try {
    const keys = new SqliteDkimKeys(side).list("freehold.test");
    const byCreated = new Map<number, string[]>();
    for (const k of keys) byCreated.set(k.createdAt, [...(byCreated.get(k.createdAt) ?? []), k.type]);
    for (const [at, types] of byCreated) if (types.length !== 2) p.push(`${label}: DKIM rotation at ${at} has keys ${types.join(",")}`);
    const sels = new Set(keys.map((k) => k.selector));
    for (const s of l.dkimAcked) if (!sels.has(s)) p.push(`${label}: printed DKIM key ${s} missing`);
  } finally {
    side.close();
  }
  return p;
}

export const killCase: SoakCase = {
  area: AREA,
  name: "kill -9 during every kind of write",
  async run(ctx) {
    const kills = ctx.mode === "long" ? 200 : 20;
    const rig = await startRig({ aliases: [{ address: FWD, targets: [USER, "out@remote.test"] }] });
    const gate = new Gate();
    const stop = { now: false };
    const l: Ledger = { mustExist: new Set(), queued: new Set(), gone: new Set(), flagged: new Set(), sent: new Set(), renamed: null, renameInFlight: false, dkimAcked: new Set(), inFlight: new Map(), acks: new Map(), hit: new Map() };
    const cli = { child: null as ChildProcess | null };
    const problems: string[] = [];
    let unknown = 0;
    try {
      // SERVFAIL everywhere: forwarded copies stay queued (deferred), inbound checks temperror.
      rig.dns.setHandler(() => ({ kind: "rcode", rcode: "SERVFAIL" }));
      for (const mb of ["Box", "Box2"]) {
        const c = await imapLogin(rig.data.imapPort!);
        await c.cmd(`CREATE ${mb}`);
        c.close();
      }
      const workers = [...startWorkers(rig, gate, stop, l), dkimWorker(rig, gate, stop, l, cli)];
      let workerError: unknown = null;
      const done = Promise.all(workers).catch((e: unknown) => void (workerError = e));
      for (let k = 0; k < kills && !workerError; k++) {
        gate.open();
        // Each kill aims at one kind of write, in turn: it comes while that kind is in flight
        // (polled every millisecond, then 0-2 ms more), whatever else is running then.
        const target = KINDS[k % KINDS.length];
        const before = [...l.acks.values()].reduce((a, b) => a + b, 0);
        const t0 = Date.now();
        while ([...l.acks.values()].reduce((a, b) => a + b, 0) < before + 2 && Date.now() - t0 < 15_000) await sleep(5);
        while (!((l.inFlight.get(target) ?? 0) > 0) && Date.now() - t0 < 20_000) await sleep(1);
        await sleep(Math.floor(Math.random() * 3));
        gate.close();
        for (const kind of KINDS) if ((l.inFlight.get(kind) ?? 0) > 0) l.hit.set(kind, (l.hit.get(kind) ?? 0) + 1);
        // The rotation CLI dies with the server when it is the target; otherwise it finishes.
        if (target === "DKIM") cli.child?.kill("SIGKILL");
        await rig.fh.kill9();
        // Deliveries in flight at the kill: their outcome is unknown to the client (no reply).
        unknown += (l.inFlight.get("delivery") ?? 0) + (l.inFlight.get("hand-off") ?? 0);
        // Let every worker notice the dead connection before the server is back.
        const t1 = Date.now();
        while (KINDS.some((kd) => kd !== "DKIM" && (l.inFlight.get(kd) ?? 0) > 0) && Date.now() - t1 < 10_000) await sleep(5);
        rig.fh = await startFreeholdProcess(rig.data);
        const rec = (await waitForLog(rig.fh, "storage recovered")).recovery as Record<string, number>;
        if (rec.missingFiles) problems.push(`kill ${k}: recovery found ${rec.missingFiles} rows without files`);
        problems.push(...(await check(rig, l, `kill ${k}`)));
        if (problems.length > 5) break;
      }
      stop.now = true;
      gate.open();
      await done;
      if (workerError) problems.push(`writer failed: ${(workerError as Error).message}`);
      const final = await rig.fh.stop();
      if (final !== 0) problems.push(`graceful stop exited ${final}`);
      rig.fh = await startFreeholdProcess(rig.data);
      problems.push(...(await check(rig, l, "final")));
    } finally {
      stop.now = true;
      gate.open();
      cli.child?.kill("SIGKILL");
      await rig.close();
    }
    // DKIM counts as hit only when the CLI itself was killed mid-rotation (its target rounds).
    const missed = KINDS.filter((k) => !l.hit.get(k));
    const rows = [
      row(AREA, "kill -9 during writes: store consistent, nothing acknowledged lost or doubled", kills, `lost 0/${l.mustExist.size} acked, dup 0, unknown ${unknown}`, problems.length === 0, problems.slice(0, 3).join("; ") || `acks: ${KINDS.map((k) => `${k} ${l.acks.get(k) ?? 0}`).join(", ")}`),
      row(AREA, "kill -9 landed during each kind of write", kills, KINDS.map((k) => `${k} ${l.hit.get(k) ?? 0}`).join(", "), missed.length === 0, missed.length ? `never in flight at a kill: ${missed.join(", ")}` : undefined),
    ];
    if (problems.length) rows[0].figure = `problems ${problems.length}`;
    return rows;
  },
};
