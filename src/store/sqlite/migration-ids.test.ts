// Migration 40 (migration-ids.ts) on a data folder made by the schema before it: every row,
// id, column, index, trigger and foreign key survives, no table can hand out an id again, and
// per-user settings move under user.<id>. (those of removed users are dropped).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { MIGRATIONS, migrate } from "./migrations.ts";
import { IDS_MIGRATION, tablesReusingIds } from "./migration-ids.ts";
import { openSqliteStore } from "./store.ts";

// Every migration but 40 itself (later ones too: opening the store applies them all, and a
// column they add must come through the rebuild as well).
const OLD = MIGRATIONS.filter((m) => m.version !== IDS_MIGRATION.version);

/** An old-schema database with a little of everything, including freed ids below the max. */
function oldDatabase(path: string): void {
  const db = new DatabaseSync(path, { enableForeignKeyConstraints: true });
  db.exec("PRAGMA journal_mode = WAL");
  migrate(db, 1_000, OLD);
  assert.ok(tablesReusingIds(db).includes("mailboxes"), "the old schema reuses ids");
  db.exec(`
INSERT INTO domains (id, name, created_at) VALUES (1, 'example.test', 1), (2, 'other.test', 2);
INSERT INTO users (id, domain_id, local_part, address, password_hash, role, usage_bytes, usage_messages, created_at)
  VALUES (1, 1, 'alice', 'alice@example.test', 'h1', 'user', 30, 2, 3), (3, 2, 'bob', 'bob@other.test', 'h3', 'admin', 5, 1, 4);
INSERT INTO aliases (id, domain_id, local_part, address, targets, created_at) VALUES (1, 1, 'info', 'info@example.test', '["alice@example.test"]', 5);
INSERT INTO mailboxes (id, user_id, name, special_use, uid_validity, uid_next, highest_modseq, subscribed, created_at)
  VALUES (1, 1, 'INBOX', NULL, 1700000001, 4, 7, 1, 6), (2, 1, 'Sent', '\\Sent', 1700000002, 1, 1, 0, 6), (4, 3, 'INBOX', NULL, 1700000004, 2, 2, 1, 7);
INSERT INTO blobs (id, sha256, size, refcount, location, created_at) VALUES (1, 'aa', 10, 1, 'aa', 8), (2, 'bb', 20, 3, 'bb', 8), (5, 'cc', 5, 0, 'cc', 9);
INSERT INTO messages (id, mailbox_id, uid, modseq, flags, internal_date, size, blob_id, trace_headers)
  VALUES (1, 1, 1, 3, '["\\\\Seen"]', 10, 10, 1, 'Received: x'), (3, 1, 3, 7, '[]', 11, 20, 2, ''), (4, 4, 1, 2, '["$k"]', 12, 5, 2, '');
INSERT INTO expunged (mailbox_id, uid, modseq) VALUES (1, 2, 6);
INSERT INTO queue_messages (id, blob_id, mail_from, origin, created_at, body, smtputf8) VALUES (2, 2, 'a@example.test', 'submission', 13, '8BITMIME', 1);
INSERT INTO queue_recipients (id, queue_id, recipient, next_attempt_at, updated_at, delay_warned, route) VALUES (1, 2, 'x@remote.test', 14, 14, 1, 'mx');
INSERT INTO queue_attempts (id, queue_id, recipient_id, at, route, outcome) VALUES (1, 2, 1, 15, 'mx', 'deferred');
INSERT INTO dkim_keys (id, domain, selector, algorithm, private_key_pem, public_key, state, created_at) VALUES (1, 'example.test', 's1', 'ed25519', 'pem', 'pub', 'active', 16);
INSERT INTO audit_log (id, at, actor, action, target) VALUES (1, 17, 'system', 'user.add', 'alice@example.test');
INSERT INTO settings (key, value) VALUES ('imap.orphan-subscriptions.1', '["gone"]'), ('imap.orphan-subscriptions.2', '["someone else''s"]'), ('srs.secret', 'k');
INSERT INTO counters (name, value) VALUES ('uidvalidity', 1700000004);
-- A trigger and an index of the deployment's own: they must survive the rebuild.
CREATE INDEX users_created ON users (created_at);
CREATE TABLE seen_deletes (message_id INTEGER);
CREATE TRIGGER messages_deleted AFTER DELETE ON messages BEGIN INSERT INTO seen_deletes VALUES (old.id); END;
`);
  db.close();
}

interface Shape {
  rows: Record<string, unknown[]>;
  columns: Record<string, unknown[]>;
  foreignKeys: Record<string, unknown[]>;
  indices: string[];
  triggers: string[];
}

/** The shape restricted to these tables (and their indices). */
function only(s: Shape, tables: string[]): Shape {
  const pick = (r: Record<string, unknown[]>) => Object.fromEntries(Object.entries(r).filter(([t]) => tables.includes(t)));
  return { rows: pick(s.rows), columns: pick(s.columns), foreignKeys: pick(s.foreignKeys), indices: s.indices.filter((x) => tables.includes(x.split(":")[0])), triggers: s.triggers };
}

function shape(path: string): Shape {
  const db = new DatabaseSync(path, { readOnly: true });
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('sqlite_sequence', 'schema_migrations') ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
  const s: Shape = { rows: {}, columns: {}, foreignKeys: {}, indices: [], triggers: [] };
  for (const t of tables) {
    s.columns[t] = db.prepare(`PRAGMA table_info("${t}")`).all().map((r) => ({ ...r }));
    const order = s.columns[t].map((_, i) => i + 1).join(", ");
    s.rows[t] = db.prepare(`SELECT * FROM "${t}" ORDER BY ${order}`).all().map((r) => ({ ...r }));
    s.foreignKeys[t] = db.prepare(`PRAGMA foreign_key_list("${t}")`).all().map((r) => ({ ...r }));
  }
  s.indices = (db.prepare("SELECT tbl_name || ':' || name || ':' || coalesce(sql, 'auto') AS x FROM sqlite_master WHERE type = 'index' ORDER BY name").all() as Array<{ x: string }>).map((r) => r.x);
  s.triggers = (db.prepare("SELECT sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name").all() as Array<{ sql: string }>).map((r) => r.sql);
  db.close();
  return s;
}

test("migration 40 on an old data folder keeps every row, column, index, trigger and foreign key", async () => {
  const dir = mkdtempSync(join(tmpdir(), "fh-ids-"));
  try {
    const file = join(dir, "meta.sqlite");
    oldDatabase(file);
    const before = shape(file);
    const store = openSqliteStore(dir);
    const report = await store.integrityCheck();
    assert.deepEqual(report.problems, []);
    await store.close();
    // Migrations after 40 add tables of their own (e.g. app_passwords): compare what was there.
    const after = only(shape(file), Object.keys(before.rows));

    // Per-user settings: moved for a user that exists, dropped for one that does not.
    const settings = (rows: unknown[]) => rows as Array<{ key: string; value: string }>;
    assert.deepEqual(settings(after.rows.settings), [
      { key: "srs.secret", value: "k" },
      { key: "user.1.imap.orphan-subscriptions", value: '["gone"]' },
    ]);
    delete (before.rows as Record<string, unknown>).settings;
    delete (after.rows as Record<string, unknown>).settings;
    assert.deepEqual(after.rows, before.rows, "rows and ids");
    assert.deepEqual(after.columns, before.columns, "columns, types, defaults, in order");
    assert.deepEqual(after.foreignKeys, before.foreignKeys, "foreign keys");
    assert.deepEqual(after.indices, before.indices, "indices");
    assert.deepEqual(after.triggers, before.triggers, "triggers");

    const db = new DatabaseSync(file, { enableForeignKeyConstraints: true });
    assert.deepEqual(tablesReusingIds(db), [], "every id column is AUTOINCREMENT");
    assert.equal((db.prepare("PRAGMA foreign_keys").get() as { foreign_keys: number }).foreign_keys, 1);
    // The cascades still work after the rebuild (foreign keys point at the new tables).
    db.exec("DELETE FROM mailboxes WHERE id = 1");
    assert.equal((db.prepare("SELECT count(*) AS n FROM messages WHERE mailbox_id = 1").get() as { n: number }).n, 0);
    assert.equal((db.prepare("SELECT count(*) AS n FROM expunged").get() as { n: number }).n, 0);
    assert.deepEqual(db.prepare("SELECT message_id FROM seen_deletes ORDER BY 1").all().map((r) => ({ ...r })), [{ message_id: 1 }, { message_id: 3 }], "the trigger fired");
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("after the migration a deleted newest row's id is never handed out again", async () => {
  const dir = mkdtempSync(join(tmpdir(), "fh-ids-"));
  try {
    oldDatabase(join(dir, "meta.sqlite"));
    const store = openSqliteStore(dir);
    const alice = (await store.accounts.getUserByAddress("alice@example.test"))!;
    const a = await store.mail.createMailbox(alice.id, "a1");
    assert.ok(a.id > 4, "above every id the old table held");
    assert.equal(await store.mail.deleteMailbox(alice.id, "a1"), true);
    const b = await store.mail.createMailbox(alice.id, "b1");
    assert.ok(b.id > a.id, `mailbox id ${a.id} reused as ${b.id}`);
    // Users too, across a close and reopen (sqlite_sequence is in the database).
    const d = (await store.accounts.getDomain("example.test"))!;
    const u = await store.accounts.createUser({ domainId: d.id, localPart: "carol", displayName: "", passwordHash: "h", role: "user", quotaBytes: null });
    assert.equal(await store.accounts.removeUser(u.id), true);
    await store.close();
    const again = openSqliteStore(dir);
    const v = await again.accounts.createUser({ domainId: d.id, localPart: "dave", displayName: "", passwordHash: "h", role: "user", quotaBytes: null });
    assert.ok(v.id > u.id, `user id ${u.id} reused as ${v.id}`);
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a new data folder gets the same schema: no table reuses ids, the migration is recorded once", async () => {
  const dir = mkdtempSync(join(tmpdir(), "fh-ids-"));
  try {
    const store = openSqliteStore(dir);
    await store.close();
    // Opening again (as the CLI beside the server, or dkim.ts's side connection, does) applies nothing.
    const db = new DatabaseSync(join(dir, "meta.sqlite"));
    assert.deepEqual(migrate(db, 2_000), []);
    assert.deepEqual(tablesReusingIds(db), []);
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%AUTOINCREMENT%' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
    for (const t of ["audit_log", "blobs", "dkim_keys", "domains", "mailboxes", "messages", "queue_messages", "queue_recipients", "users"]) assert.ok(tables.includes(t), `${t} is AUTOINCREMENT`);
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("removing a user removes their per-user settings with them", async () => {
  const dir = mkdtempSync(join(tmpdir(), "fh-ids-"));
  try {
    const store = openSqliteStore(dir);
    const d = await store.accounts.createDomain("example.test");
    const u = await store.accounts.createUser({ domainId: d.id, localPart: "carol", displayName: "", passwordHash: "h", role: "user", quotaBytes: null });
    const w = await store.accounts.createUser({ domainId: d.id, localPart: "walt", displayName: "", passwordHash: "h", role: "user", quotaBytes: null });
    await store.settings.set(`user.${u.id}.imap.orphan-subscriptions`, '["x"]');
    await store.settings.set(`user.${u.id}0.other`, "not carol's"); // a longer id with the same prefix
    await store.settings.set(`user.${w.id}.imap.orphan-subscriptions`, '["y"]');
    assert.equal(await store.accounts.removeUser(u.id), true);
    assert.equal(await store.settings.get(`user.${u.id}.imap.orphan-subscriptions`), null);
    assert.equal(await store.settings.get(`user.${u.id}0.other`), "not carol's");
    assert.equal(await store.settings.get(`user.${w.id}.imap.orphan-subscriptions`), '["y"]');
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a table-rebuilding migration that fails rolls back whole and leaves foreign keys on", () => {
  const dir = mkdtempSync(join(tmpdir(), "fh-ids-"));
  try {
    const file = join(dir, "meta.sqlite");
    oldDatabase(file);
    const before = shape(file);
    const db = new DatabaseSync(file, { enableForeignKeyConstraints: true });
    const failing = {
      ...IDS_MIGRATION,
      run: (d: DatabaseSync) => {
        IDS_MIGRATION.run!(d);
        throw new Error("disk on fire");
      },
    };
    assert.throws(() => migrate(db, 3_000, [...OLD, failing]), /disk on fire/);
    assert.equal((db.prepare("PRAGMA foreign_keys").get() as { foreign_keys: number }).foreign_keys, 1);
    assert.ok(tablesReusingIds(db).includes("mailboxes"), "the rebuild was rolled back");
    assert.equal(db.prepare("SELECT 1 FROM schema_migrations WHERE version = ?").get(IDS_MIGRATION.version), undefined);
    db.close();
    assert.deepEqual(shape(file), before);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
