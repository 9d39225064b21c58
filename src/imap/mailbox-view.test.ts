import { test } from "node:test";
import assert from "node:assert/strict";
import { MailboxView } from "./mailbox-view.ts";
import type { MailboxRecord, MessageRecord } from "../store/types.ts";

const mb: MailboxRecord = { id: 1, userId: 1, name: "INBOX", specialUse: null, uidValidity: 9, uidNext: 20, highestModseq: 10, subscribed: true, createdAt: 0 };
const msg = (uid: number, flags: string[] = []): MessageRecord => ({ id: uid, mailboxId: 1, uid, modseq: uid, flags, internalDate: uid * 1000, size: uid * 10, blobId: 1, traceHeaders: "" });

test("view: numbering, sequence sets, expunge order, shown flags", () => {
  const v = new MailboxView(mb, [msg(3), msg(5, ["\\Seen"]), msg(7), msg(9, ["\\Seen"]), msg(11)], false);
  assert.equal(v.exists, 5);
  assert.equal(v.seqOf(7), 3);
  assert.equal(v.seqOf(8), 0);
  assert.deepEqual(v.resolve({ kind: "set", ranges: [{ start: 2, end: "*" }] }, false, null), [5, 7, 9, 11]);
  assert.deepEqual(v.resolve({ kind: "set", ranges: [{ start: 6, end: 10 }] }, true, null), [7, 9]);
  assert.deepEqual(v.resolve({ kind: "set", ranges: [{ start: "*", end: "*" }] }, true, null), [11]);
  assert.deepEqual(v.resolve({ kind: "saved" }, false, [5, 6, 11]), [5, 11]);
  // RFC 3501 §9 seq-number: a message number above the count is BAD (UIDs just match nothing).
  for (const ranges of [[{ start: 6, end: 6 }], [{ start: 4, end: 99 }], [{ start: 1, end: 2 }, { start: 7, end: "*" as const }]]) {
    assert.throws(() => v.resolve({ kind: "set", ranges }, false, null), (e: Error & { status?: string }) => e.status === "BAD", JSON.stringify(ranges));
  }
  assert.deepEqual(v.resolve({ kind: "set", ranges: [{ start: 99, end: 99 }] }, true, null), []);
  const empty = new MailboxView(mb, [], false);
  assert.throws(() => empty.resolve({ kind: "set", ranges: [{ start: 1, end: "*" }] }, false, null), (e: Error & { status?: string }) => e.status === "BAD");
  assert.throws(() => empty.resolve({ kind: "set", ranges: [{ start: "*", end: "*" }] }, false, null), (e: Error & { status?: string }) => e.status === "BAD");
  assert.deepEqual(empty.resolve({ kind: "set", ranges: [{ start: 1, end: "*" }] }, true, null), []);
  assert.deepEqual(v.get(9), { uid: 9, modseq: 9, flags: ["\\Seen"], internalDate: 9000, size: 90 });
  // Flag sets are shared: two messages with the same flags hold the same array.
  assert.equal(v.flagsOf(5), v.flagsOf(9));
  v.setFlags(7, ["\\Flagged"], 12, false);
  assert.deepEqual(v.takeFlagChanges(), [7]);
  assert.deepEqual(v.takeFlagChanges(), []);
  v.markGone([5, 9]);
  assert.ok(v.hasGone());
  assert.equal(v.seqOf(9), 4, "numbers hold until the expunge is announced");
  assert.deepEqual(v.filter(() => true), [3, 7, 11], "gone messages are not searched");
  // Highest first: "* 4 EXPUNGE" then "* 2 EXPUNGE" (RFC 3501 §7.4.1).
  assert.deepEqual(v.takeExpunged(), [{ uid: 9, seq: 4 }, { uid: 5, seq: 2 }]);
  assert.equal(v.exists, 3);
  assert.equal(v.seqOf(11), 3);
  assert.ok(!v.hasGone());
  assert.deepEqual(v.visibleUids(), [3, 7, 11]);
});

test("view: visit walks the given UIDs in one pass, skips unknown ones, marks flags shown", () => {
  const v = new MailboxView(mb, [msg(3), msg(5, ["\\Seen"]), msg(7), msg(9), msg(11)], false);
  v.setFlags(7, ["\\Flagged"], 12, false);
  v.setFlags(9, ["\\Seen"], 13, false);
  const seen: Array<[number, number, string[]]> = [];
  v.visit([4, 5, 7, 8, 11, 12], (seq, m) => seen.push([seq, m.uid, m.flags]));
  assert.deepEqual(seen, [[2, 5, ["\\Seen"]], [3, 7, ["\\Flagged"]], [5, 11, []]]);
  assert.deepEqual(v.takeFlagChanges(), [9], "7 was shown by the visit, 9 was not");
  v.visit([], () => assert.fail("no UIDs, no calls"));
});

test("view: flag changes of messages not yet announced wait for their EXISTS; gone ones are dropped", async () => {
  const rows = [msg(3), msg(5), msg(7)];
  let highest = 10;
  const store = {
    transaction: async <T>(fn: (tx: unknown) => Promise<T>) => fn(store),
    readCommitted: async <T>(fn: (tx: unknown) => Promise<T>) => fn(store),
    mail: {
      getMailboxById: async () => ({ ...mb, highestModseq: highest }),
      listChangedSince: async (_: number, since: number) => rows.filter((r) => r.modseq > since),
      listExpunged: async () => [],
    },
  };
  const v = new MailboxView(mb, rows.slice(0, 2), false);
  // Message 7 arrives, then its flags and message 3's change: one refresh sees all of it.
  rows[2] = { ...msg(7, ["\\Seen"]), modseq: 12 };
  rows[0] = { ...msg(3, ["\\Flagged"]), modseq: 13 };
  highest = 13;
  await v.refresh(store as never);
  v.setFlags(7, ["\\Seen", "\\Answered"], 14, false);
  assert.deepEqual(v.takeFlagChanges(), [3], "7 is not announced yet");
  assert.equal(v.takeAdded(), 1);
  assert.deepEqual(v.takeFlagChanges(), [7], "7 was kept pending");
  v.setFlags(5, ["\\Deleted"], 15, false);
  v.markGone([5]);
  assert.deepEqual(v.takeFlagChanges(), []);
});

test("view: \\Recent ranges (merged, searched, counted within EXISTS) and new keywords", () => {
  const v = new MailboxView(mb, [msg(3), msg(5), msg(7), msg(9), msg(11)], false);
  v.addRecent([4, 7]);
  v.addRecent([8, 9]); // adjacent: merged
  v.addRecent(null);
  v.addRecent([11, 11]);
  assert.deepEqual([3, 5, 7, 9, 11].map((u) => v.isRecent(u)), [false, true, true, true, true]);
  assert.equal(v.recentCount(), 4);
  v.markGone([5]);
  assert.equal(v.recentCount(), 4, "a gone message counts until its EXPUNGE is sent");
  v.takeExpunged();
  assert.equal(v.recentCount(), 3);
  // Keywords: only one not shown at SELECT sets the flag, once; system flags never do.
  v.initKeywords(["$Work"]);
  v.setFlags(3, ["\\Seen", "$work"], 20, true);
  assert.equal(v.takeKeywords(), null);
  v.setFlags(7, ["$Later", "\\Flagged"], 21, true);
  assert.ok(v.hasNewKeywords());
  assert.deepEqual(v.takeKeywords(), ["$Work", "$Later"]);
  assert.equal(v.takeKeywords(), null);
});
