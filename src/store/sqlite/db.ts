// One SQLite connection, its prepared-statement cache, and the gate that serialises callers.
//
// Concurrency invariant: node:sqlite is synchronous, so a statement never interleaves with
// another. Only an open transaction can (its fn awaits between statements). While one is open,
// every other caller waits at the gate, so nothing runs inside someone else's transaction;
// when none is open, calls run at once with no queueing cost.
import { DatabaseSync } from "node:sqlite";
import { ensurePrivateDbFile } from "./private-file.ts";
import type { StatementSync, SQLInputValue } from "node:sqlite";
import { StoreError } from "../errors.ts";

export type Row = Record<string, SQLInputValue>;

export interface SqliteOptions {
  /** PRAGMA busy_timeout in ms (another process, e.g. the CLI beside the server, holds the lock). */
  busyTimeoutMs?: number;
}

export class SqliteDb {
  readonly db: DatabaseSync;
  #stmts = new Map<string, StatementSync>();
  #locked = false;
  #waiters: Array<() => void> = [];
  #depth = 0;
  #savepoint = 0;

  constructor(path: string, opts: SqliteOptions = {}) {
    ensurePrivateDbFile(path);
    this.db = new DatabaseSync(path, { enableForeignKeyConstraints: true });
    // Pragmas are per connection and set once, not per message.
    this.db.exec(`PRAGMA busy_timeout = ${Math.trunc(opts.busyTimeoutMs ?? 5000)}`);
    this.db.exec("PRAGMA journal_mode = WAL");
    // FULL: a commit is durable on return (WAL + NORMAL could lose the last commits on power loss).
    this.db.exec("PRAGMA synchronous = FULL");
    this.db.exec("PRAGMA foreign_keys = ON");
  }

  /** A cached prepared statement. */
  stmt(sql: string): StatementSync {
    let s = this.#stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.#stmts.set(sql, s);
    }
    return s;
  }

  get<T>(sql: string, ...params: SQLInputValue[]): T | undefined {
    return this.stmt(sql).get(...params) as T | undefined;
  }

  all<T>(sql: string, ...params: SQLInputValue[]): T[] {
    return this.stmt(sql).all(...params) as T[];
  }

  run(sql: string, ...params: SQLInputValue[]): { changes: number; lastInsertRowid: number } {
    const r = this.stmt(sql).run(...params);
    return { changes: Number(r.changes), lastInsertRowid: Number(r.lastInsertRowid) };
  }

  /**
   * Runs a synchronous block atomically: a transaction at the top level, a savepoint when
   * already inside one (so a failing block rolls back alone and the caller may go on).
   */
  atomic<T>(fn: () => T): T {
    if (this.#depth === 0) {
      this.stmt("BEGIN IMMEDIATE").run();
      this.#depth++;
      try {
        const r = fn();
        this.stmt("COMMIT").run();
        return r;
      } catch (e) {
        this.#rollback();
        throw mapError(e);
      } finally {
        this.#depth--;
      }
    }
    const name = `sp${++this.#savepoint}`;
    this.stmt(`SAVEPOINT ${name}`).run();
    this.#depth++;
    try {
      const r = fn();
      this.stmt(`RELEASE ${name}`).run();
      return r;
    } catch (e) {
      this.stmt(`ROLLBACK TO ${name}`).run();
      this.stmt(`RELEASE ${name}`).run();
      throw mapError(e);
    } finally {
      this.#depth--;
      this.#savepoint--;
    }
  }

  #rollback(): void {
    // A failed COMMIT may already have ended the transaction.
    if (this.db.isTransaction) this.stmt("ROLLBACK").run();
  }

  /** Runs fn now if no transaction is open, else after it ends. Errors become rejections. */
  call<T>(fn: () => T): Promise<T> {
    if (!this.#locked) {
      try {
        return Promise.resolve(fn());
      } catch (e) {
        return Promise.reject(mapError(e));
      }
    }
    return this.#acquire().then(() => {
      try {
        return fn();
      } catch (e) {
        throw mapError(e);
      } finally {
        this.#release();
      }
    });
  }

  /** An async transaction: holds the gate from BEGIN to COMMIT/ROLLBACK. */
  async transaction<T>(fn: () => Promise<T> | T): Promise<T> {
    await this.#acquire();
    try {
      this.stmt("BEGIN IMMEDIATE").run();
      this.#depth++;
      try {
        const r = await fn();
        this.stmt("COMMIT").run();
        return r;
      } catch (e) {
        this.#rollback();
        throw mapError(e);
      } finally {
        this.#depth--;
      }
    } finally {
      this.#release();
    }
  }

  #acquire(): Promise<void> {
    if (!this.#locked) {
      this.#locked = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #release(): void {
    // Hand the gate straight to the next waiter so a fast caller cannot overtake the queue.
    const next = this.#waiters.shift();
    if (next) next();
    else this.#locked = false;
  }

  close(): void {
    this.#stmts.clear();
    if (this.db.isOpen) this.db.close();
  }
}

/**
 * Names SQLite failures callers act on: SQLITE_BUSY after busy_timeout is a local, temporary
 * fault (answer 4xx); a unique-constraint race is "exists"; I/O and disk-full are "io".
 */
export function mapError(e: unknown): unknown {
  if (e instanceof Error && !(e instanceof StoreError)) {
    const code = (e as { errcode?: number }).errcode;
    // 5 = SQLITE_BUSY, 6 = SQLITE_LOCKED (primary codes; extended codes keep them in the low byte)
    if (code !== undefined && ((code & 0xff) === 5 || (code & 0xff) === 6)) {
      return new StoreError("busy", e.message, { cause: e });
    }
    // SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY: another process (the CLI beside the server) took
    // the name between our check and our insert.
    if (code === 2067 || code === 1555) return new StoreError("exists", e.message, { cause: e });
    if (code !== undefined && ((code & 0xff) === 10 || (code & 0xff) === 13)) {
      return new StoreError("io", e.message, { cause: e }); // SQLITE_IOERR, SQLITE_FULL
    }
  }
  return e;
}

export function bool(v: unknown): boolean {
  return v === 1 || v === 1n || v === true;
}
