// Import from another IMAP server (Gmail, Microsoft 365, Dovecot, any) with imapflow as the
// client. Every selectable folder is copied, special-use folders (RFC 6154) land on ours, flags,
// keywords and INTERNALDATE are kept. Per folder the checkpoint holds UIDVALIDITY and the last
// UID imported (RFC 9051 §2.3.1.1: a UID names the same message for as long as UIDVALIDITY is
// unchanged), so a later run asks only for UIDs above it (incremental), an interrupted run
// resumes, and a changed UIDVALIDITY restarts the folder (keys are UIDVALIDITY:UID, so nothing
// already imported under the old one is skipped wrongly; the messages come again). Folders are
// worked on in parallel by at most `connections` connections; a dropped connection is retried
// with exponential back-off. Bodies larger than SMALL stream in chunks (FETCH BODY.PEEK[]<n.m>,
// imapflow's download) straight into a temporary blob, never whole in memory.
//
// Gmail (CAPABILITY X-GM-EXT-1, developers.google.com/gmail/imap/imap-extensions): each label is
// an IMAP folder holding the same message again, so walking them would download a message once
// per label. Instead only All Mail (\All, RFC 6154) is walked, with X-GM-LABELS and X-GM-MSGID
// fetched beside FLAGS, and each message is placed by gmailImapPlacement (--gmail-labels
// folders|keywords, as for a Takeout mbox); Trash and Spam (\Trash, \Junk), which All Mail
// leaves out, are walked on their own into our Trash and Junk. The checkpoint is still
// UIDVALIDITY/UID per source folder; the dedupe key is X-GM-MSGID ("gm:<id>") within the target
// folder's scope, so a message reached twice (a re-run, a changed UIDVALIDITY, moved from Spam)
// is stored once per target folder.
import { ImapFlow } from "imapflow";
import { gmailImapPlacement } from "./import.ts";
import type { GmailLabelMode, Importer } from "./import.ts";
import type { ImportCheckpoint } from "../store/sqlite/import-checkpoint.ts";

export interface ImapSourceOptions {
  /** imaps://host[:port] or imap://host:port (STARTTLS when offered). */
  url: string;
  login: string;
  password?: string;
  /** An OAuth 2.0 access token: SASL XOAUTH2 or OAUTHBEARER (RFC 7628), whichever is offered. */
  accessToken?: string;
  connections: number;
  importer: Importer;
  checkpoint: ImportCheckpoint;
  userId: number;
  /** Test and self-signed peers: accept any certificate. Default false. */
  insecureTls?: boolean;
  onFolder?: (folder: string, state: "start" | "done", count: number) => void;
  /** Messages at the source over all folders copied (STATUS MESSAGES), known before the copy;
   * gmail: All Mail was chosen (with --gmail-labels folders a message may become several copies). */
  onTotal?: (messages: number, folders: number, gmail: boolean) => void;
  /** Max reconnect attempts per folder; default 6 (1 s, 2 s, 4 s, … between them). */
  retries?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Maps an error of the importer (e.g. over quota) before it ends the run. */
  onError?: (e: unknown) => never;
  /** Gmail (X-GM-EXT-1) only: a copy per label, or one copy with labels as keywords. Default folders. */
  gmailLabels?: GmailLabelMode;
}

const SMALL = 256 * 1024;
const BATCH = 100;
const BATCH_BYTES = 8 * 1024 * 1024;
/** Virtual views that hold copies of messages filed elsewhere (Gmail's All Mail, Starred). */
const SKIP_USE = new Set(["\\All", "\\Flagged", "\\Important"]);

export function parseImapUrl(url: string): { host: string; port: number; secure: boolean } {
  const r = /^(imaps?):\/\/(\[[^\]]+\]|[^/:]+)(?::(\d+))?\/?$/i.exec(url);
  if (!r) throw new Error(`not an imaps://host[:port] or imap://host:port URL: ${url}`);
  const secure = r[1].toLowerCase() === "imaps";
  if (!secure && !r[3]) throw new Error("imap:// needs an explicit port");
  return { host: r[2].replace(/^\[|\]$/g, ""), port: r[3] ? Number(r[3]) : 993, secure };
}

function client(o: ImapSourceOptions): ImapFlow {
  const u = parseImapUrl(o.url);
  return new ImapFlow({
    host: u.host,
    port: u.port,
    secure: u.secure,
    auth: o.accessToken !== undefined ? { user: o.login, accessToken: o.accessToken } : { user: o.login, pass: o.password ?? "" },
    logger: false,
    tls: o.insecureTls ? { rejectUnauthorized: false } : undefined,
    disableAutoIdle: true,
  } as ConstructorParameters<typeof ImapFlow>[0]);
}

interface Folder {
  path: string;
  name: string;
  specialUse: string | null;
  /** Gmail: All Mail (placed by labels), or Trash/Spam (placed there). */
  gmail?: "all" | "trash" | "junk";
}

export interface ImapImportReport {
  folders: number;
  fetched: number;
  /** The source offered X-GM-EXT-1 and All Mail was walked instead of the label folders. */
  gmail: boolean;
}

type Listed = { path: string; delimiter: string; flags: Set<string>; specialUse?: string };

function folderName(m: Listed): string {
  return m.path.toUpperCase() === "INBOX" ? "INBOX" : m.delimiter ? m.path.split(m.delimiter).join("/") : m.path;
}

/** Gmail: All Mail, Trash and Spam only; null when there is no \All folder (then walk them all). */
function gmailFolders(list: Listed[]): Folder[] | null {
  const sel = list.filter((m) => !m.flags.has("\\Noselect") && !m.flags.has("\\NonExistent"));
  const all = sel.find((m) => m.specialUse === "\\All");
  if (!all) return null;
  const out: Folder[] = [{ path: all.path, name: folderName(all), specialUse: "\\All", gmail: "all" }];
  const trash = sel.find((m) => m.specialUse === "\\Trash");
  if (trash) out.push({ path: trash.path, name: "Trash", specialUse: "\\Trash", gmail: "trash" });
  const junk = sel.find((m) => m.specialUse === "\\Junk");
  if (junk) out.push({ path: junk.path, name: "Junk", specialUse: "\\Junk", gmail: "junk" });
  return out;
}

export async function importFromImap(o: ImapSourceOptions): Promise<ImapImportReport> {
  const c0 = client(o);
  await c0.connect();
  let folders: Folder[];
  let gmail = false;
  try {
    const list = await c0.list();
    const gm = c0.capabilities.has("X-GM-EXT-1") ? gmailFolders(list) : null;
    gmail = gm !== null;
    folders =
      gm ??
      list
        .filter((m) => !m.flags.has("\\Noselect") && !m.flags.has("\\NonExistent") && !(m.specialUse && SKIP_USE.has(m.specialUse)))
        .map((m) => ({ path: m.path, name: folderName(m), specialUse: m.specialUse ?? null }));
    let total = 0;
    for (const f of folders) {
      const st = await c0.status(f.path, { messages: true });
      total += (st && st.messages) || 0;
    }
    o.onTotal?.(total, folders.length, gmail);
  } finally {
    await c0.logout().catch(() => undefined);
  }
  const queue = [...folders];
  let fetched = 0;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const stop = { failed: false };
  const worker = async () => {
    for (let f = queue.shift(); f && !stop.failed; f = queue.shift()) {
      for (let attempt = 0; ; attempt++) {
        try {
          fetched += await importFolder(o, f, stop);
          break;
        } catch (e) {
          if (stop.failed) return;
          if (attempt >= (o.retries ?? 6) || !isTransient(e)) {
            stop.failed = true;
            throw e;
          }
          await sleep(1000 * 2 ** attempt);
        }
      }
    }
  };
  // allSettled: every worker has stopped before the caller closes the store.
  const results = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(o.connections, folders.length)) }, worker));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    const inner = failed.reason instanceof ImporterError ? failed.reason.inner : failed.reason;
    if (o.onError) o.onError(inner);
    throw inner;
  }
  return { folders: folders.length, fetched, gmail };
}

/** One copy of a source message to store: a target folder, its flags, its checkpoint key. */
interface Copy {
  folder: string;
  specialUse: string | null;
  flags: string[];
  scope: string;
  key: string;
}

type Meta = { uid: number; flags: string[]; date: number; size: number; copies: Copy[] };

function copiesOf(o: ImapSourceOptions, f: Folder, uidValidity: number, m: { uid: number; flags: string[]; labels?: Set<string>; emailId?: string }): Copy[] {
  if (!f.gmail) return [{ folder: f.name, specialUse: f.specialUse, flags: m.flags, scope: `imap:${o.url}/${f.path}`, key: `${uidValidity}:${m.uid}` }];
  const key = m.emailId ? `gm:${m.emailId}` : `${f.path}:${uidValidity}:${m.uid}`;
  const p = gmailImapPlacement(m.labels ?? [], o.gmailLabels ?? "folders");
  const flags = [...new Set([...m.flags, ...p.flags])];
  const targets = f.gmail === "all" ? p.folders : [{ name: f.name, specialUse: f.specialUse }];
  return targets.map((t) => ({ folder: t.name, specialUse: t.specialUse, flags, scope: `gmail:${o.url}/${t.name}`, key }));
}

/** An error of our side (store, quota), not of the connection: never retried. */
class ImporterError extends Error {
  readonly inner: unknown;
  constructor(inner: unknown) {
    super(String((inner as Error)?.message ?? inner));
    this.inner = inner;
  }
}

function isTransient(e: unknown): boolean {
  if (e instanceof ImporterError) return false;
  const err = e as { code?: string; authenticationFailed?: boolean };
  if (err?.authenticationFailed) return false;
  return ["ECONNRESET", "EPIPE", "ETIMEDOUT", "ECONNREFUSED", "NoConnection", "ClosedAfterConnectTLS", "ClosedAfterConnectText"].includes(String(err?.code)) || /closed|timeout|connection/i.test(String((e as Error)?.message));
}

async function importFolder(o: ImapSourceOptions, f: Folder, stop: { failed: boolean }): Promise<number> {
  const c = client(o);
  await c.connect();
  let n = 0;
  try {
    const mb = await c.mailboxOpen(f.path, { readOnly: true });
    const uidValidity = Number(mb.uidValidity);
    const cp = o.checkpoint.imapGet(o.userId, o.url, f.path);
    const since = cp && cp.uidValidity === uidValidity ? cp.lastUid : 0;
    o.onFolder?.(f.name, "start", mb.exists);
    if (mb.exists === 0) {
      o.onFolder?.(f.name, "done", 0);
      return 0;
    }
    // Metadata first (small), then bodies one by one: a FETCH of many bodies at once would
    // make imapflow hold them all.
    // Gmail: X-GM-MSGID comes with every FETCH once X-GM-EXT-1 is offered (imapflow's emailId).
    const metas: Meta[] = [];
    for await (const m of c.fetch(`${since + 1}:*`, { uid: true, flags: true, internalDate: true, size: true, labels: !!f.gmail }, { uid: true })) {
      if (m.uid <= since) continue; // "n:*" always includes the highest UID (RFC 9051 §6.4.4.1)
      const d = m.internalDate instanceof Date ? m.internalDate.getTime() : Date.parse(String(m.internalDate));
      const flags = [...(m.flags ?? [])];
      metas.push({ uid: m.uid, flags, date: d, size: m.size ?? 0, copies: copiesOf(o, f, uidValidity, { uid: m.uid, flags, labels: m.labels, emailId: m.emailId }) });
    }
    const done = (m: Meta) => m.copies.every((k) => o.importer.isDone(k.scope, k.key));
    // Small bodies come BATCH at a time in one UID FETCH (at most BATCH_BYTES held), large ones
    // alone in 1 MiB pieces; either way in UID order, so the checkpoint's last UID is exact.
    for (let i = 0; i < metas.length && !stop.failed; ) {
      const batch: typeof metas = [];
      let bytes = 0;
      let copies = 0;
      while (i < metas.length && batch.length < BATCH && copies + metas[i].copies.length <= BATCH && (batch.length === 0 || bytes + metas[i].size <= BATCH_BYTES)) {
        const m = metas[i];
        if (m.size > SMALL && batch.length > 0) break;
        batch.push(m);
        bytes += m.size;
        copies += m.copies.length;
        i++;
        if (m.size > SMALL) break;
      }
      const todo = batch.filter((m) => !done(m));
      const bodies = new Map<number, Buffer>();
      if (todo.length && todo[0].size <= SMALL) {
        for await (const r of c.fetch(todo.map((m) => m.uid).join(","), { uid: true, source: true }, { uid: true })) if (r.source) bodies.set(r.uid, r.source);
      }
      if (batch.length && batch[0].size <= SMALL) {
        // Small ones: one batch into the store (one group commit), then the checkpoint.
        // A Gmail message's copies whose key is done are skipped by addMany (body unused).
        const items = batch
          .filter((m) => bodies.has(m.uid) || done(m))
          .flatMap((m) => m.copies.map((k) => ({ ...k, internalDate: m.date, bytes: bodies.get(m.uid) ?? Buffer.alloc(0) })));
        if (stop.failed) break;
        try {
          n += await o.importer.addMany(items);
        } catch (e) {
          throw new ImporterError(e);
        }
        await o.checkpoint.imapSet(o.userId, o.url, f.path, uidValidity, batch[batch.length - 1].uid);
        continue;
      }
      for (const m of batch) {
        // A large Gmail message with several copies is streamed once per copy still missing
        // (never held whole in memory).
        for (const k of m.copies) {
          if (stop.failed) break; // another folder failed: end without touching the store again
          let body: Buffer | AsyncIterable<Buffer> | undefined;
          if (o.importer.isDone(k.scope, k.key)) body = Buffer.alloc(0); // counted as already there
          else {
            const dl = await c.download(String(m.uid), undefined, { uid: true, chunkSize: 1 << 20 });
            if ("content" in dl && dl.content) body = dl.content as AsyncIterable<Buffer>;
          }
          if (body === undefined) break; // expunged at the source meanwhile
          try {
            if (await o.importer.add({ ...k, internalDate: m.date, bytes: body })) n++;
          } catch (e) {
            throw new ImporterError(e);
          }
        }
        if (stop.failed) break;
        await o.checkpoint.imapSet(o.userId, o.url, f.path, uidValidity, m.uid);
      }
    }
    if (metas.length === 0) await o.checkpoint.imapSet(o.userId, o.url, f.path, uidValidity, since);
    o.onFolder?.(f.name, "done", n);
    return n;
  } finally {
    await c.logout().catch(() => c.close());
  }
}
