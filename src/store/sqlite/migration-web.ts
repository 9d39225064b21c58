// Migration: the web side (docs/api.md): API tokens, and the audit log's source, domain and
// before/after columns. Version 33: below 40 (migration-ids.ts), so its test's "old schema"
// includes these columns; migrate() applies a missing version whatever came after it, and the
// table is AUTOINCREMENT itself, so folders that already ran 40 never reuse token ids either.
import type { Migration } from "./migrations.ts";

export const WEB_MIGRATION: Migration = {
  version: 33,
  name: "api tokens; audit source, domain, before/after",
  sql: `
CREATE TABLE api_tokens (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  -- Lower-case hex SHA-256 of the token; the token itself is shown once and never stored.
  hash TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  scope TEXT NOT NULL CHECK (scope IN ('server', 'domain', 'user')),
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at INTEGER
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, id);
-- Who changed something through which door (cli, api, session, token), the domain the change
-- belongs to (domain admins see only theirs), and the state before and after (JSON, secrets
-- redacted by the writer).
ALTER TABLE audit_log ADD COLUMN source TEXT NOT NULL DEFAULT 'cli';
ALTER TABLE audit_log ADD COLUMN domain TEXT;
ALTER TABLE audit_log ADD COLUMN before TEXT;
ALTER TABLE audit_log ADD COLUMN after TEXT;
CREATE INDEX audit_log_domain ON audit_log (domain, id);
-- Append-only: the log cannot be edited or trimmed through SQL either.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
`,
};
