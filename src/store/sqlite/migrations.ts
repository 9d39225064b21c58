// Schema migrations: ordered, each applied once in its own transaction and recorded in
// schema_migrations. Never edit a released migration; append a new one.
import { WEB_MIGRATION } from "./migration-web.ts";
import { AUDIT_RETENTION_MIGRATION } from "./migration-audit-retention.ts";
import type { DatabaseSync } from "node:sqlite";
import { chmodSync, rmSync } from "node:fs";
import { DKIM_MIGRATION } from "./migration-dkim.ts";
import { IDS_MIGRATION } from "./migration-ids.ts";
import { APP_PASSWORDS_MIGRATION } from "./migration-app-passwords.ts";
import { HEALTH_MIGRATION } from "./migration-health.ts";

export interface Migration {
  version: number;
  name: string;
  /** Statements to run; or run(), for a migration that reads the schema (migration-ids.ts). */
  sql?: string;
  run?: (db: DatabaseSync) => void;
  /**
   * Run with foreign keys off (a table rebuild: DROP TABLE would otherwise cascade). SQLite only
   * switches them outside a transaction, so migrate() does, and checks them before COMMIT.
   */
  foreignKeysOff?: boolean;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "initial schema",
    sql: `
CREATE TABLE domains (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE RESTRICT,
  local_part TEXT NOT NULL,
  address TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL DEFAULT '',
  password_hash TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('admin', 'domain-admin', 'user')),
  quota_bytes INTEGER,
  disabled INTEGER NOT NULL DEFAULT 0,
  -- Kept by every delivery, expunge and delete in the same transaction: quota checks at RCPT
  -- and delivery read one row instead of summing messages.
  usage_bytes INTEGER NOT NULL DEFAULT 0,
  usage_messages INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  UNIQUE (domain_id, local_part)
);
CREATE TABLE aliases (
  id INTEGER PRIMARY KEY,
  domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
  local_part TEXT NOT NULL,
  address TEXT NOT NULL UNIQUE,
  targets TEXT NOT NULL, -- JSON array of addresses
  created_at INTEGER NOT NULL,
  UNIQUE (domain_id, local_part)
);
CREATE TABLE mailboxes (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  special_use TEXT,
  uid_validity INTEGER NOT NULL,
  uid_next INTEGER NOT NULL DEFAULT 1,
  highest_modseq INTEGER NOT NULL DEFAULT 1,
  subscribed INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL,
  UNIQUE (user_id, name)
);
CREATE TABLE blobs (
  id INTEGER PRIMARY KEY,
  sha256 TEXT NOT NULL UNIQUE,
  size INTEGER NOT NULL,
  refcount INTEGER NOT NULL CHECK (refcount >= 0),
  location TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX blobs_unreferenced ON blobs (id) WHERE refcount = 0;
CREATE TABLE messages (
  id INTEGER PRIMARY KEY,
  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  flags TEXT NOT NULL DEFAULT '[]', -- JSON array: system flags and keywords
  internal_date INTEGER NOT NULL,
  size INTEGER NOT NULL,
  blob_id INTEGER NOT NULL REFERENCES blobs(id),
  trace_headers TEXT NOT NULL DEFAULT '',
  UNIQUE (mailbox_id, uid)
);
CREATE INDEX messages_modseq ON messages (mailbox_id, modseq);
CREATE INDEX messages_blob ON messages (blob_id);
-- RFC 7162 §3.2.5.1: expunged UIDs and the MODSEQ of their expunge, for VANISHED (EARLIER).
CREATE TABLE expunged (
  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX expunged_modseq ON expunged (mailbox_id, modseq);
CREATE TABLE queue_messages (
  id INTEGER PRIMARY KEY,
  blob_id INTEGER NOT NULL REFERENCES blobs(id),
  mail_from TEXT NOT NULL,
  ret TEXT CHECK (ret IN ('FULL', 'HDRS')),
  envid TEXT,
  trace_headers TEXT NOT NULL DEFAULT '',
  origin TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX queue_messages_blob ON queue_messages (blob_id);
CREATE TABLE queue_recipients (
  id INTEGER PRIMARY KEY,
  queue_id INTEGER NOT NULL REFERENCES queue_messages(id) ON DELETE CASCADE,
  recipient TEXT NOT NULL,
  orcpt TEXT,
  notify TEXT, -- JSON array (RFC 3461 §4.1) or NULL when not given
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_reply TEXT,
  updated_at INTEGER NOT NULL
);
CREATE INDEX queue_recipients_due ON queue_recipients (state, next_attempt_at);
CREATE INDEX queue_recipients_queue ON queue_recipients (queue_id);
CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE counters (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  detail TEXT
);
`,
  },
  // Outbound queue state (issue 4; src/queue/runner.ts). Version 20 leaves room for others.
  {
    version: 20,
    name: "outbound queue state and attempts",
    sql: `
ALTER TABLE queue_recipients ADD COLUMN delay_warned INTEGER NOT NULL DEFAULT 0;
-- Set durably before the final dot of DATA and cleared with the outcome: a row still set after
-- a restart is a delivery whose result we never saw (possibly delivered twice).
ALTER TABLE queue_recipients ADD COLUMN in_flight_at INTEGER;
ALTER TABLE queue_recipients ADD COLUMN status TEXT;
ALTER TABLE queue_recipients ADD COLUMN remote_mta TEXT;
ALTER TABLE queue_recipients ADD COLUMN route TEXT;
CREATE TABLE queue_attempts (
  id INTEGER PRIMARY KEY,
  queue_id INTEGER NOT NULL REFERENCES queue_messages(id) ON DELETE CASCADE,
  recipient_id INTEGER,
  at INTEGER NOT NULL,
  route TEXT NOT NULL,
  host TEXT,
  outcome TEXT NOT NULL,
  reply TEXT
);
CREATE INDEX queue_attempts_queue ON queue_attempts (queue_id);
`,
  },
  // When each message row was saved into its mailbox (delivery, APPEND, COPY, MOVE): retention
  // counts a message's age in Junk or Trash from here, as Dovecot's autoexpunge counts from the
  // save date, never from INTERNALDATE (COPY keeps that, RFC 9051 §6.4.7, so a two-year-old
  // message moved to Trash today would otherwise go at once). Rows that exist before this
  // migration count from the migration's time: nothing is removed earlier than the setting says.
  // (Version 45: numbers 21-39 stay free for schema work in flight on other branches.)
  {
    version: 45,
    name: "message save date (retention)",
    sql: `ALTER TABLE messages ADD COLUMN saved_at INTEGER;
UPDATE messages SET saved_at = CAST(unixepoch('subsec') * 1000 AS INTEGER) WHERE saved_at IS NULL;`,
  },
  DKIM_MIGRATION,
  IDS_MIGRATION,
  APP_PASSWORDS_MIGRATION,
  HEALTH_MIGRATION,
  WEB_MIGRATION,
  AUDIT_RETENTION_MIGRATION,
];

/** The database holds migrations this version does not know: a newer Freehold wrote it. */
export class NewerSchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NewerSchemaError";
  }
}

/**
 * Applies the migrations not yet recorded, in order, each in its own transaction, after copying
 * an existing database to <file>.before-v<N>.bak. Refuses a database with unknown versions.
 */
export function migrate(db: DatabaseSync, now: number, migrations: readonly Migration[] = MIGRATIONS): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const done = new Set(
    (db.prepare("SELECT version FROM schema_migrations").all() as { version: number }[]).map((r) => r.version),
  );
  const applied: number[] = [];
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  // A data folder a newer Freehold has migrated: its schema is unknown here, refuse (issue 12).
  const known = new Set(sorted.map((m) => m.version));
  const unknown = [...done].filter((v) => !known.has(v)).sort((a, b) => a - b);
  if (unknown.length > 0) {
    const file = db.location() ?? "the database";
    throw new NewerSchemaError(`${file} was upgraded by a newer Freehold (schema versions ${unknown.join(", ")} are unknown to this one, which knows up to ${sorted.at(-1)?.version ?? 0}): install that version again, or restore a backup taken before the upgrade`);
  }
  // Before changing an existing database, a copy of it as it is (VACUUM INTO: a consistent
  // snapshot, 0600), so an upgrade that goes wrong can be undone by hand (docs/install.md).
  const pending = sorted.filter((m) => !done.has(m.version));
  const file = db.location();
  if (pending.length > 0 && done.size > 0 && file) {
    const backup = `${file}.before-v${pending[0]!.version}.bak`;
    rmSync(backup, { force: true });
    db.prepare("VACUUM INTO ?").run(backup);
    chmodSync(backup, 0o600);
  }
  for (const m of sorted) {
    if (done.has(m.version)) continue;
    const fk = (db.prepare("PRAGMA foreign_keys").get() as { foreign_keys: number }).foreign_keys;
    if (m.foreignKeysOff) db.exec("PRAGMA foreign_keys = OFF");
    try {
      db.exec("BEGIN IMMEDIATE");
      try {
        // Another connection (the CLI, the side connection of dkim.ts) may have applied it
        // between our read above and this lock.
        if (db.prepare("SELECT 1 FROM schema_migrations WHERE version = ?").get(m.version)) {
          db.exec("ROLLBACK");
          continue;
        }
        if (m.sql) db.exec(m.sql);
        m.run?.(db);
        db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)").run(m.version, m.name, now);
        db.exec("COMMIT");
      } catch (e) {
        if (db.isTransaction) db.exec("ROLLBACK");
        throw e;
      }
    } finally {
      if (m.foreignKeysOff) db.exec(`PRAGMA foreign_keys = ${fk ? "ON" : "OFF"}`);
    }
    applied.push(m.version);
  }
  return applied;
}
