// Import into one account: the sink every source feeds (mbox, Maildir, .eml files, IMAP), and
// the file sources. A message is staged into a temporary blob while its SHA-256 is computed,
// then committed through the DeliveryWriter (the durable path SMTP and IMAP APPEND use) with
// its flags and internal date, and no trace headers, so IMAP BODY[] serves the source bytes.
//
// Idempotence: a message's key in a source folder is sha256 + "#" + n, n counting identical
// messages in that folder (so real duplicates at the source are imported as many times as they
// occur, and a re-run adds nothing). Keys are recorded in ImportCheckpoint: "pending" before the
// delivery, "done" after it. A run killed between the two leaves a pending key; the next run
// resolves it by looking at the target folder's newest message (deliveries into one folder are
// sequential here): same blob SHA-256 → done, else the key is forgotten and imported again.
import { createReadStream } from "node:fs";
import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import readline from "node:readline";
import type { BlobStore, MailboxRecord, MetadataStore, StagedBlob, StagingBlobStore, UserRecord } from "../store/types.ts";
import type { DeliveryWriter } from "../store/delivery.ts";
import type { ImportCheckpoint } from "../store/sqlite/import-checkpoint.ts";
import { decodeMutf7 } from "../imap/mutf7.ts";
import { flagsFromMboxStatus, parseDovecotKeywords, parseFromLineDate, parseMaildirInfo, sanitizeKeyword } from "./flags.ts";
import { headerValue, leadingStatusBlock, readMbox } from "./mbox.ts";
import type { ManifestEntry } from "./export.ts";

export interface SourceMessage {
  /** Target folder, "/"-separated ("INBOX", "Work/Projects"). */
  folder: string;
  /** RFC 6154 attribute of the source folder, mapped onto ours. */
  specialUse?: string | null;
  flags: string[];
  internalDate: number;
  /** The message bytes, whole or streamed. */
  bytes: Buffer | AsyncIterable<Buffer>;
  /** Checkpoint scope; default "<kind>:<folder>". */
  scope?: string;
  /** A stable key within the scope (IMAP: "UIDVALIDITY:UID"); default SHA-256 + occurrence. */
  key?: string;
}

export interface ImportProgress {
  folder: string;
  messages: number;
  imported: number;
  skipped: number;
  bytes: number;
}

export interface ImportTarget {
  store: MetadataStore;
  blobs: StagingBlobStore & BlobStore;
  writer: DeliveryWriter;
  checkpoint: ImportCheckpoint;
  user: UserRecord;
  /** Effective quota in bytes (0 = unlimited). */
  quotaBytes: number;
  onProgress?: (p: ImportProgress) => void;
}

export interface ImportReport {
  messages: number;
  imported: number;
  skipped: number;
  bytes: number;
  folders: string[];
}

/** The most messages addMany() delivers at once (the pending keys a kill can leave in a folder). */
export const PENDING_WINDOW = 200;

const SYSTEM_FLAGS = new Map(["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"].map((f) => [f.toLowerCase(), f]));

export function normalizeFlags(flags: readonly string[]): string[] {
  const out = new Set<string>();
  for (const f of flags) {
    if (f.startsWith("\\")) {
      const s = SYSTEM_FLAGS.get(f.toLowerCase());
      if (s) out.add(s); // \Recent and unknown system flags are not stored
    } else if (f !== "") out.add(sanitizeKeyword(f));
  }
  return [...out];
}

/** RFC 6154 special-use by a well-known folder name, for sources that do not say. */
export function specialUseByName(name: string): string | null {
  const n = name.toLowerCase().replace(/^\[gmail\]\//, "");
  if (["sent", "sent items", "sent messages", "sent mail"].includes(n)) return "\\Sent";
  if (["drafts", "draft"].includes(n)) return "\\Drafts";
  if (["trash", "deleted items", "deleted messages", "bin"].includes(n)) return "\\Trash";
  if (["junk", "spam", "junk e-mail", "junk email", "bulk mail"].includes(n)) return "\\Junk";
  if (["archive", "archives", "all mail"].includes(n)) return "\\Archive";
  return null;
}

export class Importer {
  #t: ImportTarget;
  #folders = new Map<string, MailboxRecord>();
  #occurrences = new Map<string, number>();
  #resolved: Promise<void> | null = null;
  readonly report: ImportReport = { messages: 0, imported: 0, skipped: 0, bytes: 0, folders: [] };

  constructor(t: ImportTarget) {
    this.#t = t;
  }

  /** Resolve keys left pending by an interrupted run (see the header). */
  #resolvePending(): Promise<void> {
    return (this.#resolved ??= this.#doResolve());
  }

  async #doResolve(): Promise<void> {
    for (const p of this.#t.checkpoint.pending(this.#t.user.id)) {
      const mb = await this.#t.store.mail.getMailboxById(p.mailboxId);
      let done = false;
      if (mb && mb.uidNext > 1) {
        // A batch (addMany) delivers up to PENDING_WINDOW messages at once: look at that many.
        const from = Math.max(1, mb.uidNext - PENDING_WINDOW);
        const recent = await this.#t.store.mail.getMessages(mb.id, Array.from({ length: mb.uidNext - from }, (_, i) => from + i));
        for (const r of recent) if ((await this.#t.store.blobs.get(r.blobId))?.sha256 === p.sha256) done = true;
      }
      if (done) await this.#t.checkpoint.mark(p, "done", p.mailboxId, p.sha256);
      else await this.#t.checkpoint.forget(p);
    }
  }

  /** The account folder for a source folder: ours with the same special-use, else by name (created). */
  async folder(name: string, specialUse: string | null | undefined): Promise<MailboxRecord> {
    const cacheKey = `${specialUse ?? ""}\0${name}`;
    const hit = this.#folders.get(cacheKey);
    if (hit) return hit;
    const isInbox = name.toUpperCase() === "INBOX";
    const use = isInbox ? null : specialUse ?? specialUseByName(name);
    let mb: MailboxRecord | null = null;
    const all = await this.#t.store.mail.listMailboxes(this.#t.user.id);
    if (isInbox) mb = all.find((m) => m.name.toUpperCase() === "INBOX") ?? null;
    else if (use) mb = all.find((m) => m.specialUse === use) ?? null;
    if (!mb) mb = all.find((m) => m.name === name) ?? null;
    if (!mb) mb = await this.#create(name, use, all);
    this.#folders.set(cacheKey, mb);
    if (!this.report.folders.includes(mb.name)) this.report.folders.push(mb.name);
    return mb;
  }

  /** Creates a folder and its parents; a folder created meanwhile (parallel imports) is fine. */
  async #create(name: string, use: string | null, all: MailboxRecord[]): Promise<MailboxRecord> {
    const mail = this.#t.store.mail;
    const uid = this.#t.user.id;
    const ensure = async (n: string, u: string | null) => {
      try {
        return await mail.createMailbox(uid, n, u);
      } catch (e) {
        const got = await mail.getMailbox(uid, n);
        if (got) return got;
        throw e;
      }
    };
    {
      // Parents first, so the hierarchy exists for LIST.
      const segs = name.split("/");
      for (let i = 1; i < segs.length; i++) {
        const parent = segs.slice(0, i).join("/");
        if (!all.some((m) => m.name === parent) && !(await mail.getMailbox(uid, parent))) await ensure(parent, null);
      }
      return (await mail.getMailbox(uid, name)) ?? (await ensure(name, use));
    }
  }

  async #stage(bytes: Buffer | AsyncIterable<Buffer>): Promise<StagedBlob> {
    const w = this.#t.blobs.create();
    try {
      if (Buffer.isBuffer(bytes)) await w.write(bytes);
      else for await (const c of bytes) await w.write(c);
      return await w.finish();
    } catch (e) {
      await w.abort().catch(() => undefined);
      throw e;
    }
  }

  /** Imports one message unless its key is already done. Returns true when it was added. */
  /** Whether a message with this explicit key was imported already (IMAP: skip the FETCH). */
  isDone(scope: string, key: string): boolean {
    return this.#t.checkpoint.state({ userId: this.#t.user.id, scope, key }) === "done";
  }

  async add(m: SourceMessage): Promise<boolean> {
    await this.#resolvePending();
    const mb = await this.folder(m.folder, m.specialUse);
    const scope = m.scope ?? `folder:${mb.name}`;
    // The key before staging when it can be known (given, or the bytes are in memory), so a
    // re-run does not write and fsync every message only to throw it away.
    let key: { userId: number; scope: string; key: string } | null = null;
    const keyOf = (sha: string) => {
      const occKey = `${scope}\0${sha}`;
      const n = (this.#occurrences.get(occKey) ?? 0) + 1;
      this.#occurrences.set(occKey, n);
      return { userId: this.#t.user.id, scope, key: m.key ?? `${sha}#${n}` };
    };
    if (m.key !== undefined) key = { userId: this.#t.user.id, scope, key: m.key };
    else if (Buffer.isBuffer(m.bytes)) key = keyOf(createHash("sha256").update(m.bytes).digest("hex"));
    this.report.messages++;
    const skip = () => {
      this.report.skipped++;
      this.#tick(mb.name);
      return false;
    };
    if (key && this.#t.checkpoint.state(key) === "done") {
      if (!Buffer.isBuffer(m.bytes)) (m.bytes as { destroy?: () => void }).destroy?.();
      return skip();
    }
    const staged = await this.#stage(m.bytes);
    key ??= keyOf(staged.sha256);
    if (this.#t.checkpoint.state(key) === "done") {
      await this.#t.blobs.discard(staged);
      return skip();
    }
    await this.#t.checkpoint.mark(key, "pending", mb.id, staged.sha256);
    await this.#t.writer.deliver({
      blob: staged,
      targets: [{ mailboxId: mb.id, traceHeaders: "", flags: normalizeFlags(m.flags), internalDate: m.internalDate, quotaBytes: this.#t.quotaBytes > 0 ? this.#t.quotaBytes : null }],
      queue: [],
    });
    await this.#t.checkpoint.mark(key, "done", mb.id, staged.sha256);
    this.report.imported++;
    this.report.bytes += staged.size;
    this.#tick(mb.name);
    return true;
  }

  /**
   * Several in-memory messages of one folder with explicit keys (an IMAP batch): staged side by
   * side, marked pending in one commit, delivered in one group commit in the given order (UIDs
   * follow it), marked done in one commit. At most PENDING_WINDOW at a time.
   */
  async addMany(ms: Array<SourceMessage & { bytes: Buffer; key: string }>): Promise<number> {
    if (ms.length > PENDING_WINDOW) throw new Error("addMany: batch too large");
    await this.#resolvePending();
    const todo: Array<{ m: (typeof ms)[number]; mb: MailboxRecord; scope: string }> = [];
    for (const m of ms) {
      const mb = await this.folder(m.folder, m.specialUse);
      const scope = m.scope ?? `folder:${mb.name}`;
      this.report.messages++;
      if (this.#t.checkpoint.state({ userId: this.#t.user.id, scope, key: m.key }) === "done") {
        this.report.skipped++;
        continue;
      }
      todo.push({ m, mb, scope });
    }
    if (todo.length === 0) {
      if (ms.length) this.#tick(ms[0].folder);
      return 0;
    }
    const staged = await Promise.all(todo.map((t) => this.#stage(t.m.bytes)));
    const keys = todo.map((t, i) => ({ userId: this.#t.user.id, scope: t.scope, key: t.m.key, mailboxId: t.mb.id, sha256: staged[i].sha256 }));
    await this.#t.checkpoint.markMany(keys, "pending");
    const quotaBytes = this.#t.quotaBytes > 0 ? this.#t.quotaBytes : null;
    const results = await Promise.allSettled(
      todo.map((t, i) =>
        this.#t.writer.deliver({ blob: staged[i], targets: [{ mailboxId: t.mb.id, traceHeaders: "", flags: normalizeFlags(t.m.flags), internalDate: t.m.internalDate, quotaBytes }], queue: [] }),
      ),
    );
    const ok = keys.filter((_, i) => results[i].status === "fulfilled");
    await this.#t.checkpoint.markMany(ok, "done");
    for (let i = 0; i < todo.length; i++) {
      if (results[i].status === "fulfilled") {
        this.report.imported++;
        this.report.bytes += staged[i].size;
      }
    }
    this.#tick(todo[todo.length - 1].mb.name);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
    return ok.length;
  }

  #tick(folder: string): void {
    this.#t.onProgress?.({ folder, messages: this.report.messages, imported: this.report.imported, skipped: this.report.skipped, bytes: this.report.bytes });
  }
}

// ---- Sources -------------------------------------------------------------------------------

export type GmailLabelMode = "folders" | "keywords";

/** X-Gmail-Labels: comma-separated, a label with a comma is quoted. */
export function parseGmailLabels(v: string): string[] {
  const out: string[] = [];
  const re = /\s*(?:"((?:[^"\\]|\\.)*)"|([^,]*))\s*(?:,|$)/gy;
  let r: RegExpExecArray | null;
  while (re.lastIndex < v.length && (r = re.exec(v))) {
    const s = (r[1] !== undefined ? r[1].replace(/\\(.)/g, "$1") : r[2]).trim();
    if (s !== "") out.push(s);
    if (r[0] === "") break;
  }
  return out;
}

const GMAIL_SYSTEM: Record<string, { folder?: string; specialUse?: string; flag?: string; ignore?: boolean }> = {
  inbox: { folder: "INBOX" },
  sent: { folder: "Sent", specialUse: "\\Sent" },
  drafts: { folder: "Drafts", specialUse: "\\Drafts", flag: "\\Draft" },
  draft: { folder: "Drafts", specialUse: "\\Drafts", flag: "\\Draft" },
  spam: { folder: "Junk", specialUse: "\\Junk" },
  trash: { folder: "Trash", specialUse: "\\Trash" },
  archived: { ignore: true },
  opened: { flag: "\\Seen" },
  unread: { ignore: true },
  starred: { flag: "\\Flagged" },
  important: { flag: "$Important" },
  chat: { folder: "Chats" },
};

/**
 * Where a Takeout message goes. folders mode: once per label (Gmail's own IMAP view), user
 * labels as folders ("/" nests); keywords mode: once, in INBOX/Sent/Drafts/Junk/Trash or else
 * Archive, with user labels as keywords. "Opened" → \Seen, "Starred" → \Flagged,
 * "Important" → $Important; "Category …" labels become keywords in both modes.
 */
export function gmailPlacement(labels: string[], mode: GmailLabelMode): GmailPlacement {
  const flags: string[] = [];
  const system: Array<{ name: string; specialUse: string | null }> = [];
  const user: string[] = [];
  for (const l of labels) {
    if (systemLabel(l, flags, system)) continue;
    if (/^category /i.test(l)) {
      flags.push("$" + l.replace(/^category /i, "Category_").replace(/\s+/g, "_"));
      continue;
    }
    user.push(l);
  }
  return place(flags, system, user, mode);
}

export type GmailPlacement = { flags: string[]; folders: Array<{ name: string; specialUse: string | null }> };

function systemLabel(l: string, flags: string[], system: Array<{ name: string; specialUse: string | null }>): boolean {
  const s = GMAIL_SYSTEM[l.toLowerCase()];
  if (!s) return false;
  if (s.flag) flags.push(s.flag);
  if (s.folder) system.push({ name: s.folder, specialUse: s.specialUse ?? null });
  return true;
}

/**
 * Where a message of Gmail's All Mail goes, from its X-GM-LABELS (Gmail IMAP extensions,
 * developers.google.com/gmail/imap/imap-extensions): the same placement as a Takeout message,
 * but over IMAP a system label is an atom with a backslash (\Inbox, \Sent, \Draft, \Important,
 * \Starred, \Trash, \Spam) and anything else is the user's label, even one called "Sent" or
 * "Opened". Unknown system labels (\Chats, …) are dropped.
 */
export function gmailImapPlacement(labels: Iterable<string>, mode: GmailLabelMode): GmailPlacement {
  const flags: string[] = [];
  const system: Array<{ name: string; specialUse: string | null }> = [];
  const user: string[] = [];
  for (const l of labels) {
    if (l.startsWith("\\")) {
      const name = l.slice(1).toLowerCase();
      if (name !== "chat" && name !== "opened" && name !== "archived" && name !== "unread") systemLabel(name, flags, system);
    } else if (l !== "") user.push(l);
  }
  return place(flags, system, user, mode);
}

function place(flags: string[], system: Array<{ name: string; specialUse: string | null }>, user: string[], mode: GmailLabelMode): GmailPlacement {
  let folders: Array<{ name: string; specialUse: string | null }>;
  if (mode === "folders") folders = [...system, ...user.map((u) => ({ name: u, specialUse: null }))];
  else {
    folders = system.length ? [system[0]] : [];
    for (const u of user) flags.push(u);
  }
  if (folders.length === 0) folders = [{ name: "Archive", specialUse: "\\Archive" }];
  const seen = new Set<string>();
  return { flags, folders: folders.filter((f) => (seen.has(f.name) ? false : (seen.add(f.name), true))) };
}

/** Messages of an mbox file (mboxrd/mboxo; Freehold's export; Google Takeout). */
export async function* mboxSource(file: string, opts: { folder?: string; gmailLabels?: GmailLabelMode; now: number }): AsyncGenerator<SourceMessage> {
  const folder = opts.folder ?? "INBOX";
  for await (const m of readMbox(createReadStream(file, { highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>)) {
    let bytes = m.bytes;
    let flags: string[];
    const own = leadingStatusBlock(bytes);
    if (own) {
      bytes = bytes.subarray(own.length);
      flags = flagsFromMboxStatus(own.status, own.xStatus, own.keywords);
    } else {
      flags = flagsFromMboxStatus(headerValue(bytes, "Status"), headerValue(bytes, "X-Status"), headerValue(bytes, "X-Keywords"));
    }
    let date = parseFromLineDate(m.fromLine);
    if (date === null) {
      const d = Date.parse(headerValue(bytes, "Date") ?? "");
      date = Number.isFinite(d) ? d : opts.now;
    }
    const labels = headerValue(bytes, "X-Gmail-Labels");
    if (labels !== undefined) {
      const place = gmailPlacement(parseGmailLabels(labels), opts.gmailLabels ?? "folders");
      for (const f of place.folders) yield { folder: f.name, specialUse: f.specialUse, flags: [...flags, ...place.flags], internalDate: date, bytes, scope: `gmail:${f.name}` };
      continue;
    }
    yield { folder, flags, internalDate: date, bytes, scope: `mbox:${folder}` };
  }
}

/** Folder name of a Maildir++ directory ".A.B" (mUTF-7, "&AC4-" for a "." inside a name). */
export function maildirFolderName(dir: string): string {
  return dir.slice(1).split(".").map((s) => decodeMutf7(s)).join("/");
}

/**
 * Messages of a Maildir++ tree (Dovecot's default layout; Freehold's export): the root is INBOX,
 * ".A.B" directories are folders; flags from the info suffix and dovecot-keywords; the internal
 * date is the file's mtime (as Dovecot's). Files are read one at a time, in name order.
 */
export async function* maildirSource(root: string): AsyncGenerator<SourceMessage> {
  const dirs: Array<{ dir: string; folder: string }> = [{ dir: root, folder: "INBOX" }];
  for (const e of (await readdir(root, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (e.isDirectory() && e.name.startsWith(".") && e.name !== "." && e.name !== "..") {
      const ok = await stat(path.join(root, e.name, "cur")).then(() => true, () => false);
      if (ok) dirs.push({ dir: path.join(root, e.name), folder: maildirFolderName(e.name) });
    }
  }
  for (const d of dirs) {
    const kwText = await readFile(path.join(d.dir, "dovecot-keywords"), "utf8").catch(() => "");
    const keywords = parseDovecotKeywords(kwText);
    for (const sub of ["new", "cur"]) {
      const names = await readdir(path.join(d.dir, sub)).catch(() => [] as string[]);
      for (const name of names.filter((n) => !n.startsWith(".")).sort()) {
        const file = path.join(d.dir, sub, name);
        const st = await stat(file);
        if (!st.isFile()) continue;
        yield {
          folder: d.folder,
          flags: sub === "cur" ? parseMaildirInfo(name, keywords) : [],
          internalDate: Math.round(st.mtimeMs),
          bytes: createReadStream(file, { highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>,
          scope: `maildir:${d.folder}`,
        };
      }
    }
  }
}

/**
 * Messages of a directory of .eml files (an unpacked eml-zip export, or any tree): with a
 * manifest.jsonl (Freehold's export), folders, flags and dates come from it, line by line;
 * without one, the directory path is the folder ("" is INBOX) and the date the file's mtime.
 */
export async function* emlSource(root: string): AsyncGenerator<SourceMessage> {
  const manifest = path.join(root, "manifest.jsonl");
  const has = await stat(manifest).then(() => true, () => false);
  if (has) {
    const folderUse = new Map<string, string | null>();
    const rl = readline.createInterface({ input: createReadStream(manifest), crlfDelay: Infinity });
    for await (const line of rl) {
      if (line.trim() === "") continue;
      const e = JSON.parse(line) as ManifestEntry;
      if (!folderUse.has(e.folder)) folderUse.set(e.folder, e.specialUse);
      const file = path.join(root, ...e.path.split("/"));
      if (!file.startsWith(path.resolve(root) + path.sep)) throw new Error(`manifest path outside the folder: ${e.path}`);
      yield { folder: e.folder, specialUse: e.specialUse, flags: e.flags, internalDate: e.internalDate, bytes: createReadStream(file) as AsyncIterable<Buffer>, scope: `eml:${e.folder}` };
    }
    return;
  }
  async function* walk(dir: string, rel: string[]): AsyncGenerator<SourceMessage> {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) yield* walk(p, [...rel, e.name]);
      else if (e.isFile() && e.name.toLowerCase().endsWith(".eml")) {
        const folder = rel.length ? rel.join("/") : "INBOX";
        const st = await stat(p);
        yield { folder, flags: [], internalDate: Math.round(st.mtimeMs), bytes: createReadStream(p) as AsyncIterable<Buffer>, scope: `eml:${folder}` };
      }
    }
  }
  yield* walk(root, []);
}
