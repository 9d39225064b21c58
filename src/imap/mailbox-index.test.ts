import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { MailboxIndexCache } from "./mailbox-index.ts";
import { MailboxView } from "./mailbox-view.ts";
import type { MailboxRecord, MessageRecord, MetadataStore } from "../store/types.ts";

/**
 * The slice of MetadataStore the index reads, over an in-memory mailbox that follows the store's
 * contract: every change raises HIGHESTMODSEQ, expunges leave tombstones, UIDs only grow.
 */
class FakeMail {
  mb: MailboxRecord = { id: 7, userId: 1, name: "INBOX", specialUse: null, uidValidity: 3, uidNext: 1, highestModseq: 1, subscribed: true, createdAt: 0 };
  rows = new Map<number, MessageRecord>();
  tombs: Array<{ uid: number; modseq: number }> = [];
  fullReads = 0;
  exists = true;

  add(flags: string[], size: number): void {
    const modseq = ++this.mb.highestModseq;
    const uid = this.mb.uidNext++;
    this.rows.set(uid, { id: uid, mailboxId: 7, uid, modseq, flags, internalDate: uid * 1000, size, blobId: uid, traceHeaders: "" });
  }
  setFlags(uid: number, flags: string[]): void {
    const r = this.rows.get(uid);
    if (!r) return;
    const modseq = ++this.mb.highestModseq;
    this.rows.set(uid, { ...r, flags, modseq });
  }
  expunge(uid: number): void {
    if (!this.rows.delete(uid)) return;
    const modseq = ++this.mb.highestModseq;
    this.tombs.push({ uid, modseq });
  }
  sorted(): MessageRecord[] {
    return [...this.rows.values()].sort((a, b) => a.uid - b.uid);
  }

  store(): MetadataStore {
    const mail = {
      getMailboxById: async (id: number) => (this.exists && id === 7 ? { ...this.mb } : null),
      listMessages: async () => {
        this.fullReads++;
        return this.sorted();
      },
      listChangedSince: async (_: number, since: number) => this.sorted().filter((r) => r.modseq > since),
      listExpunged: async (_: number, since: number) => this.tombs.filter((t) => t.modseq > since).map((t) => t.uid),
    };
    const store = { mail, transaction: async <T>(fn: (tx: unknown) => Promise<T>) => fn({ mail }), readCommitted: async <T>(fn: (tx: unknown) => Promise<T>) => fn({ mail }) };
    return store as unknown as MetadataStore;
  }
}

const FLAG_SETS = [[], ["\\Seen"], ["\\Deleted"], ["\\Seen", "\\Deleted"], ["\\Seen", "$Label1"], ["\\Flagged"]];

function expectedCounts(rows: MessageRecord[]) {
  const has = (r: MessageRecord, f: string) => r.flags.some((x) => x.toLowerCase() === f);
  return {
    messages: rows.length,
    unseen: rows.filter((r) => !has(r, "\\seen")).length,
    deleted: rows.filter((r) => has(r, "\\deleted")).length,
    size: rows.reduce((a, r) => a + r.size, 0),
  };
}

test("mailbox index: after any sequence of appends, flag changes and expunges it equals a fresh read, with one full read", async () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant("add" as const), flags: fc.integer({ min: 0, max: FLAG_SETS.length - 1 }), size: fc.integer({ min: 1, max: 5000 }) }),
    fc.record({ kind: fc.constant("flags" as const), pick: fc.nat(), flags: fc.integer({ min: 0, max: FLAG_SETS.length - 1 }) }),
    fc.record({ kind: fc.constant("expunge" as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant("read" as const) }),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
      const m = new FakeMail();
      const store = m.store();
      const cache = new MailboxIndexCache();
      for (let i = 0; i < 5; i++) m.add(FLAG_SETS[i % FLAG_SETS.length], 100 + i);
      await cache.counts(store, 7);
      for (const o of ops) {
        const uids = [...m.rows.keys()];
        if (o.kind === "add") m.add(FLAG_SETS[o.flags], o.size);
        else if (o.kind === "flags" && uids.length) m.setFlags(uids[o.pick % uids.length], FLAG_SETS[o.flags]);
        else if (o.kind === "expunge" && uids.length) m.expunge(uids[o.pick % uids.length]);
        else if (o.kind === "read") assert.deepEqual((await cache.counts(store, 7))!.counts, expectedCounts(m.sorted()));
      }
      const snap = (await cache.snapshot(store, 7))!;
      const rows = m.sorted();
      assert.deepEqual(snap.counts, expectedCounts(rows));
      assert.equal(snap.mb.highestModseq, m.mb.highestModseq);
      assert.equal(snap.columns.n, rows.length);
      rows.forEach((r, i) => {
        assert.equal(snap.columns.uid[i], r.uid);
        assert.equal(snap.columns.mod[i], r.modseq);
        assert.equal(snap.columns.size[i], r.size);
        assert.equal(snap.columns.date[i], r.internalDate);
        assert.deepEqual(snap.columns.flagTable[snap.columns.flags[i]], r.flags);
      });
      assert.equal(m.fullReads, 1, "changes are caught up, not re-read");
    }),
    { numRuns: 150 },
  );
});

test("mailbox index: a snapshot is a copy; a deleted mailbox answers null; the budget drops entries", async () => {
  const m = new FakeMail();
  const store = m.store();
  const cache = new MailboxIndexCache(3);
  m.add([], 10);
  m.add(["\\Seen"], 20);
  const a = (await cache.snapshot(store, 7))!;
  m.setFlags(1, ["\\Seen"]);
  const b = (await cache.snapshot(store, 7))!;
  assert.deepEqual(a.columns.flagTable[a.columns.flags[0]], [], "the first copy is unchanged");
  assert.deepEqual(b.columns.flagTable[b.columns.flags[0]], ["\\Seen"]);
  assert.equal(b.counts.unseen, 0);
  assert.equal(m.fullReads, 1);
  // Over the budget of 3 messages: caught up once more, then not kept: every call reads again.
  m.add([], 1);
  m.add([], 1);
  await cache.counts(store, 7);
  assert.equal(m.fullReads, 1);
  await cache.counts(store, 7);
  await cache.counts(store, 7);
  assert.equal(m.fullReads, 3);
  m.exists = false;
  assert.equal(await cache.snapshot(store, 7), null);
});

test("mailbox index: concurrent callers on one mailbox see consistent results", async () => {
  const m = new FakeMail();
  const store = m.store();
  const cache = new MailboxIndexCache();
  for (let i = 0; i < 20; i++) m.add([], 10);
  await cache.counts(store, 7);
  const results = [];
  for (let i = 0; i < 10; i++) {
    m.setFlags(i + 1, ["\\Seen"]);
    results.push(cache.counts(store, 7));
    if (i % 3 === 0) m.expunge(20 - i);
  }
  await Promise.all(results);
  assert.deepEqual((await cache.counts(store, 7))!.counts, expectedCounts(m.sorted()));
});

test("mailbox index: views share the lent columns copy-on-write; neither side sees the other's changes", async () => {
  const m = new FakeMail();
  const store = m.store();
  const cache = new MailboxIndexCache();
  for (let i = 0; i < 6; i++) m.add(i % 2 ? ["\\Seen"] : [], 10 * (i + 1));
  const s1 = (await cache.snapshot(store, 7))!;
  const a = new MailboxView(s1.mb, s1.columns, false);
  const b = new MailboxView(s1.mb, s1.columns, false);
  assert.equal(s1.columns.uid.buffer, (await cache.snapshot(store, 7))!.columns.uid.buffer, "unchanged: one copy");
  assert.deepEqual(a.takeFlagChanges(), []);
  a.setFlags(1, ["\\Flagged"], 99, false);
  assert.deepEqual(a.flagsOf(1), ["\\Flagged"]);
  assert.deepEqual(b.flagsOf(1), [], "b keeps the shared columns");
  assert.deepEqual(a.takeFlagChanges(), [1]);
  // The store moves on; the index catches up on its own copy; b sees it only by refreshing.
  m.setFlags(2, []);
  m.expunge(3);
  m.add(["\\Seen"], 70);
  const s2 = (await cache.snapshot(store, 7))!;
  assert.deepEqual(b.flagsOf(2), ["\\Seen"]);
  assert.ok(b.has(3));
  assert.deepEqual(Array.from(s2.columns.uid), [1, 2, 4, 5, 6, 7]);
  assert.deepEqual(s2.columns.flagTable[s2.columns.flags[1]], []);
  await b.refresh(store);
  assert.deepEqual(b.flagsOf(2), []);
  assert.deepEqual(b.takeFlagChanges(), [2]);
  assert.deepEqual(b.takeExpunged(), [{ uid: 3, seq: 3 }]);
  assert.equal(b.takeAdded(), 1);
  assert.deepEqual(b.visibleUids(), [1, 2, 4, 5, 6, 7]);
  assert.deepEqual(a.visibleUids(), [1, 2, 3, 4, 5, 6], "a is untouched by the index and by b");
  const c = new MailboxView(s2.mb, s2.columns, false);
  assert.deepEqual(c.visibleUids(), [1, 2, 4, 5, 6, 7]);
  assert.equal(c.firstUnseen(), 1);
});

/** The FakeMail's mailbox replaced by another one under the same id (what a reused rowid did). */
function reuseId(m: FakeMail, userId: number): void {
  m.mb = { ...m.mb, userId, name: "b1", uidValidity: m.mb.uidValidity + 1, uidNext: 1, highestModseq: 1 };
  m.rows.clear();
  m.tombs = [];
}

test("mailbox index and views: another mailbox under a known id is never taken for the old one", async () => {
  const m = new FakeMail();
  const store = m.store();
  const cache = new MailboxIndexCache();
  for (let i = 0; i < 3; i++) m.add(["$Secret"], 100 + i);
  const s1 = (await cache.snapshot(store, 7))!;
  const view = new MailboxView(s1.mb, s1.columns, false);
  assert.equal(s1.counts.messages, 3);
  // The old mailbox is deleted and a new one (another user's) gets its id; its MODSEQ is lower.
  reuseId(m, 2);
  m.add([], 5);
  const s2 = (await cache.snapshot(store, 7))!;
  assert.equal(s2.mb.userId, 2);
  assert.deepEqual(s2.counts, { messages: 1, unseen: 1, deleted: 0, size: 5 });
  assert.deepEqual(Array.from(s2.columns.uid), [1]);
  assert.ok(!s2.columns.flagTable.some((f) => f.includes("$Secret")), "the old mailbox's keywords are gone");
  assert.equal(m.fullReads, 2, "a full read of the new mailbox, not a catch-up on the old entry");
  // A view of the old mailbox sees it deleted, and nothing of the new one.
  await view.refresh(store);
  assert.equal(view.takeAdded(), 0);
  assert.deepEqual(view.takeExpunged().map((g) => g.uid).sort(), [1, 2, 3]);
  assert.deepEqual(view.visibleUids(), []);
  // Even when the new mailbox's MODSEQ happens to equal the entry's.
  for (let i = 0; i < 2; i++) m.add([], 1);
  await cache.counts(store, 7);
  reuseId(m, 3);
  for (let i = 0; i < 3; i++) m.add(["\\Seen"], 9);
  assert.deepEqual((await cache.counts(store, 7))!.counts, { messages: 3, unseen: 0, deleted: 0, size: 27 });
});

test("mailbox index: forget() and forgetUser() drop entries, and a reload follows", async () => {
  const m = new FakeMail();
  const store = m.store();
  const cache = new MailboxIndexCache();
  m.add([], 1);
  await cache.counts(store, 7);
  assert.ok(cache.has(7));
  await cache.forget(7);
  assert.ok(!cache.has(7));
  await cache.counts(store, 7);
  assert.equal(m.fullReads, 2);
  await cache.forgetUser(99);
  assert.ok(cache.has(7), "another user's entry stays");
  await cache.forgetUser(1);
  assert.equal(cache.size, 0);
});
