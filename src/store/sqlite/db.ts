// One SQLite connection, its prepared-statement cache, the gate that serialises callers, and
// group commit.
//
// Concurrency invariant: node:sqlite is synchronous, so a statement never interleaves with
// another. Only an open transaction can (its fn awaits between statements). While one is open,
// every other caller waits at the gate, so nothing runs inside someone else's transaction;
// when none is open, calls run at once with no queueing cost.
//
// Group commit: a write (atomic() at the top level, transaction()) does not COMMIT on its own.
// The first one opens a group transaction (BEGIN IMMEDIATE); each runs inside it as a SAVEPOINT
// (a failing one rolls back alone); the group COMMITs once, in a setImmediate after the loop
// turn that opened it — so every write that arrived in the same turn (the STOREs, EXPUNGEs and
// deliveries of many sessions) shares one WAL fsync instead of paying one each. Durability is
// unchanged (synchronous=FULL): no caller's promise resolves before the COMMIT that contains its
// write has returned, and every call made while a group is open, reads included, resolves only
// after that COMMIT too, so nothing read from uncommitted rows (a new UID, a flag) leaves the
// store before it is durable. If the COMMIT fails, every caller of the group is rejected.
// A synchronous caller of atomic() outside call()/transaction() must await committed() before
// treating its write as durable.
//
// Reads that must not wait for the group (issue 16: an IMAP session re-reading its mailbox after
// another session's STORE waited for that STORE's COMMIT and a loop turn) go to reader(): a
// second, read-only connection to the same file. In WAL mode it sees only committed
// transactions — a commit becomes visible to other connections only after its WAL frames were
// fsynced (synchronous=FULL) — so what it returns is durable, and it never waits for the gate
// or the group. Its statements run in autocommit (each sees the latest commit).
import { DatabaseSync } from "node:sqlite";
import { resolve as resolvePath } from "node:path";
import { ensurePrivateDbFile } from "./private-file.ts";
import type { StatementSync, SQLInputValue } from "node:sqlite";
import { StoreError } from "../errors.ts";

export type Row = Record<string, SQLInputValue>;

export interface SqliteOptions {
  /** PRAGMA busy_timeout in ms (another process, e.g. the CLI beside the server, holds the lock). */
  busyTimeoutMs?: number;
  /** A read-only connection (reader()): no pragmas that write, not a sibling, no writes. */
  readOnly?: boolean;
}

/** Open connections per database file in this process (see #yieldSiblings). */
const SIBLINGS = new Map<string, Set<SqliteDb>>();

/** The open group transaction: settles when its COMMIT has returned (or failed). */
interface Group {
  done: Promise<void>;
  resolve(): void;
  reject(e: unknown): void;
}

export class SqliteDb {
  readonly db: DatabaseSync;
  #stmts = new Map<string, StatementSync>();
  #locked = false;
  #waiters: Array<() => void> = [];
  #depth = 0;
  #savepoint = 0;
  #group: Group | null = null;
  /** The group's setImmediate came while the gate was held: commit when it is released. */
  #flushDue = false;
  /** Group commits so far and the writes they carried (tests, the benchmark's log). */
  readonly groupStats = { commits: 0, writes: 0 };

  /** This file's path, for the siblings registry. */
  #path: string;

  #reader: SqliteDb | null = null;
  #opts: SqliteOptions;

  constructor(path: string, opts: SqliteOptions = {}) {
    this.#path = resolvePath(path);
    this.#opts = opts;
    if (opts.readOnly) {
      this.db = new DatabaseSync(path, { readOnly: true, enableForeignKeyConstraints: true });
      this.db.exec(`PRAGMA busy_timeout = ${Math.trunc(opts.busyTimeoutMs ?? 5000)}`);
      return;
    }
    let sibs = SIBLINGS.get(this.#path);
    if (!sibs) SIBLINGS.set(this.#path, (sibs = new Set()));
    sibs.add(this);
    ensurePrivateDbFile(path);
    this.db = new DatabaseSync(path, { enableForeignKeyConstraints: true });
    // Pragmas are per connection and set once, not per message.
    this.db.exec(`PRAGMA busy_timeout = ${Math.trunc(opts.busyTimeoutMs ?? 5000)}`);
    this.db.exec("PRAGMA journal_mode = WAL");
    // FULL: a commit is durable on return (WAL + NORMAL could lose the last commits on power loss).
    this.db.exec("PRAGMA synchronous = FULL");
    this.db.exec("PRAGMA foreign_keys = ON");
  }

  /**
   * The read-only connection to the same file (opened on first use): sees committed rows only,
   * so a read through it neither waits for an open group nor can return an uncommitted write.
   */
  reader(): SqliteDb {
    if (this.#opts.readOnly) return this;
    if (!this.#reader || !this.#reader.db.isOpen) this.#reader = new SqliteDb(this.#path, { busyTimeoutMs: this.#opts.busyTimeoutMs, readOnly: true });
    return this.#reader;
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
    if (this.#depth === 0 && !this.#group) this.#yieldSiblings();
    const r = this.stmt(sql).run(...params);
    return { changes: Number(r.changes), lastInsertRowid: Number(r.lastInsertRowid) };
  }

  /**
   * Runs a synchronous block atomically: at the top level as a savepoint of the group
   * transaction (committed with the others of this loop turn; see the header), a plain savepoint
   * when already inside one (so a failing block rolls back alone and the caller may go on).
   */
  atomic<T>(fn: () => T): T {
    if (this.#depth === 0) {
      const g = this.#joinGroupMapped();
      this.stmt("SAVEPOINT op").run();
      this.#depth++;
      try {
        const r = fn();
        this.stmt("RELEASE op").run();
        this.groupStats.writes++;
        return r;
      } catch (e) {
        this.#undo(g, "op");
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

  /** Resolves once everything written so far is committed (at once when no group is open). */
  committed(): Promise<void> {
    return this.#group ? this.#group.done : Promise.resolve();
  }

  /** #joinGroup with SQLite's error named: BEGIN IMMEDIATE failing on another process's lock is "busy". */
  #joinGroupMapped(): Group {
    try {
      return this.#joinGroup();
    } catch (e) {
      throw mapError(e);
    }
  }

  /** The open group transaction, or a new one (BEGIN IMMEDIATE) that commits after this turn. */
  #joinGroup(): Group {
    if (this.#group) return this.#group;
    this.#yieldSiblings();
    this.stmt("BEGIN IMMEDIATE").run();
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    done.catch(() => undefined); // callers get the rejection through their own promise
    const g: Group = { done, resolve, reject };
    this.#group = g;
    setImmediate(() => {
      if (this.#group !== g) return;
      if (this.#locked) this.#flushDue = true; // a transaction is mid-way: at its release
      else this.#flush();
    });
    return g;
  }

  /**
   * Before writing outside a group: another connection of this process to the same file (the
   * side connection, dkim.ts) that holds an open group would make this write wait busy_timeout
   * on the event loop its own COMMIT needs; commit that group first (it is between writes
   * unless its gate is held mid-transaction, the case that could already collide before).
   */
  #yieldSiblings(): void {
    const sibs = SIBLINGS.get(this.#path);
    if (!sibs || sibs.size < 2) return;
    for (const o of sibs) if (o !== this && o.#group && !o.#locked) o.#flush();
  }

  /** COMMIT the group (one WAL fsync) and settle everyone waiting on it. */
  #flush(): void {
    const g = this.#group;
    this.#flushDue = false;
    if (!g) return;
    this.#group = null;
    try {
      if (this.db.isTransaction) this.stmt("COMMIT").run();
      this.groupStats.commits++;
      g.resolve();
    } catch (e) {
      this.#rollback();
      g.reject(mapError(e));
    }
  }

  /** A top-level write failed: undo it alone, or, if SQLite ended the transaction, fail the group. */
  #undo(g: Group, name: string): void {
    if (this.db.isTransaction) {
      this.stmt(`ROLLBACK TO ${name}`).run();
      this.stmt(`RELEASE ${name}`).run();
      return;
    }
    // The error rolled back the whole group (e.g. SQLITE_FULL): the earlier writes are gone too.
    if (this.#group === g) this.#group = null;
    g.reject(new StoreError("io", "transaction rolled back by a failed statement"));
  }

  #rollback(): void {
    // A failed COMMIT may already have ended the transaction.
    if (this.db.isTransaction) this.stmt("ROLLBACK").run();
  }

  /**
   * Runs fn now if no transaction is open, else after it ends. Errors become rejections. While
   * a group transaction is open the result is held until it commits (see the header).
   */
  call<T>(fn: () => T): Promise<T> {
    if (!this.#locked) {
      try {
        return this.#afterCommit(fn());
      } catch (e) {
        return Promise.reject(mapError(e));
      }
    }
    return this.#acquire().then(() => {
      try {
        return this.#afterCommit(fn());
      } catch (e) {
        throw mapError(e);
      } finally {
        this.#release();
      }
    });
  }

  /**
   * Like call, but the result is not held for an open group: only for reads of committed rows
   * that no write changes (a committed message's blob location, blobs.locate). Anything else
   * read this way could leave the store before it is durable.
   */
  callCommitted<T>(fn: () => T): Promise<T> {
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

  #afterCommit<T>(r: T): Promise<T> {
    const g = this.#group;
    return g ? g.done.then(() => r) : Promise.resolve(r);
  }

  /** An async transaction: holds the gate from its SAVEPOINT to RELEASE; resolves after the group COMMIT. */
  async transaction<T>(fn: () => Promise<T> | T): Promise<T> {
    await this.#acquire();
    let g: Group;
    let r: T;
    try {
      g = this.#joinGroupMapped();
      this.stmt("SAVEPOINT tx").run();
      this.#depth++;
      try {
        r = await fn();
        this.stmt("RELEASE tx").run();
        this.groupStats.writes++;
      } catch (e) {
        this.#undo(g, "tx");
        throw mapError(e);
      } finally {
        this.#depth--;
      }
    } finally {
      this.#release();
    }
    await g.done;
    return r;
  }

  #acquire(): Promise<void> {
    if (!this.#locked) {
      this.#locked = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #release(): void {
    // A group whose turn is over commits before the next waiter runs, so a busy gate cannot hold
    // a COMMIT (and the callers waiting on it) back indefinitely.
    if (this.#flushDue) this.#flush();
    // Hand the gate straight to the next waiter so a fast caller cannot overtake the queue.
    const next = this.#waiters.shift();
    if (next) next();
    else this.#locked = false;
  }

  close(): void {
    this.#reader?.close();
    this.#reader = null;
    if (this.#opts.readOnly) {
      this.#stmts.clear();
      if (this.db.isOpen) this.db.close();
      return;
    }
    this.#flush(); // what is written is committed before the connection goes
    SIBLINGS.get(this.#path)?.delete(this);
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
