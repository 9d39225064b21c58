// `freehold export USER --format mbox|maildir|eml-zip --out PATH [--since DATE]` and
// `freehold import USER --from-mbox FILE|DIR | --from-maildir DIR | --from-eml DIR`.
// The work is in src/migrate/; this file parses options, opens storage and shows progress.
import { DavStore, openDavDb } from "../dav/store.ts";
import { DavTransfer } from "../dav/transfer.ts";
import { stat, readdir, readFile } from "node:fs/promises";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import path from "node:path";
import type { Command } from "commander";
import { SYSTEM } from "../accounts/authz.ts";
import { effectiveQuota } from "../accounts/quota.ts";
import { openStorage } from "../store/open.ts";
import { isStoreError } from "../store/errors.ts";
import { ImportCheckpoint } from "../store/sqlite/import-checkpoint.ts";
import { EXPORT_FORMATS, exportAccount } from "../migrate/export.ts";
import type { ExportFormat } from "../migrate/export.ts";
import { emlSource, Importer, maildirSource, mboxSource } from "../migrate/import.ts";
import type { GmailLabelMode, SourceMessage } from "../migrate/import.ts";
import { importFromImap, parseImapUrl } from "../migrate/imap-source.ts";
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
          // The address books and calendars go along (issue 11 §3), empty ones left out.
          const davDb = openDavDb(config.dataDir, { clock: io.clock });
          const extraFiles: Array<{ name: string; data: Buffer }> = [];
          try {
            const t = new DavTransfer(new DavStore(davDb, io.clock));
            const vcf = await t.exportAll(user.address, "addressbook");
            const ics = await t.exportAll(user.address, "calendar");
            if (vcf !== "") extraFiles.push({ name: "contacts.vcf", data: Buffer.from(vcf) });
            if (ics !== "") extraFiles.push({ name: "calendar.ics", data: Buffer.from(ics) });
          } finally {
            davDb.close();
          }
          const r = await exportAccount({
            extraFiles,
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
          for (const f of extraFiles) print(io, `  with ${f.name}`);
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
    .option("--from <url>", "another IMAP server: imaps://host[:port] or imap://host:port")
    .option("--login <name>", "IMAP: the login name at the old provider")
    .option("--password-file <file>", "IMAP: a file whose first line is the password (or app password)")
    .option("--oauth-token-file <file>", "IMAP: a file holding an OAuth 2.0 access token (XOAUTH2/OAUTHBEARER)")
    .option("--oauth-token-cmd <command>", "IMAP: a shell command that prints an OAuth 2.0 access token")
    .option("--connections <n>", "IMAP: folders copied in parallel, one connection each", "2")
    .option("--insecure-tls", "IMAP: accept any server certificate (a test server; never a real provider)")
    .option("--folder <name>", "for a single mbox file: the target folder", "INBOX")
    .option("--gmail-labels <mode>", "Gmail labels (Takeout X-Gmail-Labels, or X-GM-LABELS over IMAP): folders (a copy per label) or keywords (one copy, labels as keywords)", "folders")
    .action(async function (this: Command, address: string) {
      const o = this.opts() as {
        fromMbox?: string; fromMaildir?: string; fromEml?: string; folder: string; gmailLabels: string;
        from?: string; login?: string; passwordFile?: string; oauthTokenFile?: string; oauthTokenCmd?: string; connections: string; insecureTls?: boolean;
      };
      const given = [o.fromMbox, o.fromMaildir, o.fromEml, o.from].filter((x) => x !== undefined);
      if (given.length !== 1) throw new CliError("give exactly one of --from, --from-mbox, --from-maildir, --from-eml", EXIT_USAGE);
      if (o.gmailLabels !== "folders" && o.gmailLabels !== "keywords") throw new CliError(`--gmail-labels: expected folders or keywords, got "${o.gmailLabels}"`, EXIT_USAGE);
      if (o.from !== undefined) return importImapCommand(this, io, address, { ...o, gmailLabels: o.gmailLabels });
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
          for await (const m of source) await imp.add(m).catch(overQuota(user.address, imp));
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

const run = promisify(execFile);

/** An over-quota delivery stops the import with a message saying how far it got. */
function overQuota(address: string, imp: Importer): (e: unknown) => never {
  return (e: unknown) => {
    if (isStoreError(e, "over-quota")) {
      throw new CliError(`${address} is over its quota after ${imp.report.imported} new messages; raise it (freehold user quota ${address} SIZE) and run the import again: it resumes`);
    }
    throw e;
  };
}

async function importImapCommand(
  cmd: Command,
  io: CliIo,
  address: string,
  o: { from?: string; login?: string; passwordFile?: string; oauthTokenFile?: string; oauthTokenCmd?: string; connections: string; insecureTls?: boolean; gmailLabels: GmailLabelMode },
): Promise<void> {
  const url = o.from!;
  try {
    parseImapUrl(url);
  } catch (e) {
    throw new CliError(`--from: ${(e as Error).message}`, EXIT_USAGE);
  }
  if (!o.login) throw new CliError("--from needs --login", EXIT_USAGE);
  const secrets = [o.passwordFile, o.oauthTokenFile, o.oauthTokenCmd].filter((x) => x !== undefined);
  if (secrets.length !== 1) throw new CliError("give exactly one of --password-file, --oauth-token-file, --oauth-token-cmd", EXIT_USAGE);
  const connections = Number(o.connections);
  if (!Number.isInteger(connections) || connections < 1 || connections > 16) throw new CliError("--connections: 1 to 16", EXIT_USAGE);
  const firstLine = (t: string) => t.split(/\r?\n/)[0];
  let password: string | undefined;
  let accessToken: string | undefined;
  if (o.passwordFile) password = firstLine(await readFile(o.passwordFile, "utf8"));
  else if (o.oauthTokenFile) accessToken = firstLine(await readFile(o.oauthTokenFile, "utf8")).trim();
  else {
    const r = await run("sh", ["-c", o.oauthTokenCmd!], { timeout: 120_000 }).catch((e: Error) => {
      throw new CliError(`--oauth-token-cmd failed: ${e.message.split("\n")[0]}`);
    });
    accessToken = firstLine(r.stdout).trim();
  }
  if ((password ?? accessToken) === "") throw new CliError("the password or token is empty", EXIT_USAGE);
  await withDataDir(cmd, io, async ({ accounts, config }) => {
    const user = await accounts.getUser(SYSTEM, address);
    const storage = await openStorage(config.dataDir, { clock: io.clock });
    const checkpoint = new ImportCheckpoint(config.dataDir);
    const bar = new Progress(io.stderr, () => io.clock.now());
    let foldersDone = 0;
    let total: number | undefined;
    let foldersTotal = 0;
    try {
      const rec = (await storage.store.accounts.getUserById(user.id))!;
      const imp = new Importer({
        store: storage.store,
        blobs: storage.blobs,
        writer: storage.writer,
        checkpoint,
        user: rec,
        quotaBytes: effectiveQuota(rec, config.quota.defaultBytes),
        onProgress: (p) => bar.update({ label: "import", done: p.messages, total, bytes: p.bytes, detail: `folders ${foldersDone}/${foldersTotal}; ${p.folder}` }),
      });
      const r = await importFromImap({
        onError: overQuota(user.address, imp),
        url,
        login: o.login!,
        password,
        accessToken,
        connections,
        importer: imp,
        checkpoint,
        userId: rec.id,
        insecureTls: o.insecureTls,
        gmailLabels: o.gmailLabels,
        onFolder: (_f, state) => void (state === "done" && foldersDone++),
        onTotal: (m, f, gmail) => {
          // Gmail with a copy per label: the copies outnumber the source's messages, total unknown.
          total = gmail && o.gmailLabels === "folders" ? undefined : m;
          foldersTotal = f;
        },
      });
      const rep = imp.report;
      bar.done({ label: "import", done: rep.messages, total: rep.messages, bytes: rep.bytes, detail: `${r.folders} folders` });
      print(io, `Imported ${rep.imported} new message${rep.imported === 1 ? "" : "s"} (${formatSize(rep.bytes)}) into ${user.address} from ${r.folders} folder${r.folders === 1 ? "" : "s"}${r.gmail ? ` (Gmail: All Mail, Trash and Spam, placed by X-GM-LABELS as ${o.gmailLabels})` : ""}; ${rep.skipped} already there`);
    } catch (e) {
      const err = e as { authenticationFailed?: boolean; message?: string; code?: string };
      if (err?.authenticationFailed) throw new CliError(`${url}: login refused for ${o.login}`);
      if (err?.code && /^E[A-Z]+$/.test(err.code)) throw new CliError(`${url}: ${err.message ?? err.code}`);
      throw e;
    } finally {
      checkpoint.close();
      await storage.close();
    }
  });
}
