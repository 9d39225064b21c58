// `freehold export USER --format mbox|maildir|eml-zip --out PATH [--since DATE]` and
// `freehold import USER --from-mbox FILE|DIR | --from-maildir DIR | --from-eml DIR`.
// The work is in src/migrate/; this file parses options, opens storage and shows progress.
import { stat, readdir } from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { SYSTEM } from "../accounts/authz.ts";
import { effectiveQuota } from "../accounts/quota.ts";
import { openStorage } from "../store/open.ts";
import { ImportCheckpoint } from "../store/sqlite/import-checkpoint.ts";
import { EXPORT_FORMATS, exportAccount } from "../migrate/export.ts";
import type { ExportFormat } from "../migrate/export.ts";
import { emlSource, Importer, maildirSource, mboxSource } from "../migrate/import.ts";
import type { GmailLabelMode, SourceMessage } from "../migrate/import.ts";
import type { CliIo } from "./context.ts";
import { CliError, EXIT_USAGE, print, withDataDir } from "./context.ts";
import { formatSize } from "./size.ts";
import { Progress } from "./progress.ts";

function parseSince(s: string): number {
  const t = /^\d{4}-\d{2}-\d{2}$/.test(s) ? Date.parse(s + "T00:00:00Z") : Date.parse(s);
  if (!Number.isFinite(t)) throw new CliError(`--since: expected a date like 2026-01-31 or 2026-01-31T12:00:00Z, got "${s}"`, EXIT_USAGE);
  return t;
}

/** An mbox export directory: every *.mbox file, "X.sbd/" nesting (Thunderbird's layout) as "X/". */
async function* mboxTree(root: string, gmailLabels: GmailLabelMode, now: number): AsyncGenerator<SourceMessage> {
  async function* walk(dir: string, rel: string[]): AsyncGenerator<SourceMessage> {
    for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory() && e.name.endsWith(".sbd")) yield* walk(p, [...rel, e.name.slice(0, -4)]);
      else if (e.isFile() && e.name.endsWith(".mbox")) {
        const folder = [...rel, e.name.slice(0, -5)].map((s) => decodeURIComponent(s)).join("/");
        yield* mboxSource(p, { folder, gmailLabels, now });
      }
    }
  }
  yield* walk(root, []);
}

export function registerMigrate(program: Command, io: CliIo): void {
  program
    .command("export")
    .description("export every folder of an account (messages byte-identical to IMAP BODY[], flags and dates kept)")
    .argument("<address>", "the user")
    .requiredOption("--format <format>", EXPORT_FORMATS.join(" | "))
    .requiredOption("--out <path>", "mbox: a directory (one .mbox per folder); maildir: the Maildir root; eml-zip: the .zip file")
    .option("--since <date>", "only messages whose internal date is on or after this date (incremental export)")
    .action(async function (this: Command, address: string) {
      const o = this.opts() as { format: string; out: string; since?: string };
      if (!(EXPORT_FORMATS as readonly string[]).includes(o.format)) throw new CliError(`--format: expected one of ${EXPORT_FORMATS.join(", ")}, got "${o.format}"`, EXIT_USAGE);
      const since = o.since === undefined ? undefined : parseSince(o.since);
      const out = path.resolve(o.out);
      if (o.format !== "eml-zip") {
        const st = await stat(out).catch(() => null);
        if (st && (!st.isDirectory() || (await readdir(out)).length > 0)) throw new CliError(`--out ${o.out}: must be a new or empty directory`, EXIT_USAGE);
      } else if (await stat(out).catch(() => null)) throw new CliError(`--out ${o.out}: already exists`, EXIT_USAGE);
      await withDataDir(this, io, async ({ accounts, config }) => {
        const user = await accounts.getUser(SYSTEM, address);
        const storage = await openStorage(config.dataDir, { clock: io.clock });
        const bar = new Progress(io.stderr, () => io.clock.now());
        try {
          const r = await exportAccount({
            store: storage.store,
            blobs: storage.blobs,
            user: await storage.store.accounts.getUserById(user.id).then((u) => u!),
            format: o.format as ExportFormat,
            out,
            since,
            onProgress: (p) => bar.update({ label: "export", done: p.messages, total: p.messagesTotal, bytes: p.bytes, bytesTotal: p.bytesTotal, detail: p.folder }),
          });
          bar.done({ label: "export", done: r.messages, total: r.messages, bytes: r.bytes, bytesTotal: r.bytes });
          print(io, `Exported ${r.messages} message${r.messages === 1 ? "" : "s"} (${formatSize(r.bytes)}) in ${r.folders} folder${r.folders === 1 ? "" : "s"} of ${user.address} to ${out}`);
        } finally {
          await storage.close();
        }
      });
    });

  program
    .command("import")
    .description("import mail into an account from files (idempotent: a re-run adds nothing)")
    .argument("<address>", "the user")
    .option("--from-mbox <file|dir>", "an mbox file (a Google Takeout mbox too) or a directory of .mbox files (freehold export --format mbox)")
    .option("--from-maildir <dir>", "a Maildir++ tree (Dovecot's layout, freehold export --format maildir)")
    .option("--from-eml <dir>", "a directory of .eml files (an unpacked eml-zip export with its manifest.jsonl, or any tree)")
    .option("--folder <name>", "for a single mbox file: the target folder", "INBOX")
    .option("--gmail-labels <mode>", "Takeout X-Gmail-Labels: folders (a copy per label) or keywords (one copy, labels as keywords)", "folders")
    .action(async function (this: Command, address: string) {
      const o = this.opts() as { fromMbox?: string; fromMaildir?: string; fromEml?: string; folder: string; gmailLabels: string };
      const given = [o.fromMbox, o.fromMaildir, o.fromEml].filter((x) => x !== undefined);
      if (given.length !== 1) throw new CliError("give exactly one of --from-mbox, --from-maildir, --from-eml", EXIT_USAGE);
      if (o.gmailLabels !== "folders" && o.gmailLabels !== "keywords") throw new CliError(`--gmail-labels: expected folders or keywords, got "${o.gmailLabels}"`, EXIT_USAGE);
      const src = path.resolve(given[0]!);
      const st = await stat(src).catch(() => null);
      if (!st) throw new CliError(`${given[0]}: no such file or directory`, EXIT_USAGE);
      const now = io.clock.now();
      let source: AsyncIterable<SourceMessage>;
      if (o.fromMbox !== undefined) source = st.isDirectory() ? mboxTree(src, o.gmailLabels, now) : mboxSource(src, { folder: o.folder, gmailLabels: o.gmailLabels, now });
      else if (!st.isDirectory()) throw new CliError(`${given[0]}: not a directory`, EXIT_USAGE);
      else source = o.fromMaildir !== undefined ? maildirSource(src) : emlSource(src);
      await withDataDir(this, io, async ({ accounts, config }) => {
        const user = await accounts.getUser(SYSTEM, address);
        const storage = await openStorage(config.dataDir, { clock: io.clock });
        const checkpoint = new ImportCheckpoint(config.dataDir);
        const bar = new Progress(io.stderr, () => io.clock.now());
        try {
          const rec = (await storage.store.accounts.getUserById(user.id))!;
          const imp = new Importer({
            store: storage.store,
            blobs: storage.blobs,
            writer: storage.writer,
            checkpoint,
            user: rec,
            quotaBytes: effectiveQuota(rec, config.quota.defaultBytes),
            onProgress: (p) => bar.update({ label: "import", done: p.messages, bytes: p.bytes, detail: `${p.imported} new, ${p.skipped} already there; ${p.folder}` }),
          });
          for await (const m of source) await imp.add(m);
          const r = imp.report;
          bar.done({ label: "import", done: r.messages, bytes: r.bytes, detail: `${r.imported} new, ${r.skipped} already there` });
          print(io, `Imported ${r.imported} new message${r.imported === 1 ? "" : "s"} (${formatSize(r.bytes)}) into ${user.address}; ${r.skipped} already there; folders: ${r.folders.join(", ") || "none"}`);
        } finally {
          checkpoint.close();
          await storage.close();
        }
      });
    });
}
