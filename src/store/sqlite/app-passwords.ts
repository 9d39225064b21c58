// App password rows (table app_passwords, migration-app-passwords.ts).
import type { AppPasswordRecord, AppPasswordRepo, Id, NewAppPassword } from "../types.ts";
import { StoreError } from "../errors.ts";
import type { RepoContext } from "./context.ts";

interface Row {
  id: number;
  user_id: number;
  name: string;
  tag: string;
  password_hash: string;
  created_at: number;
  last_used_at: number | null;
}

const COLS = "id, user_id, name, tag, password_hash, created_at, last_used_at";

const toRecord = (r: Row): AppPasswordRecord => ({
  id: r.id,
  userId: r.user_id,
  name: r.name,
  tag: r.tag,
  passwordHash: r.password_hash,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
});

export class SqliteAppPasswords implements AppPasswordRepo {
  #c: RepoContext;
  constructor(c: RepoContext) {
    this.#c = c;
  }

  create(p: NewAppPassword): Promise<AppPasswordRecord> {
    return this.#c.call(() => {
      const db = this.#c.db;
      if (!db.get("SELECT 1 FROM users WHERE id = ?", p.userId)) throw new StoreError("not-found", `no user ${p.userId}`);
      if (db.get("SELECT 1 FROM app_passwords WHERE user_id = ? AND name = ?", p.userId, p.name)) {
        throw new StoreError("exists", `app password ${p.name} exists`);
      }
      const now = this.#c.clock.now();
      const id = Number(
        db.run("INSERT INTO app_passwords (user_id, name, tag, password_hash, created_at) VALUES (?, ?, ?, ?, ?)", p.userId, p.name, p.tag, p.passwordHash, now)
          .lastInsertRowid,
      );
      return { id, userId: p.userId, name: p.name, tag: p.tag, passwordHash: p.passwordHash, createdAt: now, lastUsedAt: null };
    });
  }

  get(id: Id): Promise<AppPasswordRecord | null> {
    return this.#c.call(() => {
      const r = this.#c.db.get<Row>(`SELECT ${COLS} FROM app_passwords WHERE id = ?`, id);
      return r ? toRecord(r) : null;
    });
  }

  list(userId: Id): Promise<AppPasswordRecord[]> {
    return this.#c.call(() => this.#c.db.all<Row>(`SELECT ${COLS} FROM app_passwords WHERE user_id = ? ORDER BY id`, userId).map(toRecord));
  }

  findByTag(userId: Id, tag: string): Promise<AppPasswordRecord[]> {
    return this.#c.call(() =>
      this.#c.db.all<Row>(`SELECT ${COLS} FROM app_passwords WHERE user_id = ? AND tag = ? ORDER BY id`, userId, tag).map(toRecord),
    );
  }

  remove(userId: Id, id: Id): Promise<boolean> {
    return this.#c.call(() => Number(this.#c.db.run("DELETE FROM app_passwords WHERE user_id = ? AND id = ?", userId, id).changes) > 0);
  }

  touch(id: Id, at: number): Promise<void> {
    return this.#c.call(() => {
      this.#c.db.run("UPDATE app_passwords SET last_used_at = ? WHERE id = ?", at, id);
    });
  }
}
