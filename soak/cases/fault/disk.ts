// Disk full during SMTP DATA and IMAP APPEND: the data folder of a live server sits on a small
// tmpfs the case mounts (root; CI runs as root), a filler file leaves only a few KiB to a few
// hundred KiB free, and messages of several sizes arrive, so the space runs out while the blob
// is written, at its fsync, or at the SQLite commit. Every refusal must be 4xx (SMTP) or NO
// (IMAP); nothing is half-stored (integrity check clean, rows and files agree, no temp file
// left, no refused token in any mailbox); once the filler is removed the same server accepts
// mail again and every acknowledged message is there exactly once.
import { execFileSync } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import type { SoakCase, SoakRow } from "../../support/case.ts";
import { row } from "../../support/case.ts";
import { verifyBlobFiles } from "../../../src/store/collector.ts";
import { openDataDir, startFreeholdProcess } from "../../../test/support/freehold.ts";
import { AREA, USER, errorLogs, imapAppend, imapLogin, message, smtpSend, startRig } from "./common.ts";
import type { Rig } from "./common.ts";

const TMPFS_BYTES = 24 * 1024 * 1024;

/** Moves a (stopped) data folder onto a fresh tmpfs mounted in its place. */
export async function mountTmpfs(dir: string): Promise<void> {
  const aside = `${dir}.aside`;
  await fs.rename(dir, aside);
  await fs.mkdir(dir, { mode: 0o700 });
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${TMPFS_BYTES},mode=0700`, "freehold-fault", dir]);
  await fs.cp(aside, dir, { recursive: true, preserveTimestamps: true });
  await fs.rm(aside, { recursive: true, force: true });
}

async function freeBytes(dir: string): Promise<number> {
  const s = await fs.statfs(dir);
  return s.bavail * s.bsize;
}

/** Fills the file system until `leave` bytes remain. */
async function fill(dir: string, leave: number): Promise<void> {
  const filler = path.join(dir, "filler");
  await fs.rm(filler, { force: true });
  const n = Math.max(0, (await freeBytes(dir)) - leave);
  const fh = await fs.open(filler, "w");
  try {
    const chunk = Buffer.alloc(64 * 1024, 0x55);
    let left = n;
    while (left > 0) {
      const w = Math.min(left, chunk.length);
      try {
        await fh.write(chunk, 0, w);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOSPC") break; // the server took some meanwhile
        throw e;
      }
      left -= w;
    }
  } finally {
    await fh.close();
  }
}

export interface Ledger {
  acked: Set<string>;
  refused: Set<string>;
}

/** Integrity, rows = files, no temps, acknowledged tokens once, refused ones absent. */
export async function audit(rig: Rig, ledger: Ledger): Promise<string[]> {
  const problems: string[] = [];
  const db = await openDataDir(rig.data.dir);
  try {
    const integ = await db.store.integrityCheck();
    if (integ.problems.length) problems.push(`integrity: ${integ.problems.join(", ")}`);
    const v = await verifyBlobFiles(db.store, db.blobs);
    if (v.missingFiles.length) problems.push(`${v.missingFiles.length} rows without their blob`);
    const temps = await db.blobs.listTemps();
    if (temps.length) problems.push(`${temps.length} temp files left`);
    const u = (await db.store.accounts.getUserByAddress(USER))!;
    const seen = new Map<string, number>();
    for (const mb of await db.store.mail.listMailboxes(u.id)) {
      for (const m of await db.store.mail.listMessages(mb.id)) {
        const text = (await db.blobs.readAll(m.blobId)).toString("latin1");
        const tok = /^X-Token: (\S+)/m.exec(text)?.[1] ?? "?";
        seen.set(tok, (seen.get(tok) ?? 0) + 1);
        if (!text.endsWith(`${tok} ${"y".repeat(60)}\r\n`)) problems.push(`${tok} stored incomplete`);
      }
    }
    for (const t of ledger.acked) if (seen.get(t) !== 1) problems.push(`acknowledged ${t} stored ${seen.get(t) ?? 0} times`);
    for (const t of ledger.refused) if (seen.has(t)) problems.push(`refused ${t} was stored`);
  } finally {
    await db.close();
  }
  return problems;
}

export const diskCase: SoakCase = {
  area: AREA,
  name: "disk full during DATA and APPEND",
  async run(ctx) {
    const rounds = ctx.mode === "long" ? 12 : 3;
    const rig = await startRig();
    const rows: SoakRow[] = [];
    let mounted = false;
    try {
      await rig.fh.kill9();
      try {
        await mountTmpfs(rig.data.dir);
        mounted = true;
      } catch (e) {
        return [row(AREA, "disk full during DATA and APPEND", 0, "—", false, `cannot mount a tmpfs (needs root): ${(e as Error).message.split("\n")[0]}`)];
      }
      rig.fh = await startFreeholdProcess(rig.data);
      const ledger: Ledger = { acked: new Set(), refused: new Set() };
      const counts = { smtpTried: 0, smtp4xx: 0, smtp5xx: 0, imapTried: 0, imapNo: 0, imapBad: 0, recovered: 0, recoverTried: 0 };
      const problems: string[] = [];
      const leaves = [0, 4 * 1024, 48 * 1024, 160 * 1024];
      const sizes = [1_000, 30_000, 120_000, 600_000];
      for (let r = 0; r < rounds; r++) {
        for (const leave of leaves) {
          await fill(rig.data.dir, leave);
          const c = await imapLogin(rig.data.imapPort!).catch((e: Error) => {
            problems.push(`IMAP login with the disk full: ${e.message}`);
            return null;
          });
          for (const size of sizes) {
            const t = `S${r}-${leave}-${size}-${Math.random().toString(36).slice(2, 6)}`;
            counts.smtpTried++;
            const res = await smtpSend(rig.fh.mxPort, t, size).catch((e: Error) => ({ code: 0, text: e.message }));
            if (res.code === 250) ledger.acked.add(t);
            else {
              ledger.refused.add(t);
              if (res.code >= 400 && res.code < 500) counts.smtp4xx++;
              else {
                counts.smtp5xx++;
                problems.push(`SMTP ${t}: ${res.code} ${res.text}`);
              }
            }
            if (!c) continue;
            const a = `A${r}-${leave}-${size}-${Math.random().toString(36).slice(2, 6)}`;
            counts.imapTried++;
            const text = await imapAppend(c, "INBOX", message(a, size)).catch((e: Error) => `ERR ${e.message}`);
            if (text.startsWith("OK")) ledger.acked.add(a);
            else {
              ledger.refused.add(a);
              if (text.startsWith("NO")) counts.imapNo++;
              else {
                counts.imapBad++;
                problems.push(`APPEND ${a}: ${text}`);
              }
            }
          }
          // The session is still usable with the disk full.
          if (c) {
            const n = await c.cmd("NOOP").catch((e: Error) => ({ status: "ERR", text: e.message }));
            if (n.status !== "OK") problems.push(`IMAP NOOP with the disk full: ${n.text}`);
            c.close();
          }
        }
        // Space returns: the same process accepts mail again.
        await fs.rm(path.join(rig.data.dir, "filler"), { force: true });
        const c = await imapLogin(rig.data.imapPort!);
        for (const size of sizes) {
          const t = `R${r}-${size}-${Math.random().toString(36).slice(2, 6)}`;
          counts.recoverTried += 2;
          const res = await smtpSend(rig.fh.mxPort, t, size);
          if (res.code === 250) {
            ledger.acked.add(t);
            counts.recovered++;
          } else problems.push(`after space returned, SMTP ${t}: ${res.code} ${res.text}`);
          const a = `Q${r}-${size}-${Math.random().toString(36).slice(2, 6)}`;
          const text = await imapAppend(c, "INBOX", message(a, size));
          if (text.startsWith("OK")) {
            ledger.acked.add(a);
            counts.recovered++;
          } else problems.push(`after space returned, APPEND: ${text}`);
        }
        c.close();
        problems.push(...(await audit(rig, ledger)).map((p) => `round ${r}: ${p}`));
      }
      if (rig.fh.child.exitCode !== null) problems.push("server exited");
      const fatal = errorLogs(rig.fh).filter((l) => (l.level as number) >= 60);
      if (fatal.length) problems.push(`fatal log: ${String(fatal[0].msg)}`);
      // A clean stop, then startup recovery on the same folder finds nothing missing.
      const code = await rig.fh.stop();
      if (code !== 0) problems.push(`stop exited ${code}`);
      rig.fh = await startFreeholdProcess(rig.data);
      problems.push(...(await audit(rig, ledger)).map((p) => `after restart: ${p}`));
      rows.push(
        row(AREA, "disk full: SMTP DATA → 4xx", counts.smtpTried, `4xx ${counts.smtp4xx}, 5xx ${counts.smtp5xx}, 250 ${counts.smtpTried - counts.smtp4xx - counts.smtp5xx}`, counts.smtp5xx === 0 && counts.smtp4xx > 0, problems.filter((p) => p.startsWith("SMTP")).slice(0, 2).join("; ") || undefined),
        row(AREA, "disk full: IMAP APPEND → NO", counts.imapTried, `NO ${counts.imapNo}, other ${counts.imapBad}, OK ${counts.imapTried - counts.imapNo - counts.imapBad}`, counts.imapBad === 0 && counts.imapNo > 0, problems.filter((p) => p.startsWith("APPEND")).slice(0, 2).join("; ") || undefined),
        row(AREA, "disk full: nothing half-stored, recovers when space returns", counts.recoverTried, `accepted after ${counts.recovered}/${counts.recoverTried}, acknowledged ${ledger.acked.size} kept`, problems.length === 0, problems.slice(0, 3).join("; ") || "integrity clean, rows = files, no temps"),
      );
    } finally {
      await rig.fh.kill9();
      if (mounted) execFileSync("umount", ["-l", rig.data.dir]);
      await rig.close();
    }
    return rows;
  },
};
