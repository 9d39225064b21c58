// Export of one account to mbox (mboxrd), Maildir (Maildir++ as Dovecot lays it out) or a ZIP
// of .eml files with a manifest. Message bytes are exactly what IMAP FETCH BODY[] serves: the
// trace headers kept in the message row, then the blob (src/imap/message-source.ts), streamed
// from the same FileBlobStore the IMAP server reads. Memory stays flat whatever the account
// size: message rows are read in UID batches, bodies stream chunk by chunk, and the ZIP's
// central directory and manifest are spooled to temporary files.
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, rename, rm, utimes, writeFile, stat } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import path from "node:path";
import { createHash } from "node:crypto";
import { once } from "node:events";
import type { BlobStore, MailboxRecord, MessageRecord, MetadataStore, UserRecord } from "../store/types.ts";
import { traceBytes } from "../imap/message-source.ts";
import { encodeMutf7 } from "../imap/mutf7.ts";
import { FromQuoter } from "./mbox.ts";
import { asctime, maildirInfo, mboxStatus } from "./flags.ts";
import { ZipWriter } from "./zip.ts";

export type ExportFormat = "mbox" | "maildir" | "eml-zip";
export const EXPORT_FORMATS: readonly ExportFormat[] = ["mbox", "maildir", "eml-zip"];

export interface ExportProgress {
  folder: string;
  folders: number;
  foldersTotal: number;
  messages: number;
  messagesTotal: number;
  bytes: number;
  bytesTotal: number;
}

export interface ExportOptions {
  store: MetadataStore;
  blobs: BlobStore;
  user: UserRecord;
  format: ExportFormat;
  /** mbox: a directory of one .mbox file per folder; maildir: the Maildir root; eml-zip: the .zip file. */
  out: string;
  /** Only messages whose internal date is at or after this (ms). */
  since?: number;
  onProgress?: (p: ExportProgress) => void;
  /** More files beside the mail (the address books and calendars, issue 11): at the top of the folder or zip. */
  extraFiles?: Array<{ name: string; data: Buffer }>;
}

export interface ExportReport {
  folders: number;
  messages: number;
  bytes: number;
}

const BATCH = 500;

/** The message rows of a folder in UID order, BATCH at a time (never the whole folder at once). */
export async function* messagesOf(store: MetadataStore, mb: MailboxRecord, since?: number): AsyncGenerator<MessageRecord> {
  for (let from = 1; from < mb.uidNext; from += BATCH) {
    const uids = Array.from({ length: Math.min(BATCH, mb.uidNext - from) }, (_, i) => from + i);
    for (const m of await store.mail.getMessages(mb.id, uids)) if (since === undefined || m.internalDate >= since) yield m;
  }
}

/** The bytes IMAP BODY[] serves for a message, as a stream of chunks. */
export async function* messageBytes(blobs: BlobStore, rec: MessageRecord): AsyncGenerator<Buffer> {
  const trace = traceBytes(rec);
  if (trace.length) yield trace;
  for await (const c of await blobs.read(rec.blobId)) yield typeof c === "string" ? Buffer.from(c) : (c as Buffer);
}

/** A folder name as a relative path (mbox files, ZIP entries): "/" separates levels. */
function safeSegments(name: string): string[] {
  return name.split("/").map((s) => (s === "" || s === "." || s === ".." ? encodeURIComponent(s || "_") : s.replace(/[\0]/g, "_")));
}

/** Maildir++ folder directory: ".A.B" with "." inside a name written as mUTF-7 "&AC4-". */
export function maildirFolderDir(name: string): string {
  if (name.toUpperCase() === "INBOX") return "";
  return "." + name.split("/").map((s) => encodeMutf7(s).replace(/\./g, "&AC4-")).join(".");
}

class Out {
  #fh: FileHandle;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  constructor(fh: FileHandle) {
    this.#fh = fh;
  }
  static async open(p: string): Promise<Out> {
    return new Out(await open(p, "w", 0o600));
  }
  async write(b: Buffer): Promise<void> {
    this.#pending.push(b);
    this.#pendingBytes += b.length;
    if (this.#pendingBytes >= 256 * 1024) await this.flush();
  }
  async flush(): Promise<void> {
    if (!this.#pendingBytes) return;
    const b = Buffer.concat(this.#pending);
    this.#pending = [];
    this.#pendingBytes = 0;
    let done = 0;
    while (done < b.length) done += (await this.#fh.write(b, done, b.length - done)).bytesWritten;
  }
  async close(): Promise<void> {
    await this.flush();
    await this.#fh.sync();
    await this.#fh.close();
  }
}

export async function exportAccount(o: ExportOptions): Promise<ExportReport> {
  const mailboxes = (await o.store.mail.listMailboxes(o.user.id)).sort((a, b) => (a.name === "INBOX" ? -1 : b.name === "INBOX" ? 1 : a.name < b.name ? -1 : 1));
  const p: ExportProgress = { folder: "", folders: 0, foldersTotal: mailboxes.length, messages: 0, messagesTotal: 0, bytes: 0, bytesTotal: 0 };
  for (const mb of mailboxes) {
    for await (const m of messagesOf(o.store, mb, o.since)) {
      p.messagesTotal++;
      p.bytesTotal += m.size;
    }
  }
  const tick = () => o.onProgress?.({ ...p });
  if (o.format === "mbox") await exportMbox(o, mailboxes, p, tick);
  else if (o.format === "maildir") await exportMaildir(o, mailboxes, p, tick);
  else await exportZip(o, mailboxes, p, tick);
  if (o.format !== "eml-zip") for (const f of o.extraFiles ?? []) await writeFile(path.join(o.out, f.name), f.data, { mode: 0o600 });
  p.folder = "";
  tick();
  return { folders: p.folders, messages: p.messages, bytes: p.bytes };
}

type Tick = () => void;

async function exportMbox(o: ExportOptions, mailboxes: MailboxRecord[], p: ExportProgress, tick: Tick): Promise<void> {
  await mkdir(o.out, { recursive: true, mode: 0o700 });
  for (const mb of mailboxes) {
    p.folder = mb.name;
    const segs = safeSegments(mb.name);
    const file = path.join(o.out, ...segs.slice(0, -1).map((s) => s + ".sbd"), segs[segs.length - 1] + ".mbox");
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const out = await Out.open(file);
    for await (const m of messagesOf(o.store, mb, o.since)) {
      await out.write(Buffer.from(`From MAILER-DAEMON ${asctime(m.internalDate)}\n`, "latin1"));
      const q = new FromQuoter();
      let first = true;
      let lastByte = 0x0a;
      for await (const chunk of messageBytes(o.blobs, m)) {
        if (first) {
          first = false;
          const nl = chunk.indexOf(0x0a);
          const eol = nl > 0 && chunk[nl - 1] === 0x0d ? "\r\n" : nl < 0 && chunk.includes(0x0d) ? "\r\n" : nl < 0 ? "\r\n" : "\n";
          const s = mboxStatus(m.flags);
          await out.write(Buffer.from(`Status: ${s.status}${eol}X-Status: ${s.xStatus}${eol}X-Keywords: ${s.keywords.join(" ")}${eol}`, "utf8"));
        }
        for (const b of q.push(chunk)) await out.write(b);
        if (chunk.length) lastByte = chunk[chunk.length - 1];
      }
      for (const b of q.end()) await out.write(b);
      // mboxrd: an empty line ends each message. A message without a final line end gains one.
      await out.write(Buffer.from(lastByte === 0x0a ? "\n" : "\n\n"));
      p.messages++;
      p.bytes += m.size;
      tick();
    }
    await out.close();
    p.folders++;
    tick();
  }
}

async function exportMaildir(o: ExportOptions, mailboxes: MailboxRecord[], p: ExportProgress, tick: Tick): Promise<void> {
  let n = 0;
  for (const mb of mailboxes) {
    p.folder = mb.name;
    const dir = path.join(o.out, maildirFolderDir(mb.name));
    for (const sub of ["cur", "new", "tmp"]) await mkdir(path.join(dir, sub), { recursive: true, mode: 0o700 });
    if (dir !== o.out) await writeFile(path.join(dir, "maildirfolder"), "", { mode: 0o600 });
    // Keywords: the folder's dovecot-keywords list, built as messages are written, saved at the end.
    const keywords = new Map<string, number>();
    const index = (kw: string) => {
      let i = keywords.get(kw);
      if (i === undefined) keywords.set(kw, (i = keywords.size));
      return i;
    };
    for await (const m of messagesOf(o.store, mb, o.since)) {
      const secs = Math.floor(m.internalDate / 1000);
      const base = `${secs}.M${(m.internalDate % 1000) * 1000}P${process.pid}Q${++n}.freehold,S=${m.size}`;
      const tmp = path.join(dir, "tmp", base);
      const out = await Out.open(tmp);
      for await (const chunk of messageBytes(o.blobs, m)) await out.write(chunk);
      await out.close();
      const final = path.join(dir, "cur", `${base}:${maildirInfo(m.flags, index)}`);
      // The file's mtime is the message's internal date (Dovecot reads INTERNALDATE from it).
      await utimes(tmp, m.internalDate / 1000, m.internalDate / 1000);
      await rename(tmp, final);
      p.messages++;
      p.bytes += m.size;
      tick();
    }
    if (keywords.size) {
      const text = [...keywords].map(([k, i]) => `${i} ${k}\n`).join("");
      await writeFile(path.join(dir, "dovecot-keywords"), text, { mode: 0o600 });
    }
    p.folders++;
    tick();
  }
  // Folder subscriptions, as Dovecot keeps them for Maildir++.
  const subs = mailboxes.filter((m) => m.subscribed).map((m) => m.name.replace(/\//g, ".") + "\n").join("");
  await writeFile(path.join(o.out, "subscriptions"), subs, { mode: 0o600 });
}

export interface ManifestEntry {
  path: string;
  folder: string;
  specialUse: string | null;
  uid: number;
  flags: string[];
  internalDate: number;
  size: number;
  sha256: string;
}

async function exportZip(o: ExportOptions, mailboxes: MailboxRecord[], p: ExportProgress, tick: Tick): Promise<void> {
  await mkdir(path.dirname(o.out), { recursive: true });
  const zip = await ZipWriter.create(o.out);
  const manifestPath = o.out + ".manifest.tmp";
  const manifest = createWriteStream(manifestPath, { mode: 0o600 });
  try {
    for (const mb of mailboxes) {
      p.folder = mb.name;
      const folderPath = safeSegments(mb.name).join("/");
      for await (const m of messagesOf(o.store, mb, o.since)) {
        const name = `${folderPath}/${String(m.uid).padStart(8, "0")}.eml`;
        const h = createHash("sha256");
        const src = (async function* () {
          for await (const c of messageBytes(o.blobs, m)) {
            h.update(c);
            yield c;
          }
        })();
        await zip.add(name, m.internalDate, src);
        const e: ManifestEntry = { path: name, folder: mb.name, specialUse: mb.specialUse, uid: m.uid, flags: m.flags, internalDate: m.internalDate, size: m.size, sha256: h.digest("hex") };
        if (!manifest.write(JSON.stringify(e) + "\n")) await once(manifest, "drain");
        p.messages++;
        p.bytes += m.size;
        tick();
      }
      p.folders++;
      tick();
    }
    manifest.end();
    await once(manifest, "finish");
    const folders = mailboxes.map((m) => ({ name: m.name, specialUse: m.specialUse, subscribed: m.subscribed, uidValidity: m.uidValidity }));
    await zip.add("folders.json", Date.now(), (async function* () {
      yield Buffer.from(JSON.stringify(folders, null, 1) + "\n");
    })());
    await zip.add("manifest.jsonl", Date.now(), createReadStream(manifestPath) as AsyncIterable<Buffer>);
    for (const f of o.extraFiles ?? []) {
      await zip.add(f.name, Date.now(), (async function* () {
        yield f.data;
      })());
    }
    await zip.finish();
  } catch (e) {
    await zip.abort();
    throw e;
  } finally {
    manifest.destroy();
    await rm(manifestPath, { force: true });
  }
  await stat(o.out);
}
