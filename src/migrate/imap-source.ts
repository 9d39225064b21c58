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
import { ImapFlow } from "imapflow";
import type { Importer } from "./import.ts";
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
  /** Messages at the source over all folders copied (STATUS MESSAGES), known before the copy. */
  onTotal?: (messages: number, folders: number) => void;
  /** Max reconnect attempts per folder; default 6 (1 s, 2 s, 4 s, … between them). */
  retries?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Maps an error of the importer (e.g. over quota) before it ends the run. */
  onError?: (e: unknown) => never;
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
}

export interface ImapImportReport {
  folders: number;
  fetched: number;
}

export async function importFromImap(o: ImapSourceOptions): Promise<ImapImportReport> {
  const c0 = client(o);
  await c0.connect();
  let folders: Folder[];
  try {
    const list = await c0.list();
    folders = list
      .filter((m) => !m.flags.has("\\Noselect") && !m.flags.has("\\NonExistent") && !(m.specialUse && SKIP_USE.has(m.specialUse)))
      .map((m) => ({ path: m.path, name: m.path.toUpperCase() === "INBOX" ? "INBOX" : m.delimiter ? m.path.split(m.delimiter).join("/") : m.path, specialUse: m.specialUse ?? null }));
    let total = 0;
    for (const f of folders) {
      const st = await c0.status(f.path, { messages: true });
      total += (st && st.messages) || 0;
    }
    o.onTotal?.(total, folders.length);
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
  return { folders: folders.length, fetched };
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
    const metas: Array<{ uid: number; flags: string[]; date: number; size: number }> = [];
    for await (const m of c.fetch(`${since + 1}:*`, { uid: true, flags: true, internalDate: true, size: true }, { uid: true })) {
      if (m.uid <= since) continue; // "n:*" always includes the highest UID (RFC 9051 §6.4.4.1)
      const d = m.internalDate instanceof Date ? m.internalDate.getTime() : Date.parse(String(m.internalDate));
      metas.push({ uid: m.uid, flags: [...(m.flags ?? [])], date: d, size: m.size ?? 0 });
    }
    const scope = `imap:${o.url}/${f.path}`;
    // Small bodies come BATCH at a time in one UID FETCH (at most BATCH_BYTES held), large ones
    // alone in 1 MiB pieces; either way in UID order, so the checkpoint's last UID is exact.
    for (let i = 0; i < metas.length && !stop.failed; ) {
      const batch: typeof metas = [];
      let bytes = 0;
      while (i < metas.length && batch.length < BATCH && (batch.length === 0 || bytes + metas[i].size <= BATCH_BYTES)) {
        const m = metas[i];
        if (m.size > SMALL && batch.length > 0) break;
        batch.push(m);
        bytes += m.size;
        i++;
        if (m.size > SMALL) break;
      }
      const todo = batch.filter((m) => !o.importer.isDone(scope, `${uidValidity}:${m.uid}`));
      const bodies = new Map<number, Buffer>();
      if (todo.length && todo[0].size <= SMALL) {
        for await (const r of c.fetch(todo.map((m) => m.uid).join(","), { uid: true, source: true }, { uid: true })) if (r.source) bodies.set(r.uid, r.source);
      }
      if (batch.length && batch[0].size <= SMALL) {
        // Small ones: one batch into the store (one group commit), then the checkpoint.
        const items = batch
          .filter((m) => bodies.has(m.uid) || o.importer.isDone(scope, `${uidValidity}:${m.uid}`))
          .map((m) => ({ folder: f.name, specialUse: f.specialUse, flags: m.flags, internalDate: m.date, bytes: bodies.get(m.uid) ?? Buffer.alloc(0), scope, key: `${uidValidity}:${m.uid}` }));
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
        if (stop.failed) break; // another folder failed: end without touching the store again
        const key = `${uidValidity}:${m.uid}`;
        let body: Buffer | AsyncIterable<Buffer> | undefined;
        if (o.importer.isDone(scope, key)) body = Buffer.alloc(0); // counted as already there
        else {
          const dl = await c.download(String(m.uid), undefined, { uid: true, chunkSize: 1 << 20 });
          if ("content" in dl && dl.content) body = dl.content as AsyncIterable<Buffer>;
        }
        if (body === undefined) continue; // expunged at the source meanwhile
        try {
          if (await o.importer.add({ folder: f.name, specialUse: f.specialUse, flags: m.flags, internalDate: m.date, bytes: body, scope, key })) n++;
        } catch (e) {
          throw new ImporterError(e);
        }
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
