// Settings (key/value) and the audit log.
import type { AuditAppend, AuditEntry, AuditPageQuery, AuditRepo, Id, SettingsRepo } from "../types.ts";

const AUDIT_COLS = "id, at, actor, action, target, detail, source, domain, before, after";
import type { RepoContext } from "./context.ts";

export class SqliteSettings implements SettingsRepo {
  #c: RepoContext;
  constructor(c: RepoContext) {
    this.#c = c;
  }
  get(key: string): Promise<string | null> {
    return this.#c.call(() => this.#c.db.get<{ value: string }>("SELECT value FROM settings WHERE key = ?", key)?.value ?? null);
  }
  set(key: string, value: string): Promise<void> {
    return this.#c.call(() => {
      this.#c.db.run("INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2", key, value);
    });
  }
  delete(key: string): Promise<void> {
    return this.#c.call(() => {
      this.#c.db.run("DELETE FROM settings WHERE key = ?", key);
    });
  }
}

export class SqliteAudit implements AuditRepo {
  #c: RepoContext;
  constructor(c: RepoContext) {
    this.#c = c;
  }
  append(e: AuditAppend): Promise<Id> {
    return this.#c.call(
      () =>
        this.#c.db.run(
          "INSERT INTO audit_log (at, actor, action, target, detail, source, domain, before, after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
          this.#c.clock.now(), e.actor, e.action, e.target, e.detail ?? null, e.source ?? "cli", e.domain ?? null, e.before ?? null, e.after ?? null,
        ).lastInsertRowid,
    );
  }
  list(limit = 100): Promise<AuditEntry[]> {
    return this.#c.call(() => this.#c.db.all<AuditEntry>(`SELECT ${AUDIT_COLS} FROM audit_log ORDER BY id DESC LIMIT ?`, limit));
  }
  page(q: AuditPageQuery): Promise<AuditEntry[]> {
    const [sql, params] = auditPageSql(q);
    return this.#c.call(() => this.#c.db.all<AuditEntry>(sql, ...params));
  }
  expireBefore(before: number, actor: string): Promise<number> {
    return this.#c.call(() =>
      this.#c.db.atomic(() => {
        this.#c.db.run("INSERT INTO audit_expire_gate (before) VALUES (?)", before);
        const n = Number(this.#c.db.run("DELETE FROM audit_log WHERE at < ?", before).changes);
        this.#c.db.run("DELETE FROM audit_expire_gate");
        if (n > 0) {
          this.#c.db.run(
            "INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?, ?, 'audit.expire', 'audit_log', ?)",
            this.#c.clock.now(), actor, JSON.stringify({ deleted: n, before: new Date(before).toISOString() }),
          );
        }
        return n;
      }),
    );
  }
}

/** The page query (exported so a test can EXPLAIN it): rowid or (domain, id) index, never a scan. */
export function auditPageSql(q: AuditPageQuery): [string, Array<string | number>] {
  const where: string[] = [];
  const params: Array<string | number> = [];
  if (q.domain !== undefined) {
    where.push("domain = ?");
    params.push(q.domain);
  }
  if (q.beforeId !== undefined) {
    where.push("id < ?");
    params.push(q.beforeId);
  }
  if (q.actionPrefix !== undefined) {
    // substr comparison, not LIKE: no wildcard characters to escape.
    where.push("substr(action, 1, ?) = ?");
    params.push(q.actionPrefix.length, q.actionPrefix);
  }
  params.push(q.limit);
  return [`SELECT ${AUDIT_COLS} FROM audit_log ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY id DESC LIMIT ?`, params];
}
