// Migrations of spam.sqlite, the spam filter's per-account state (docs/spam.md), applied by the
// store's migrate() like meta.sqlite's. A file of its own: training writes many rows in the
// background, and on meta.sqlite's second connection those writes would wait (synchronously,
// up to the busy timeout) whenever the main connection holds a transaction open across an
// await. Users live in meta.sqlite, so rows here carry the user id without a foreign key; ids
// are never reused, and purgeUsersExcept() drops the rows of removed users at startup.
//
// spam_tokens is the classifier: two small integers per (account, 52-bit token hash), WITHOUT
// ROWID so the primary key is the table (about 20 bytes a token on disk). spam_trained says
// which messages (by blob: a blob id is never reused) trained which class, so moving a message
// back untrains it instead of counting it twice. spam_reputation is the account's history per
// sender address, sender domain and client network, each count decayed by its age.
import type { Migration } from "./migrations.ts";

export const SPAM_MIGRATIONS: readonly Migration[] = [{
  version: 1,
  name: "spam filter: classifier tokens, training, reputation, counters",
  sql: `
CREATE TABLE spam_accounts (
  user_id INTEGER PRIMARY KEY,
  ham INTEGER NOT NULL DEFAULT 0,
  spam INTEGER NOT NULL DEFAULT 0,
  -- Set once the existing folders were trained from (first use).
  bootstrapped_at INTEGER
);
CREATE TABLE spam_tokens (
  user_id INTEGER NOT NULL,
  token INTEGER NOT NULL,
  ham INTEGER NOT NULL DEFAULT 0,
  spam INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, token)
) WITHOUT ROWID;
CREATE TABLE spam_trained (
  user_id INTEGER NOT NULL,
  blob_id INTEGER NOT NULL,
  class TEXT NOT NULL CHECK (class IN ('ham', 'spam')),
  at INTEGER NOT NULL,
  PRIMARY KEY (user_id, blob_id)
) WITHOUT ROWID;
CREATE TABLE spam_reputation (
  user_id INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('addr', 'domain', 'net')),
  key TEXT NOT NULL,
  seen REAL NOT NULL DEFAULT 0,
  ham REAL NOT NULL DEFAULT 0,
  spam REAL NOT NULL DEFAULT 0,
  wrote REAL NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, kind, key)
) WITHOUT ROWID;
CREATE TABLE spam_counters (
  user_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  value INTEGER NOT NULL,
  PRIMARY KEY (user_id, name)
) WITHOUT ROWID;
`,
}];
