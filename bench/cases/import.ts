// Case import (issue 10): messages/s and peak RSS of `freehold import USER --from imap://…`
// copying an account of BENCH_MESSAGES (default 10,000) messages out of Dovecot, against mbsync
// (Debian's isync) copying the same account into a second Dovecot account, in the same run.
// Peak RSS is each client's own (getrusage of the child); the Dovecot side is not counted for
// either. Both start from nothing (no checkpoint, no sync state).
import { execFile, execFileSync } from "node:child_process";
import { writeFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { envInt, type BenchCase, type CaseContext, type CaseResult } from "../support/case.ts";
import { startDovecotBench } from "../support/dovecot-bench.ts";
import { fillMaildir } from "../support/maildir-fill.ts";
import { createDataDir } from "../../test/support/freehold.ts";

const run = promisify(execFile);
const RUSAGE = "import resource,subprocess,sys,time\nt=time.time()\nr=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL)\nd=time.time()-t\nu=resource.getrusage(resource.RUSAGE_CHILDREN)\nprint('%f %d %f' % (d, u.ru_maxrss, u.ru_utime+u.ru_stime))\nsys.exit(r.returncode)";

async function measure(cmd: string[], env?: NodeJS.ProcessEnv): Promise<{ secs: number; rssMiB: number; cpu: number }> {
  const r = await run("python3", ["-c", RUSAGE, ...cmd], { maxBuffer: 1 << 24, env: env ?? process.env });
  const [secs, rss, cpu] = r.stdout.trim().split(" ").map(Number);
  return { secs, rssMiB: rss / 1024, cpu };
}

export const benchCase: BenchCase = {
  name: "import",
  description: "IMAP import from Dovecot: Freehold's importer vs mbsync (messages/s, peak RSS)",
  async run(ctx: CaseContext): Promise<CaseResult> {
    const n = envInt(ctx.env, "BENCH_MESSAGES", 10_000);
    const uid = Number(execFileSync("id", ["-u", "mail"]).toString());
    const gid = Number(execFileSync("id", ["-g", "mail"]).toString());
    const dove = await startDovecotBench({ dir: path.join(ctx.tmpDir, "dovecot"), users: ["old", "copy", "small"], domain: "old.test", lmtp: false, imap: true });
    try {
      ctx.log(`import: writing ${n} messages into Dovecot`);
      const bytes = await fillMaildir(dove.maildir("old"), n, { uid, gid });
      const nSmall = Math.max(1, Math.round(n / 10));
      await fillMaildir(dove.maildir("small"), nSmall, { uid, gid });
      await mkdir(dove.maildir("copy"), { recursive: true });
      execFileSync("chown", ["-R", "mail:mail", path.dirname(dove.maildir("copy"))]);
      // Warm Dovecot's index for "old" once, so neither side pays the first scan.
      const warm = path.join(ctx.tmpDir, "warm.py");
      await writeFile(warm, `import imaplib\nc=imaplib.IMAP4('127.0.0.1', ${dove.imapPort})\nc.login('old','pass')\nc.select('INBOX', readonly=True)\nc.logout()\n`);
      await run("python3", [warm]);
      await writeFile(warm, `import imaplib\nc=imaplib.IMAP4('127.0.0.1', ${dove.imapPort})\nc.login('small','pass')\nc.select('INBOX', readonly=True)\nc.logout()\n`);
      await run("python3", [warm]);

      const data = await createDataDir({ domains: ["example.test"], users: [{ address: "new@example.test", quota: "unlimited" }] });
      const pw = path.join(ctx.tmpDir, "pw");
      await writeFile(pw, "pass\n", { mode: 0o600 });
      ctx.log("import: freehold import");
      const fh = await measure([process.execPath, path.join(ctx.root, "src/cli/main.ts"), "--data", data.dir, "import", "new@example.test", "--from", `imap://127.0.0.1:${dove.imapPort}`, "--login", "old", "--password-file", pw]);
      await data.remove();
      // The same import of a tenth of the messages: peak RSS must not grow with the account.
      const data2 = await createDataDir({ domains: ["example.test"], users: [{ address: "new@example.test", quota: "unlimited" }] });
      ctx.log(`import: freehold import of ${nSmall} messages (memory flatness)`);
      const fhSmall = await measure([process.execPath, path.join(ctx.root, "src/cli/main.ts"), "--data", data2.dir, "import", "new@example.test", "--from", `imap://127.0.0.1:${dove.imapPort}`, "--login", "small", "--password-file", pw]);
      await data2.remove();

      const rc = path.join(ctx.tmpDir, "mbsyncrc");
      const state = path.join(ctx.tmpDir, "mbsync-state") + "/";
      await mkdir(state, { recursive: true });
      await writeFile(
        rc,
        `IMAPAccount old\nHost 127.0.0.1\nPort ${dove.imapPort}\nUser old\nPass pass\nSSLType None\nAuthMechs LOGIN\n\nIMAPStore old\nAccount old\n\n` +
          `IMAPAccount copy\nHost 127.0.0.1\nPort ${dove.imapPort}\nUser copy\nPass pass\nSSLType None\nAuthMechs LOGIN\n\nIMAPStore copy\nAccount copy\n\n` +
          `Channel mig\nFar :old:\nNear :copy:\nPatterns *\nCreate Near\nSync Pull\nCopyArrivalDate yes\nSyncState ${state}\n`,
      );
      ctx.log("import: mbsync");
      const mb = await measure(["mbsync", "-q", "-c", rc, "mig"]);
      return {
        reference: "mbsync (isync, Debian 12) into a second Dovecot account",
        sections: [
          {
            title: `${n} messages (${(bytes / 1048576).toFixed(1)} MiB) out of Dovecot over IMAP`,
            rows: [
              { metric: "messages/s", unit: "msg/s", freehold: n / fh.secs, reference: n / mb.secs, better: "higher", goal: { ratio: 1 } },
              { metric: "CPU time of the client", unit: "s", freehold: fh.cpu, reference: mb.cpu, better: "lower" },
              { metric: "peak RSS of the client", unit: "MiB", freehold: fh.rssMiB, reference: mb.rssMiB, better: "lower" },
            ],
          },
        ],
        notes: [
          "Freehold writes every message durably (blob fsync + SQLite commit) and its checkpoint; mbsync's target is Dovecot's Maildir (Dovecot does the writing).",
          "Freehold fetches small messages 100 per UID FETCH (BODY.PEEK[]) and commits each batch in one group commit; large ones alone in 1 MiB pieces.",
          `Freehold peak RSS: ${fhSmall.rssMiB.toFixed(1)} MiB for ${nSmall} messages, ${fh.rssMiB.toFixed(1)} MiB for ${n}: ratio ${(fh.rssMiB / fhSmall.rssMiB).toFixed(2)} (issue 10: flat, ≤ 1.2).`,
        ],
        params: { messages: n, bytes, smallRun: nSmall, rssSmallMiB: fhSmall.rssMiB },
      };
    } finally {
      await dove.stop();
    }
  },
};
