// Database files hold secrets (password hashes, DKIM private keys) and mail text (the search
// index): they are created 0600 and tightened to 0600 if an older one is looser. SQLite's unix
// VFS gives the -wal and -shm files the permissions of the database file.
//
// An existing database file is never opened here, only stat'ed and chmod'ed: SQLite's locks are
// POSIX (fcntl) locks, and closing ANY descriptor of a file drops every such lock this process
// holds on it (SQLite's "How To Corrupt" §2.2). A second connection in a process that already
// has one (the side connection, dkim.ts) used to open and close meta.sqlite here, silently
// releasing the first connection's shared lock; the next other process to close its connection
// (the CLI beside the server) then believed it was the last, checkpointed and deleted the WAL,
// and every later commit of the server went into the deleted file: acknowledged mail lost.
import { chmodSync, closeSync, openSync, statSync } from "node:fs";

export function ensurePrivateDbFile(path: string): void {
  if (path === ":memory:" || path === "") return;
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    // No file yet, so no connection of ours holds locks on it. "wx": if another process creates
    // it between the stat and here, leave theirs alone (EEXIST) and only check its mode.
    try {
      closeSync(openSync(path, "wx", 0o600));
      return;
    } catch (e2) {
      if ((e2 as NodeJS.ErrnoException).code !== "EEXIST") throw e2;
      mode = statSync(path).mode;
    }
  }
  if ((mode & 0o077) !== 0) chmodSync(path, 0o600);
}
