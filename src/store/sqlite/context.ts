// What every SQLite repository gets: the connection, the clock, and how to run a call (through
// the gate for the store's own repos, directly for the repos handed to a transaction's fn).
import type { Clock } from "../../clock.ts";
import { mapError } from "./db.ts";
import type { SqliteDb } from "./db.ts";

export interface RepoContext {
  db: SqliteDb;
  clock: Clock;
  call<T>(fn: () => T): Promise<T>;
}

export function gatedContext(db: SqliteDb, clock: Clock): RepoContext {
  return { db, clock, call: (fn) => db.call(fn) };
}

export function directContext(db: SqliteDb, clock: Clock): RepoContext {
  return {
    db,
    clock,
    call<T>(fn: () => T): Promise<T> {
      try {
        return Promise.resolve(fn());
      } catch (e) {
        return Promise.reject(mapError(e));
      }
    },
  };
}
