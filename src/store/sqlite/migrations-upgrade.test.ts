// Upgrades (issue 12): an existing database is copied before pending migrations run, and a
// database a newer version migrated is refused with a message saying so.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { migrate, NewerSchemaError, MIGRATIONS } from "./migrations.ts";
import type { Migration } from "./migrations.ts";

const NEXT: Migration = { version: 900_001, name: "upgrade-test", sql: "CREATE TABLE upgrade_test (x INTEGER)" };

test("pending migrations on an existing database run after a 0600 copy of it; a fresh one gets none", () => {
  const dir = mkdtempSync(join(tmpdir(), "fh-mig-"));
  try {
    const file = join(dir, "meta.sqlite");
    const db = new DatabaseSync(file);
    migrate(db, 1_000, MIGRATIONS);
    assert.equal(existsSync(`${file}.before-v${MIGRATIONS[0]!.version}.bak`), false, "no copy of a new database");
    db.exec("CREATE TABLE marker (v TEXT); INSERT INTO marker VALUES ('before')");
    assert.deepEqual(migrate(db, 2_000, [...MIGRATIONS, NEXT]), [NEXT.version]);
    const backup = `${file}.before-v${NEXT.version}.bak`;
    assert.equal(statSync(backup).mode & 0o777, 0o600);
    const copy = new DatabaseSync(backup, { readOnly: true });
    assert.deepEqual(copy.prepare("SELECT v FROM marker").all().map((r) => ({ ...r })), [{ v: "before" }]);
    assert.equal(copy.prepare("SELECT 1 AS x FROM sqlite_master WHERE name = 'upgrade_test'").get(), undefined, "the copy is from before the migration");
    copy.close();
    assert.deepEqual(migrate(db, 3_000, [...MIGRATIONS, NEXT]), [], "nothing pending: nothing copied again");
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a database with a migration this version does not know is refused, untouched", () => {
  const dir = mkdtempSync(join(tmpdir(), "fh-mig-"));
  try {
    const file = join(dir, "meta.sqlite");
    const db = new DatabaseSync(file);
    migrate(db, 1_000, [...MIGRATIONS, NEXT]);
    assert.throws(() => migrate(db, 2_000, MIGRATIONS), (e: unknown) => {
      assert.ok(e instanceof NewerSchemaError);
      assert.match(e.message, /upgraded by a newer Freehold/);
      assert.match(e.message, /900001/);
      return true;
    });
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
