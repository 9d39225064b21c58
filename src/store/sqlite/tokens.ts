// API token rows (table api_tokens, migration-web.ts) on a side connection to meta.sqlite, like
// the DKIM keys (dkim.ts): one short statement per call, never a lock across an await.
import type { SqliteDb } from "./db.ts";

export type TokenScope = "server" | "domain" | "user";

export interface ApiTokenRecord {
  id: number;
  name: string;
  userId: number;
  scope: TokenScope;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

interface Row {
  id: number;
  name: string;
  user_id: number;
  scope: TokenScope;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

const COLS = "id, name, user_id, scope, created_at, last_used_at, revoked_at";
const toRecord = (r: Row): ApiTokenRecord => ({
  id: r.id,
  name: r.name,
  userId: r.user_id,
  scope: r.scope,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
});

export class SqliteApiTokens {
  #db: SqliteDb;
  constructor(db: SqliteDb) {
    this.#db = db;
  }
  create(t: { hash: string; name: string; userId: number; scope: TokenScope; now: number }): ApiTokenRecord {
    const { lastInsertRowid } = this.#db.run(
      "INSERT INTO api_tokens (hash, name, user_id, scope, created_at) VALUES (?, ?, ?, ?, ?)",
      t.hash, t.name, t.userId, t.scope, t.now,
    );
    return this.get(lastInsertRowid)!;
  }
  get(id: number): ApiTokenRecord | null {
    const r = this.#db.get<Row>(`SELECT ${COLS} FROM api_tokens WHERE id = ?`, id);
    return r ? toRecord(r) : null;
  }
  /** The live (not revoked) token with this hash. */
  byHash(hash: string): ApiTokenRecord | null {
    const r = this.#db.get<Row>(`SELECT ${COLS} FROM api_tokens WHERE hash = ? AND revoked_at IS NULL`, hash);
    return r ? toRecord(r) : null;
  }
  listByUser(userId: number): ApiTokenRecord[] {
    return this.#db.all<Row>(`SELECT ${COLS} FROM api_tokens WHERE user_id = ? ORDER BY id`, userId).map(toRecord);
  }
  touch(id: number, now: number): void {
    this.#db.run("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", now, id);
  }
  revoke(id: number, now: number): boolean {
    return this.#db.run("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", now, id).changes > 0;
  }
}
