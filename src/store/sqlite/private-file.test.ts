import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openSqliteStore } from "./store.ts";
import { openSearchIndex } from "./search.ts";

test("database files are created 0600 and an older, looser one is tightened", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fh-perm-"));
  try {
    const store = openSqliteStore(dir);
    await store.accounts.createDomain("perm.test");
    await store.close();
    const mode = (f: string) => fs.statSync(path.join(dir, f)).mode & 0o777;
    assert.equal(mode("meta.sqlite"), 0o600);
    const ix = openSearchIndex(dir);
    await ix.close();
    assert.equal(mode("search.sqlite"), 0o600);

    fs.chmodSync(path.join(dir, "meta.sqlite"), 0o644);
    const again = openSqliteStore(dir);
    assert.ok(await again.accounts.getDomain("perm.test"), "the data is still there");
    await again.close();
    assert.equal(mode("meta.sqlite"), 0o600);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// Regression (issue 13 §3, found by the database-locked fault case): the second connection of a
// process (the store and the side connection, as `freehold serve` opens them) must not drop the
// first one's POSIX locks. When it did, another process closing its connection (here python3's
// sqlite3, as the CLI beside the server does) deleted the WAL under the server, and the server's
// later commits were invisible to everyone and lost at restart.
test("a second connection in the process keeps the WAL safe from another process's close", async () => {
  const { execFileSync } = await import("node:child_process");
  const { openSideDb } = await import("./dkim.ts");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fh-lock-"));
  try {
    const store = openSqliteStore(dir);
    const side = openSideDb(dir);
    await store.accounts.createDomain("before.test");
    // Another process opens the database, reads, and closes.
    const py = (sql: string) => execFileSync("python3", ["-c", `import sqlite3,sys\nc=sqlite3.connect(sys.argv[1])\nprint(c.execute(sys.argv[2]).fetchall())\nc.close()`, path.join(dir, "meta.sqlite"), sql]).toString().trim();
    assert.match(py("SELECT name FROM domains"), /before\.test/);
    assert.ok(fs.existsSync(path.join(dir, "meta.sqlite-wal")), "the WAL is still there after the other process closed");
    await store.accounts.createDomain("after.test");
    assert.match(py("SELECT name FROM domains ORDER BY name"), /after\.test/, "a commit made after the other process closed is visible to a new reader");
    side.close();
    await store.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
