// Migration: audit-log retention (issue 19 §3). The log stays append-only (migration-web.ts's
// triggers), except that the retention job may delete whole entries older than a cut-off it
// announces first in audit_expire_gate, inside the same transaction (SqliteAudit.expireBefore
// inserts the gate, deletes, appends its own "audit.expire" entry and removes the gate). Any
// other DELETE, and every UPDATE, is still refused. This guards against mistakes and stray
// tools, not against someone with write access to the file, who could insert a gate too.
// (Version 83: clear of the numbers other branches use.)
import type { Migration } from "./migrations.ts";

export const AUDIT_RETENTION_MIGRATION: Migration = {
  version: 83,
  name: "audit-log retention gate",
  sql: `
CREATE TABLE audit_expire_gate (before INTEGER NOT NULL);
DROP TRIGGER audit_log_no_delete;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
  WHEN NOT EXISTS (SELECT 1 FROM audit_expire_gate WHERE OLD.at < audit_expire_gate.before)
  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
`,
};
