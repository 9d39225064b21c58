// Settings (key/value) and the audit log.
import type { AuditEntry, AuditRepo, Id, SettingsRepo } from "../types.ts";
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
  append(e: { actor: string; action: string; target: string; detail?: string | null }): Promise<Id> {
    return this.#c.call(
      () =>
        this.#c.db.run(
          "INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
          this.#c.clock.now(), e.actor, e.action, e.target, e.detail ?? null,
        ).lastInsertRowid,
    );
  }
  list(limit = 100): Promise<AuditEntry[]> {
    return this.#c.call(() => this.#c.db.all<AuditEntry>("SELECT id, at, actor, action, target, detail FROM audit_log ORDER BY id DESC LIMIT ?", limit));
  }
}
