// Database files hold secrets (password hashes, DKIM private keys) and mail text (the search
// index): they are created 0600 and tightened to 0600 if an older one is looser. SQLite's unix
// VFS gives the -wal and -shm files the permissions of the database file.
import { chmodSync, closeSync, openSync, statSync } from "node:fs";

export function ensurePrivateDbFile(path: string): void {
  if (path === ":memory:" || path === "") return;
  closeSync(openSync(path, "a", 0o600));
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
}
