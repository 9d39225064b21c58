// Migration: row ids are never reused (issue 16 §1).
//
// A rowid table's `id INTEGER PRIMARY KEY` hands out max(id) + 1, so deleting the newest row
// frees its id for the next insert (https://sqlite.org/autoinc.html). Ids outlive transactions:
// the IMAP server's mailbox index, the change bus and a selected view hold mailbox ids, a FETCH
// holds a message's blob id between reading the row and the file, the login cache holds user ids,
// per-user settings carry them in their keys, and the CLI beside the server changes rows in
// another process whose caches it cannot reach. With a reused id each of them silently names
// someone else's row (a deleted mailbox's messages showing in another user's new mailbox). With
// AUTOINCREMENT, SQLite keeps the largest id ever handed out in sqlite_sequence and never goes
// below it, so an id, once seen, names one row forever.
//
// SQLite cannot add AUTOINCREMENT in place: each table is rebuilt as sqlite.org/lang_altertable.html
// §7 describes (foreign keys off, new table from the stored CREATE statement with AUTOINCREMENT
// added, copy, drop, rename, recreate its indices and triggers, foreign_key_check, commit). The
// statement is taken from sqlite_master, not written out here, so columns added by other
// migrations (ALTER TABLE ADD COLUMN rewrites the stored statement) come along in their order.
import type { DatabaseSync } from "node:sqlite";
import type { Migration } from "./migrations.ts";

/** `id INTEGER PRIMARY KEY` at the start of a column definition, not yet AUTOINCREMENT. */
const REUSING_ID = /^(\s*"?id"?\s+INTEGER\s+PRIMARY\s+KEY)(?!\s+AUTOINCREMENT)\b/im;

interface SchemaRow {
  type: string;
  name: string;
  tbl_name: string;
  sql: string | null;
}

/** Tables whose id column SQLite may hand out again (none once this migration ran). */
export function tablesReusingIds(db: DatabaseSync): string[] {
  const rows = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql IS NOT NULL ORDER BY name").all() as unknown as SchemaRow[];
  return rows.filter((r) => !/WITHOUT\s+ROWID\s*$/i.test(r.sql!) && REUSING_ID.test(r.sql!)).map((r) => r.name);
}

function quote(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

function foreignKeyProblems(db: DatabaseSync): number {
  return db.prepare("PRAGMA foreign_key_check").all().length;
}

/** Rebuilds every table with a reusable id as AUTOINCREMENT, keeping rows, ids, indices and triggers. */
export function makeIdsNeverReused(db: DatabaseSync): void {
  const before = foreignKeyProblems(db);
  for (const table of tablesReusingIds(db)) {
    const { sql } = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) as unknown as SchemaRow;
    const tmp = `${table}__autoincrement`;
    const create = sql!
      .replace(/^CREATE\s+TABLE\s+("(?:[^"]|"")+"|\S+?)(\s*\()/i, `CREATE TABLE ${quote(tmp)}$2`)
      .replace(REUSING_ID, "$1 AUTOINCREMENT");
    if (create === sql || !create.includes("AUTOINCREMENT")) throw new Error(`cannot rewrite the schema of ${table}`);
    // Indices with SQL (not the automatic ones of UNIQUE/PRIMARY KEY) and triggers go with DROP.
    const dependents = db
      .prepare("SELECT type, name, sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type, name")
      .all(table) as unknown as SchemaRow[];
    const cols = (db.prepare(`PRAGMA table_info(${quote(table)})`).all() as Array<{ name: string }>).map((c) => quote(c.name)).join(", ");
    db.exec(create);
    db.exec(`INSERT INTO ${quote(tmp)} (${cols}) SELECT ${cols} FROM ${quote(table)}`);
    db.exec(`DROP TABLE ${quote(table)}`);
    db.exec(`ALTER TABLE ${quote(tmp)} RENAME TO ${quote(table)}`);
    for (const d of dependents) db.exec(d.sql!);
    // INSERT … SELECT with explicit ids already raised sqlite_sequence to max(id); ids above it
    // that were freed before this migration are unknowable, and nothing holds them: this runs
    // while the store opens, before any cache exists (per-user settings are cleaned below).
  }
  const after = foreignKeyProblems(db);
  if (after > before) throw new Error(`rebuilding tables broke ${after - before} foreign key references`);
  // Per-user settings (src/imap/subscriptions.ts) move under `user.<id>.`, which removeUser
  // deletes with the user; those of users already gone would have passed to the next user
  // given the same id, and are dropped.
  const orphans = db.prepare("SELECT key, value FROM settings WHERE key LIKE 'imap.orphan-subscriptions.%'").all() as Array<{ key: string; value: string }>;
  for (const r of orphans) {
    const id = Number(r.key.slice("imap.orphan-subscriptions.".length));
    db.prepare("DELETE FROM settings WHERE key = ?").run(r.key);
    if (Number.isSafeInteger(id) && db.prepare("SELECT 1 FROM users WHERE id = ?").get(id)) {
      db.prepare("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)").run(`user.${id}.imap.orphan-subscriptions`, r.value);
    }
  }
}

export const IDS_MIGRATION: Migration = {
  version: 40,
  name: "ids never reused (AUTOINCREMENT); per-user settings keyed user.<id>.",
  foreignKeysOff: true,
  run: makeIdsNeverReused,
};
