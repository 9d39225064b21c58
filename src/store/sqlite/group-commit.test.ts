// Group commit in SqliteDb (db.ts header): writes of one loop turn share one COMMIT, a failing
// write rolls back alone, and no caller (reader or writer) settles before the COMMIT that holds
// what it wrote or read.
import test from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { SqliteDb } from "./db.ts";

function fresh(): { db: SqliteDb; file: string; done(): void } {
  const dir = mkdtempSync(join(tmpdir(), "fh-group-"));
  const file = join(dir, "t.sqlite");
  const db = new SqliteDb(file);
  db.db.exec("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)");
  return { db, file, done: () => (db.close(), rmSync(dir, { recursive: true, force: true })) };
}

/** What another connection (another process) sees: only committed rows. */
function committedRows(file: string): Array<{ k: string; v: number }> {
  const other = new DatabaseSync(file, { readOnly: true });
  try {
    return (other.prepare("SELECT k, v FROM t ORDER BY k").all() as Array<{ k: string; v: number }>).map((r) => ({ k: r.k, v: r.v }));
  } finally {
    other.close();
  }
}

test("writes started in one turn share one COMMIT; each resolves only after it", async () => {
  const { db, file, done } = fresh();
  try {
    const before = db.groupStats.commits;
    const settled: string[] = [];
    const writes = ["a", "b", "c"].map((k, i) =>
      db.call(() => db.atomic(() => db.run("INSERT INTO t (k, v) VALUES (?, ?)", k, i))).then(() => {
        // Durable when it settles: another connection sees the row.
        assert.ok(committedRows(file).some((r) => r.k === k), `${k} committed before its promise settled`);
        settled.push(k);
      }),
    );
    const tx = db.transaction(async () => db.run("INSERT INTO t (k, v) VALUES ('d', 9)"));
    // Nothing is committed yet in this turn.
    assert.deepEqual(committedRows(file), []);
    await Promise.all([...writes, tx]);
    assert.deepEqual(settled, ["a", "b", "c"]);
    assert.equal(db.groupStats.commits - before, 1, "one COMMIT for the four writes");
    assert.equal(committedRows(file).length, 4);
  } finally {
    done();
  }
});

test("a failing write rolls back alone; the others of its group commit", async () => {
  const { db, file, done } = fresh();
  try {
    const ok1 = db.call(() => db.atomic(() => db.run("INSERT INTO t (k, v) VALUES ('x', 1)")));
    const bad = assert.rejects(
      db.call(() =>
        db.atomic(() => {
          db.run("INSERT INTO t (k, v) VALUES ('y', 2)");
          db.run("INSERT INTO t (k, v) VALUES ('x', 3)"); // duplicate key
        }),
      ),
      /UNIQUE/,
    );
    const failingTx = assert.rejects(
      db.transaction(async () => {
        db.run("INSERT INTO t (k, v) VALUES ('z', 4)");
        throw new Error("changed my mind");
      }),
      /changed my mind/,
    );
    const ok2 = db.transaction(async () => db.run("INSERT INTO t (k, v) VALUES ('w', 5)"));
    await Promise.all([ok1, bad, failingTx, ok2]);
    assert.deepEqual(committedRows(file), [
      { k: "w", v: 5 },
      { k: "x", v: 1 },
    ]);
  } finally {
    done();
  }
});

test("a read made while a group is open settles after its COMMIT; with none open, at once", async () => {
  const { db, file, done } = fresh();
  try {
    // No group: a read settles without waiting for a turn.
    let early = false;
    const r0 = db.call(() => db.all("SELECT * FROM t")).then(() => (early = true));
    await Promise.resolve();
    await Promise.resolve();
    assert.equal(early, true);
    await r0;
    const w = db.call(() => db.atomic(() => db.run("INSERT INTO t (k, v) VALUES ('n', 1)")));
    const read = db.call(() => db.get<{ v: number }>("SELECT v FROM t WHERE k = 'n'")).then((row) => {
      // It saw the uncommitted row, so it may only settle once that row is durable.
      assert.equal(row?.v, 1);
      assert.equal(committedRows(file).length, 1);
    });
    await Promise.all([w, read]);
    // committed() with nothing open resolves at once.
    await db.committed();
  } finally {
    done();
  }
});

test("close() commits an open group", async () => {
  const dir = mkdtempSync(join(tmpdir(), "fh-group-"));
  try {
    const file = join(dir, "t.sqlite");
    const db = new SqliteDb(file);
    db.db.exec("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)");
    const w = db.call(() => db.atomic(() => db.run("INSERT INTO t (k, v) VALUES ('c', 1)")));
    db.close();
    await w;
    assert.equal(committedRows(file).length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("reader(): a read while a group is open is answered in the same turn, from committed rows only", async () => {
  const { db, done } = fresh();
  try {
    await db.call(() => db.atomic(() => db.run("INSERT INTO t (k, v) VALUES ('a', 1)")));
    // Open a group with an uncommitted change of 'a' and a new row 'b'.
    const write = db.call(() =>
      db.atomic(() => {
        db.run("UPDATE t SET v = 2 WHERE k = 'a'");
        db.run("INSERT INTO t (k, v) VALUES ('b', 3)");
      }),
    );
    let writeSettled = false;
    void write.then(() => (writeSettled = true));
    // The main connection's view inside the group is the uncommitted one; the reader's is not.
    assert.equal(db.get<{ v: number }>("SELECT v FROM t WHERE k = 'a'")?.v, 2);
    const r = db.reader();
    assert.deepEqual(r.all<{ k: string; v: number }>("SELECT k, v FROM t ORDER BY k").map((x) => [x.k, x.v]), [["a", 1]]);
    // Answered before the group committed (no turn, no COMMIT in between).
    assert.equal(writeSettled, false);
    assert.throws(() => r.run("INSERT INTO t (k, v) VALUES ('c', 4)"), /readonly|read-only/i);
    await write;
    // After the COMMIT the reader sees it at once.
    assert.deepEqual(r.all<{ k: string; v: number }>("SELECT k, v FROM t ORDER BY k").map((x) => [x.k, x.v]), [["a", 2], ["b", 3]]);
    assert.equal(db.reader(), r, "one reader per connection");
  } finally {
    done();
  }
});
