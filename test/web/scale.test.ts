// Pages stay cheap at scale: 10,000 users, 100,000 queue entries and 100,000 audit entries are
// seeded into a real database and every page query is checked with EXPLAIN QUERY PLAN: it must
// walk an index (or the primary key) and never scan a table or sort in a temporary B-tree.
// No timing is asserted (the machine is shared); the plan is what decides the cost.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { migrate } from "../../src/store/sqlite/migrations.ts";
import { userPageSql } from "../../src/store/sqlite/accounts.ts";
import { queuePageSql } from "../../src/store/sqlite/queue.ts";
import { auditPageSql } from "../../src/store/sqlite/misc.ts";
import { openSqliteStore } from "../../src/store/sqlite/store.ts";

function plan(db: DatabaseSync, [sql, params]: [string, Array<string | number>]): string[] {
  return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>).map((r) => r.detail);
}

/**
 * No sort of the whole result (USE TEMP B-TREE) and no table scan, except a walk of `rowidTable`
 * in its primary-key order: with ORDER BY id and LIMIT, SQLite stops after the page (a plan
 * line "SCAN m" is that ordered walk; any other table must be reached through an index).
 */
function assertIndexed(label: string, lines: string[], rowidTable?: string): void {
  const all = lines.join(" | ");
  for (const l of lines) {
    assert.doesNotMatch(l, /USE TEMP B-TREE/, `${label}: ${all}`);
    const scan = /^SCAN (\w+)$/.exec(l);
    if (scan) assert.equal(scan[1], rowidTable, `${label}: a table scan: ${all}`);
  }
  if (rowidTable === undefined) assert.ok(lines.some((l) => /USING (INTEGER PRIMARY KEY|INDEX|COVERING INDEX)/.test(l)), `${label}: ${all}`);
}

test("page queries use an index at 10,000 users and 100,000 queue and audit entries", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "freehold-web-scale-"));
  try {
    const db = new DatabaseSync(path.join(dir, "meta.sqlite"));
    migrate(db, Date.now());
    const now = Date.now();
    db.exec("BEGIN");
    db.prepare("INSERT INTO domains (name, created_at) VALUES ('a.test', ?), ('b.test', ?)").run(now, now);
    const u = db.prepare("INSERT INTO users (domain_id, local_part, address, password_hash, role, created_at) VALUES (?, ?, ?, 'x', 'user', ?)");
    for (let i = 0; i < 10_000; i++) {
      const d = i % 2 === 0 ? 1 : 2;
      const local = `user${String(i).padStart(5, "0")}`;
      u.run(d, local, `${local}@${d === 1 ? "a" : "b"}.test`, now);
    }
    db.prepare("INSERT INTO blobs (sha256, size, refcount, location, created_at) VALUES ('s', 1, 100000, 'x', ?)").run(now);
    const q = db.prepare("INSERT INTO queue_messages (blob_id, mail_from, origin, created_at) VALUES (1, ?, 'submission', ?)");
    const r = db.prepare("INSERT INTO queue_recipients (queue_id, recipient, state, next_attempt_at, updated_at) VALUES (?, 'x@remote.test', ?, ?, ?)");
    const a = db.prepare("INSERT INTO audit_log (at, actor, action, target, domain) VALUES (?, 'cli', ?, 'x', ?)");
    for (let i = 1; i <= 100_000; i++) {
      q.run(i % 2 ? "s@a.test" : "s@b.test", now);
      r.run(i, i % 10 === 0 ? "failed" : "pending", now, now);
      a.run(now, i % 3 ? "user.add" : "alias.add", i % 2 ? "a.test" : "b.test");
    }
    db.exec("COMMIT");
    db.exec("ANALYZE");

    const cases: Array<[string, [string, Array<string | number>], string?]> = [
      ["users, first page", userPageSql({ limit: 101 })],
      ["users, after a cursor", userPageSql({ limit: 101, afterAddress: "user05000@a.test" })],
      ["users of one domain", userPageSql({ limit: 101, domainId: 2, afterAddress: "user00101@b.test" })],
      ["users, search", userPageSql({ limit: 101, contains: "user099" })],
      ["queue, first page", queuePageSql({ limit: 101 }), "m"],
      ["queue, after a cursor", queuePageSql({ limit: 101, afterId: 50_000 }), "m"],
      ["queue, by state", queuePageSql({ limit: 101, state: "failed" }), "m"],
      ["queue, one sender domain", queuePageSql({ limit: 101, senderDomain: "b.test", afterId: 10 }), "m"],
      ["audit, first page", auditPageSql({ limit: 101 }), "audit_log"],
      ["audit, one domain after a cursor", auditPageSql({ limit: 101, domain: "a.test", beforeId: 90_000 }), "audit_log"],
      ["audit, by action", auditPageSql({ limit: 101, actionPrefix: "alias." }), "audit_log"],
    ];
    for (const [label, query, rowid] of cases) assertIndexed(label, plan(db, query), rowid);
    // The recipients of a page are read through their index, one probe per entry.
    assertIndexed("recipients of an entry", plan(db, ["SELECT * FROM queue_recipients WHERE queue_id = ? ORDER BY id", [5]]));
    db.close();

    // The same queries through the store answer in order and page without gaps.
    const store = openSqliteStore(dir);
    try {
      const p1 = await store.accounts.listUsersPage({ limit: 3, domainId: 2 });
      assert.deepEqual(p1.map((x) => x.address), ["user00001@b.test", "user00003@b.test", "user00005@b.test"]);
      const p2 = await store.accounts.listUsersPage({ limit: 2, domainId: 2, afterAddress: p1[2].address });
      assert.deepEqual(p2.map((x) => x.address), ["user00007@b.test", "user00009@b.test"]);
      const qp = await store.queue.page({ limit: 2, afterId: 99_990, state: "failed" });
      assert.deepEqual(qp.map((x) => x.id), [100_000]);
      const qd = await store.queue.page({ limit: 2, senderDomain: "b.test" });
      assert.deepEqual(qd.map((x) => x.id), [2, 4]);
      const ap = await store.audit.page({ limit: 2, domain: "b.test", beforeId: 10 });
      assert.deepEqual(ap.map((x) => x.id), [8, 6]);
    } finally {
      await store.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
