// A blob missing or damaged under a live server: three messages delivered over SMTP, then one
// blob file deleted, one truncated, one changed in place (same size). IMAP FETCH of each damaged
// message answers NO [CORRUPTION] without writing a literal cut short, the other messages and
// the session go on (NOOP, a clean FETCH afterwards), and an error log line names each blob.
import fs from "node:fs/promises";
import type { SoakCase, SoakRow } from "../../support/case.ts";
import { row } from "../../support/case.ts";
import { openDataDir } from "../../../test/support/freehold.ts";
import { AREA, USER, errorLogs, imapLogin, smtpSend, startRig } from "./common.ts";

export const blobCase: SoakCase = {
  area: AREA,
  name: "blob missing or damaged",
  async run(ctx) {
    const rounds = ctx.mode === "long" ? 20 : 2;
    const rig = await startRig();
    const rows: SoakRow[] = [];
    try {
      let fetches = 0;
      let good = 0;
      let refused = 0;
      const problems: string[] = [];
      for (let r = 0; r < rounds; r++) {
        // Per round: healthy, missing, truncated, flipped (distinct contents: no dedup).
        const tokens = ["ok", "gone", "short", "flip"].map((k) => `${k}-${r}-${Math.random().toString(36).slice(2, 8)}`);
        for (const t of tokens) {
          const res = await smtpSend(rig.fh.mxPort, t, t.startsWith("short") ? 300_000 : 2_000);
          if (res.code !== 250) problems.push(`delivery of ${t}: ${res.code} ${res.text}`);
        }
        const db = await openDataDir(rig.data.dir);
        const paths = new Map<string, { path: string; sha: string; uid: number }>();
        try {
          const u = (await db.store.accounts.getUserByAddress(USER))!;
          const inbox = (await db.store.mail.getMailbox(u.id, "INBOX"))!;
          for (const m of await db.store.mail.listMessages(inbox.id)) {
            const text = (await db.blobs.readAll(m.blobId).catch(() => Buffer.alloc(0))).toString("latin1"); // earlier rounds' damage
            const tok = /^X-Token: (\S+)/m.exec(text)?.[1];
            const b = (await db.store.blobs.get(m.blobId))!;
            if (tok && tokens.includes(tok)) paths.set(tok.split("-")[0], { path: db.blobs.pathOf(b.sha256, b.location), sha: b.sha256, uid: m.uid });
          }
        } finally {
          await db.close();
        }
        await fs.unlink(paths.get("gone")!.path);
        await fs.truncate(paths.get("short")!.path, 1000);
        const flip = await fs.readFile(paths.get("flip")!.path);
        flip[flip.length - 10] ^= 0x20;
        await fs.writeFile(paths.get("flip")!.path, flip);

        const c = await imapLogin(rig.data.imapPort!);
        try {
          if ((await c.cmd("SELECT INBOX")).status !== "OK") problems.push("SELECT failed");
          for (const kind of ["gone", "short", "flip"]) {
            for (const item of ["BODY.PEEK[]", "BODY.PEEK[HEADER]", "BODYSTRUCTURE", "BINARY.PEEK[1]"]) {
              fetches++;
              const uid = paths.get(kind)!.uid;
              const rep = await c.cmd(`UID FETCH ${uid} (${item})`);
              if (rep.status === "NO" && rep.text.includes("[CORRUPTION]")) refused++;
              else problems.push(`${kind} ${item}: ${rep.text}`);
              if (rep.untagged.some((l) => /\{\d+\}/.test(l))) problems.push(`${kind} ${item}: a literal was sent`);
            }
          }
          // Without PEEK: still NO [CORRUPTION], and the message is not marked \Seen (the
          // reader never got its body).
          for (const kind of ["gone", "short", "flip"]) {
            fetches++;
            const uid = paths.get(kind)!.uid;
            const rep = await c.cmd(`UID FETCH ${uid} (BODY[])`);
            if (rep.status === "NO" && rep.text.includes("[CORRUPTION]")) refused++;
            else problems.push(`${kind} BODY[]: ${rep.text}`);
            const flags = await c.cmd(`UID FETCH ${uid} (FLAGS)`);
            if (flags.untagged.some((l) => /\\Seen/i.test(l))) problems.push(`${kind}: marked \\Seen by a FETCH that answered NO`);
          }
          // The healthy message, and the session, are unaffected.
          const ok = await c.cmd(`UID FETCH ${paths.get("ok")!.uid} (BODY.PEEK[])`);
          fetches++;
          if (ok.status === "OK" && ok.untagged.some((l) => l.includes(tokens[0]))) good++;
          else problems.push(`healthy message: ${ok.text}`);
          const noop = await c.cmd("NOOP");
          if (noop.status !== "OK") problems.push(`NOOP after damage: ${noop.text}`);
          await c.cmd("LOGOUT").catch(() => undefined);
        } finally {
          c.close();
        }
        const logged = errorLogs(rig.fh).filter((l) => l.msg === "message blob missing or damaged");
        for (const kind of ["gone", "short", "flip"]) {
          const sha = paths.get(kind)!.sha;
          if (!logged.some((l) => (l.blob as { sha256?: string })?.sha256 === sha)) problems.push(`no error log names the ${kind} blob ${sha.slice(0, 12)}`);
        }
      }
      const alive = rig.fh.child.exitCode === null;
      if (!alive) problems.push("server exited");
      rows.push(
        row(AREA, "blob missing/truncated/altered: IMAP FETCH", fetches, `NO [CORRUPTION] ${refused}/${fetches - rounds}, healthy ${good}/${rounds}`, problems.length === 0, problems.slice(0, 3).join("; ") || "session survives, error log names each blob"),
      );
    } finally {
      await rig.close();
    }
    return rows;
  },
};
