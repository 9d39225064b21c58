// Migration: app passwords (issue 9 §4; src/accounts/app-passwords.ts). One row per named app
// password of a user: the scrypt hash (login/password.ts format) and a short lookup tag so a login
// verifies at most one row instead of every app password of the account. The row goes with its
// user (ON DELETE CASCADE). AUTOINCREMENT: an id that left its transaction is never reused
// (ARCHITECTURE.md "Identity and caches"), so a cached login naming a revoked id cannot match a
// later app password.
import type { Migration } from "./migrations.ts";

export const APP_PASSWORDS_MIGRATION: Migration = {
  version: 52,
  name: "app passwords",
  sql: `
CREATE TABLE app_passwords (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  tag TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  UNIQUE (user_id, name)
);
CREATE INDEX app_passwords_tag ON app_passwords (user_id, tag);
`,
};
