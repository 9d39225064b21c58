// The SQLite MetadataStore: <dataDir>/meta.sqlite in WAL mode with synchronous=FULL.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Clock } from "../../clock.ts";
import { systemClock } from "../../clock.ts";
import type { IntegrityReport, MetadataStore, StoreRepos } from "../types.ts";
import { SqliteDb } from "./db.ts";
import { directContext, gatedContext } from "./context.ts";
import type { RepoContext } from "./context.ts";
import { migrate } from "./migrations.ts";
import { SqliteAccounts } from "./accounts.ts";
import { SqliteMail } from "./mail.ts";
import { SqliteQueue } from "./queue.ts";
import { SqliteBlobs } from "./blobs.ts";
import { SqliteAudit, SqliteSettings } from "./misc.ts";
import { SqliteAppPasswords } from "./app-passwords.ts";

export interface SqliteStoreOptions {
  clock?: Clock;
  busyTimeoutMs?: number;
  /** File name inside dataDir; default meta.sqlite. */
  fileName?: string;
}

function repos(c: RepoContext): StoreRepos {
  return {
    accounts: new SqliteAccounts(c),
    mail: new SqliteMail(c),
    queue: new SqliteQueue(c),
    blobs: new SqliteBlobs(c),
    settings: new SqliteSettings(c),
    audit: new SqliteAudit(c),
    appPasswords: new SqliteAppPasswords(c),
  };
}

export function openSqliteStore(dataDir: string, opts: SqliteStoreOptions = {}): MetadataStore {
  const clock = opts.clock ?? systemClock;
  mkdirSync(dataDir, { recursive: true });
  const db = new SqliteDb(join(dataDir, opts.fileName ?? "meta.sqlite"), { busyTimeoutMs: opts.busyTimeoutMs });
  migrate(db.db, clock.now());
  const outer = repos(gatedContext(db, clock));
  const inner = repos(directContext(db, clock));
  let committedRepos: StoreRepos | null = null;
  return {
    ...outer,
    transaction: (fn) => db.transaction(() => fn(inner)),
    readCommitted: (fn) => {
      // Repos on the read-only connection, made on first use (db.reader(): committed rows only).
      committedRepos ??= repos(directContext(db.reader(), clock));
      try {
        return Promise.resolve(fn(committedRepos));
      } catch (e) {
        return Promise.reject(e);
      }
    },
    integrityCheck: () => db.call(() => integrityCheck(db)),
    close: () => db.call(() => db.close()),
  };
}

function integrityCheck(db: SqliteDb): IntegrityReport {
  const problems: string[] = [];
  for (const r of db.all<{ integrity_check: string }>("PRAGMA integrity_check")) {
    if (r.integrity_check !== "ok") problems.push(`integrity_check: ${r.integrity_check}`);
  }
  for (const r of db.all<{ table: string; rowid: number; parent: string }>("PRAGMA foreign_key_check")) {
    problems.push(`foreign key: ${r.table} row ${r.rowid} references missing ${r.parent}`);
  }
  const drift = db.all<{ id: number; refcount: number; refs: number }>(
    `SELECT id, refcount, refs FROM (
       SELECT b.id, b.refcount,
         (SELECT count(*) FROM messages m WHERE m.blob_id = b.id) + (SELECT count(*) FROM queue_messages q WHERE q.blob_id = b.id) AS refs
       FROM blobs b) WHERE refs != refcount`,
  );
  for (const r of drift) problems.push(`blob ${r.id}: refcount ${r.refcount}, referenced by ${r.refs}`);
  const usage = db.all<{ id: number; usage_bytes: number; bytes: number; usage_messages: number; n: number }>(
    `SELECT u.id, u.usage_bytes, u.usage_messages, coalesce(s.bytes, 0) AS bytes, coalesce(s.n, 0) AS n FROM users u
     LEFT JOIN (SELECT b.user_id, sum(m.size) AS bytes, count(*) AS n FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id GROUP BY b.user_id) s
       ON s.user_id = u.id
     WHERE u.usage_bytes != coalesce(s.bytes, 0) OR u.usage_messages != coalesce(s.n, 0)`,
  );
  for (const r of usage) problems.push(`user ${r.id}: usage ${r.usage_bytes} B/${r.usage_messages} msgs, actual ${r.bytes} B/${r.n} msgs`);
  const uids = db.all<{ id: number }>(
    `SELECT b.id FROM mailboxes b WHERE b.uid_next <= (SELECT coalesce(max(uid), 0) FROM messages m WHERE m.mailbox_id = b.id)
       OR b.uid_next <= (SELECT coalesce(max(uid), 0) FROM expunged e WHERE e.mailbox_id = b.id)
       OR b.highest_modseq < (SELECT coalesce(max(modseq), 0) FROM messages m WHERE m.mailbox_id = b.id)`,
  );
  for (const r of uids) problems.push(`mailbox ${r.id}: uid_next or highest_modseq behind its messages`);
  return { ok: problems.length === 0, problems };
}
