// The contract every MetadataStore + BlobStore backend passes (STYLE.md §6). A backend's test
// file calls runStoreContract with a factory; see sqlite/contract.test.ts.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { BlobRecord, DeliveryRequest, Id, MetadataStore, StagedBlob, StagingBlobStore, UserRecord } from "./types.ts";
import type { DeliveryWriter } from "./delivery.ts";
import type { CollectReport } from "./collector.ts";
import { isStoreError } from "./errors.ts";

export interface StoreHarness {
  store: MetadataStore;
  blobs: StagingBlobStore;
  writer: DeliveryWriter;
  /** Runs the collector with no grace period, between batches. */
  collect(): Promise<CollectReport>;
  /** Rows whose file is missing, and files no row names. Call with no delivery in flight. */
  verify(): Promise<{ missingFiles: BlobRecord[]; orphanFiles: string[] }>;
  /** Staged or abandoned temp blobs on disk. */
  tempCount(): Promise<number>;
  /** Closes everything and opens the same data again, running startup recovery (a restart). */
  reopen(): Promise<StoreHarness>;
  /** Closes and deletes the data. */
  cleanup(): Promise<void>;
}

async function stage(blobs: StagingBlobStore, content: string | Buffer): Promise<StagedBlob> {
  const w = blobs.create();
  const buf = Buffer.from(content);
  // Several writes, so hashing and buffering across chunks is exercised.
  for (let i = 0; i < buf.length; i += 4096) await w.write(buf.subarray(i, i + 4096));
  return w.finish();
}

async function setupUser(store: MetadataStore, local = "alice"): Promise<{ user: UserRecord; inbox: Id }> {
  const domain = (await store.accounts.getDomain("example.test")) ?? (await store.accounts.createDomain("example.test"));
  const user = await store.accounts.createUser({ domainId: domain.id, localPart: local, passwordHash: "hash" });
  const inbox = await store.mail.createMailbox(user.id, "INBOX", "\\Inbox");
  return { user, inbox: inbox.id };
}

function req(blob: StagedBlob, mailboxIds: Id[], trace = "Received: test\r\n"): DeliveryRequest {
  return { blob, targets: mailboxIds.map((mailboxId) => ({ mailboxId, traceHeaders: trace })), queue: [] };
}

async function assertClean(h: StoreHarness): Promise<void> {
  const report = await h.store.integrityCheck();
  assert.deepEqual(report.problems, []);
  const v = await h.verify();
  assert.deepEqual(v.missingFiles, [], "every blob row has its file");
}

export function runStoreContract(name: string, factory: () => Promise<StoreHarness>): void {
  describe(`store contract: ${name}`, () => {
    let h: StoreHarness;
    const open = async () => (h = await factory());
    const close = async () => h?.cleanup();

    test("accounts: domains, users, aliases, one owner per address", async () => {
      await open();
      try {
        const a = h.store.accounts;
        const d = await a.createDomain("Example.TEST");
        assert.equal(d.name, "example.test");
        await assert.rejects(a.createDomain("example.test"), (e) => isStoreError(e, "exists"));
        const u = await a.createUser({ domainId: d.id, localPart: "Bob", passwordHash: "h1", quotaBytes: 1000 });
        assert.equal(u.address, "bob@example.test");
        assert.equal((await a.getUserByAddress("BOB@Example.test"))?.id, u.id);
        await assert.rejects(a.createAlias({ domainId: d.id, localPart: "bob", targets: ["x@y.test"] }), (e) => isStoreError(e, "exists"));
        const catchAll = await a.createAlias({ domainId: d.id, localPart: "", targets: ["bob@example.test"] });
        assert.equal(catchAll.address, "@example.test");
        await assert.rejects(a.createUser({ domainId: d.id, localPart: "", passwordHash: "h" }), (e) => isStoreError(e, "invalid"));
        await a.updatePassword(u.id, "h2");
        await a.setUserDisabled(u.id, true);
        const u2 = await a.getUserById(u.id);
        assert.equal(u2?.passwordHash, "h2");
        assert.equal(u2?.disabled, true);
        assert.equal(u2?.quotaBytes, 1000);
        assert.deepEqual((await a.listAliases(d.id)).map((x) => x.targets), [["bob@example.test"]]);
        await assert.rejects(a.removeDomain("example.test"), (e) => isStoreError(e, "in-use"));
        assert.equal(await a.removeUser(u.id), true);
        assert.equal(await a.removeDomain("example.test"), true);
        assert.deepEqual(await a.listAliases(), []);
        assert.equal(await a.removeDomain("example.test"), false);
        await assertClean(h);
      } finally {
        await close();
      }
    });

    test("mailboxes: rename moves children; DELETE then CREATE gives a new UIDVALIDITY", async () => {
      await open();
      try {
        const m = h.store.mail;
        const { user } = await setupUser(h.store);
        const work = await m.createMailbox(user.id, "Work");
        await m.createMailbox(user.id, "Work/Projects");
        await assert.rejects(m.createMailbox(user.id, "Work"), (e) => isStoreError(e, "exists"));
        await m.renameMailbox(user.id, "Work", "Job");
        assert.deepEqual((await m.listMailboxes(user.id)).map((x) => x.name), ["INBOX", "Job", "Job/Projects"]);
        const job = await m.getMailbox(user.id, "Job");
        assert.equal(job?.uidValidity, work.uidValidity, "RENAME keeps UIDVALIDITY");
        assert.equal(await m.deleteMailbox(user.id, "Job"), true);
        const again = await m.createMailbox(user.id, "Job");
        assert.notEqual(again.uidValidity, work.uidValidity);
        assert.ok(again.uidValidity > 0 && again.uidValidity <= 0xffffffff);
        assert.equal((await m.getMailbox(user.id, "inbox"))?.name, "INBOX", "INBOX is case-insensitive");
        await assertClean(h);
      } finally {
        await close();
      }
    });

    test("UIDs are never reused after expunge and restart", async () => {
      await open();
      try {
        const { user, inbox } = await setupUser(h.store);
        for (let i = 0; i < 3; i++) await h.writer.deliver(req(await stage(h.blobs, `message ${i}\r\n`), [inbox]));
        const ex = await h.store.mail.expunge(inbox, [2, 3]);
        assert.deepEqual(ex.uids, [2, 3]);
        h = await h.reopen();
        const mb = await h.store.mail.getMailbox(user.id, "INBOX");
        assert.equal(mb?.uidNext, 4, "UIDNEXT persisted, not max(uid)+1");
        const r = await h.writer.deliver(req(await stage(h.blobs, "after restart\r\n"), [inbox]));
        assert.equal(r.delivered[0].uid, 4);
        await h.store.mail.expunge(inbox, [1, 4]);
        h = await h.reopen();
        const r2 = await h.writer.deliver(req(await stage(h.blobs, "empty mailbox\r\n"), [inbox]));
        assert.equal(r2.delivered[0].uid, 5);
        assert.deepEqual(await h.store.mail.listExpunged(inbox, 0), [1, 2, 3, 4]);
        await assertClean(h);
      } finally {
        await close();
      }
    });

    test("MODSEQ strictly increases across append, flag change and expunge", async () => {
      await open();
      try {
        const m = h.store.mail;
        const { user, inbox } = await setupUser(h.store);
        const seen: number[] = [(await m.getMailboxById(inbox))!.highestModseq];
        const step = async () => {
          const hm = (await m.getMailboxById(inbox))!.highestModseq;
          assert.ok(hm > seen[seen.length - 1], `HIGHESTMODSEQ ${hm} after ${seen.join(",")}`);
          seen.push(hm);
        };
        for (let i = 0; i < 3; i++) {
          const r = await h.writer.deliver(req(await stage(h.blobs, `m${i}\r\n`), [inbox]));
          assert.equal(r.delivered[0].modseq, (await m.getMailboxById(inbox))!.highestModseq);
          await step();
        }
        const changed = await m.setFlags(inbox, [1, 2], ["\\Seen"], "add");
        assert.deepEqual(changed.map((c) => c.uid), [1, 2]);
        await step();
        assert.deepEqual(await m.setFlags(inbox, [1, 2], ["\\Seen"], "add"), [], "no change, no new MODSEQ");
        const before = (await m.getMailboxById(inbox))!.highestModseq;
        assert.equal(before, seen[seen.length - 1]);
        await m.setFlags(inbox, [1], ["\\Seen"], "remove");
        await step();
        const since = await m.listChangedSince(inbox, seen[seen.length - 2]);
        assert.deepEqual(since.map((x) => [x.uid, x.flags]), [[1, []]]);
        const ex = await m.expunge(inbox, [2]);
        await step();
        assert.equal(ex.modseq, seen[seen.length - 1]);
        assert.deepEqual(await m.listExpunged(inbox, seen[seen.length - 2]), [2]);
        const msgs = await m.listMessages(inbox);
        assert.equal(new Set(msgs.map((x) => x.modseq)).size, msgs.length);
        assert.ok(user.id > 0);
        await assertClean(h);
      } finally {
        await close();
      }
    });

    test("a rolled-back transaction leaves nothing behind", async () => {
      await open();
      try {
        const { user, inbox } = await setupUser(h.store);
        await h.writer.deliver(req(await stage(h.blobs, "keep me\r\n"), [inbox]));
        const usage = await h.store.mail.userUsage(user.id);
        const mb = await h.store.mail.getMailboxById(inbox);
        const msg = await h.store.mail.getMessage(inbox, 1);
        const blob = await h.store.blobs.get(msg!.blobId);
        await assert.rejects(
          h.store.transaction(async (tx) => {
            await tx.mail.createMailbox(user.id, "Temp");
            await tx.mail.setFlags(inbox, [1], ["\\Flagged"], "add");
            await tx.mail.expunge(inbox, [1]);
            await tx.accounts.createAlias({ domainId: user.domainId, localPart: "gone", targets: ["a@b.test"] });
            assert.equal((await tx.mail.userUsage(user.id)).messages, 0, "visible inside the transaction");
            throw new Error("abort");
          }),
          /abort/,
        );
        assert.equal(await h.store.mail.getMailbox(user.id, "Temp"), null);
        assert.equal(await h.store.accounts.getAliasByAddress("gone@example.test"), null);
        assert.deepEqual(await h.store.mail.userUsage(user.id), usage);
        assert.deepEqual(await h.store.mail.getMailboxById(inbox), mb);
        assert.deepEqual(await h.store.mail.getMessage(inbox, 1), msg);
        // getMessages: the existing ones among the UIDs asked for, ascending.
        assert.deepEqual(await h.store.mail.getMessages(inbox, [7, 1, 3]), [msg]);
        assert.deepEqual(await h.store.mail.getMessages(inbox, []), []);
        assert.deepEqual(await h.store.blobs.get(msg!.blobId), blob);
        assert.deepEqual(await h.store.mail.listExpunged(inbox, 0), []);
        await assertClean(h);
      } finally {
        await close();
      }
    });

    test("an open transaction holds other callers until it ends", async () => {
      await open();
      try {
        const { user } = await setupUser(h.store);
        let inside!: () => void;
        const entered = new Promise<void>((r) => (inside = r));
        let release!: () => void;
        const gate = new Promise<void>((r) => (release = r));
        const tx = h.store.transaction(async (t) => {
          await t.mail.createMailbox(user.id, "Pending");
          inside();
          await gate;
          throw new Error("roll back");
        });
        await entered;
        // Issued while the transaction is open: it must neither see nor join its uncommitted work.
        const outside = h.store.mail.getMailbox(user.id, "Pending");
        release();
        await assert.rejects(tx, /roll back/);
        assert.equal(await outside, null);
        assert.equal(await h.store.mail.getMailbox(user.id, "Pending"), null);
      } finally {
        await close();
      }
    });

    test("a failing request in a batch fails alone and leaves nothing behind", async () => {
      await open();
      try {
        const { user, inbox } = await setupUser(h.store);
        const staged = await Promise.all([0, 1, 2].map((i) => stage(h.blobs, `batch ${i}\r\n`)));
        const results = await Promise.allSettled([
          h.writer.deliver(req(staged[0], [inbox])),
          h.writer.deliver(req(staged[1], [inbox, 999_999])), // second target does not exist
          h.writer.deliver(req(staged[2], [inbox])),
        ]);
        assert.equal(results[0].status, "fulfilled");
        assert.equal(results[1].status, "rejected");
        assert.equal(results[2].status, "fulfilled");
        const msgs = await h.store.mail.listMessages(inbox);
        assert.equal(msgs.length, 2);
        assert.equal((await h.store.mail.userUsage(user.id)).messages, 2);
        assert.equal(await h.store.blobs.getBySha(staged[1].sha256), null, "no row for the failed blob");
        await h.collect();
        assert.deepEqual((await h.verify()).orphanFiles, []);
        await assertClean(h);
      } finally {
        await close();
      }
    });

    test("dedup: N targets store one blob with refcount N; the same content twice reuses it", async () => {
      await open();
      try {
        const a = await setupUser(h.store, "a");
        const b = await setupUser(h.store, "b");
        const c = await setupUser(h.store, "c");
        const body = "Subject: hi\r\n\r\n" + "x".repeat(10_000) + "\r\n";
        const r1 = await h.writer.deliver(req(await stage(h.blobs, body), [a.inbox, b.inbox, c.inbox]));
        assert.equal((await h.store.blobs.get(r1.blobId))?.refcount, 3);
        const r2 = await h.writer.deliver({
          ...req(await stage(h.blobs, body), [a.inbox]),
          queue: [{ mailFrom: "a@example.test", recipients: [{ recipient: "x@remote.test", orcpt: "rfc822;x@remote.test", notify: ["FAILURE"] }], ret: "HDRS", envid: "E1", traceHeaders: "", origin: "forward" }],
        });
        assert.equal(r2.blobId, r1.blobId, "same content, same blob");
        assert.equal((await h.store.blobs.get(r1.blobId))?.refcount, 5);
        assert.equal(r2.queueIds.length, 1);
        const q = await h.store.queue.get(r2.queueIds[0]);
        assert.equal(q?.recipients[0].notify?.[0], "FAILURE");
        assert.equal(q?.ret, "HDRS");
        assert.equal(await h.tempCount(), 0, "the duplicate's temp file is gone");
        const stored = await h.blobs.readAll(r1.blobId);
        assert.equal(stored.toString(), body);
        const msg = await h.store.mail.getMessage(a.inbox, 1);
        assert.equal(msg?.size, Buffer.byteLength("Received: test\r\n") + Buffer.byteLength(body));
        assert.equal((await h.store.mail.userUsage(a.user.id)).bytes, 2 * msg!.size);
        await assertClean(h);
      } finally {
        await close();
      }
    });

    test("collection: unreferenced blobs, orphan files and stale temps are removed; live temps kept", async () => {
      await open();
      try {
        const a = await setupUser(h.store, "a");
        const b = await setupUser(h.store, "b");
        const r = await h.writer.deliver(req(await stage(h.blobs, "collect me\r\n"), [a.inbox, b.inbox]));
        const kept = await h.writer.deliver(req(await stage(h.blobs, "keep me\r\n"), [a.inbox]));
        await h.store.mail.expunge(a.inbox, [1]);
        assert.equal((await h.collect()).blobsRemoved, 0, "still referenced by b");
        await h.store.mail.deleteMailbox(b.user.id, "INBOX");
        assert.equal((await h.store.blobs.get(r.blobId))?.refcount, 0);
        assert.equal((await h.collect()).blobsRemoved, 1);
        assert.equal(await h.store.blobs.get(r.blobId), null);
        assert.deepEqual(await h.verify(), { missingFiles: [], orphanFiles: [] }, "the file went with the row");
        // A file published without a row: a crash between the directory fsync and the commit.
        const orphan = await stage(h.blobs, "orphan\r\n");
        await h.blobs.publish([orphan]);
        assert.equal((await h.verify()).orphanFiles.length, 1);
        // A staged temp still owned by this process is not touched by the collector.
        const live = await stage(h.blobs, "still in flight\r\n");
        assert.equal((await h.collect()).orphansRemoved, 1);
        assert.equal((await h.verify()).orphanFiles.length, 0);
        assert.equal(await h.tempCount(), 1);
        const d = await h.writer.deliver(req(live, [a.inbox]));
        assert.equal((await h.blobs.readAll(d.blobId)).toString(), "still in flight\r\n");
        // An abandoned temp (the process died before delivering it) goes at restart.
        await stage(h.blobs, "abandoned\r\n");
        assert.equal(await h.tempCount(), 1);
        h = await h.reopen();
        assert.equal(await h.tempCount(), 0);
        assert.equal((await h.blobs.readAll(kept.blobId)).toString(), "keep me\r\n");
        await assertClean(h);
      } finally {
        await close();
      }
    });

    test("quota: usage is tracked, and a delivery over quota fails alone", async () => {
      await open();
      try {
        const a = await setupUser(h.store, "a");
        const body = "z".repeat(1000);
        const trace = "Received: test\r\n";
        const size = Buffer.byteLength(trace) + body.length;
        const quota = 2 * size;
        const t = (s: StagedBlob) => ({ blob: s, targets: [{ mailboxId: a.inbox, traceHeaders: trace, quotaBytes: quota }], queue: [] });
        const staged = await Promise.all([1, 2, 3].map((i) => stage(h.blobs, body.slice(1) + i)));
        const results = await Promise.allSettled(staged.map((s) => h.writer.deliver(t(s))));
        assert.deepEqual(results.map((r) => r.status), ["fulfilled", "fulfilled", "rejected"]);
        const err = (results[2] as PromiseRejectedResult).reason;
        assert.ok(isStoreError(err, "over-quota"));
        assert.deepEqual(await h.store.mail.userUsage(a.user.id), { bytes: quota, messages: 2 });
        await h.store.mail.expunge(a.inbox, [1]);
        assert.deepEqual(await h.store.mail.userUsage(a.user.id), { bytes: size, messages: 1 });
        const again = await h.writer.deliver(t(await stage(h.blobs, body.slice(1) + "4")));
        assert.equal(again.delivered[0].uid, 3);
        await h.collect();
        await assertClean(h);
        assert.deepEqual((await h.verify()).orphanFiles, []);
      } finally {
        await close();
      }
    });

    test("COPY and MOVE: new UIDs, same blob, refcounts and MODSEQ follow", async () => {
      await open();
      try {
        const m = h.store.mail;
        const { user, inbox } = await setupUser(h.store);
        const archive = await m.createMailbox(user.id, "Archive", "\\Archive");
        const r = [];
        for (let i = 0; i < 3; i++) r.push(await h.writer.deliver(req(await stage(h.blobs, `copy ${i}\r\n`), [inbox])));
        await m.setFlags(inbox, [2], ["\\Seen", "$Work"], "add");
        const copied = await m.copyMessages(inbox, [2, 3, 99], archive.id);
        assert.deepEqual(copied.pairs, [[2, 1], [3, 2]]);
        assert.equal(copied.uidValidity, archive.uidValidity);
        const c1 = await m.getMessage(archive.id, 1);
        assert.deepEqual(c1?.flags, ["\\Seen", "$Work"]);
        assert.equal(c1?.blobId, r[1].blobId);
        assert.equal((await h.store.blobs.get(r[1].blobId))?.refcount, 2);
        const inboxModseq = (await m.getMailboxById(inbox))!.highestModseq;
        const moved = await m.moveMessages(inbox, [1, 2], archive.id);
        assert.deepEqual(moved.pairs, [[1, 3], [2, 4]]);
        assert.deepEqual(moved.expunged.uids, [1, 2]);
        assert.ok(moved.expunged.modseq > inboxModseq);
        assert.ok(moved.modseq > copied.modseq);
        assert.deepEqual((await m.listMessages(inbox)).map((x) => x.uid), [3]);
        assert.deepEqual((await m.listMessages(archive.id)).map((x) => x.uid), [1, 2, 3, 4]);
        assert.equal((await h.store.blobs.get(r[1].blobId))?.refcount, 2, "moved: one ref left the inbox, one arrived");
        assert.equal((await m.userUsage(user.id)).messages, 5);
        await assertClean(h);
      } finally {
        await close();
      }
    });

    test("removing a user releases its blobs", async () => {
      await open();
      try {
        const a = await setupUser(h.store, "a");
        const r = await h.writer.deliver(req(await stage(h.blobs, "bye\r\n"), [a.inbox, a.inbox]));
        assert.equal((await h.store.blobs.get(r.blobId))?.refcount, 2);
        await h.store.accounts.removeUser(a.user.id);
        assert.equal((await h.collect()).blobsRemoved, 1);
        await assertClean(h);
      } finally {
        await close();
      }
    });

    test("50 concurrent deliveries into one mailbox: distinct ascending UIDs, all readable", async () => {
      await open();
      try {
        const { user, inbox } = await setupUser(h.store);
        const bodies = Array.from({ length: 50 }, (_, i) => `Subject: ${i}\r\n\r\n${"y".repeat(1000 + i)}\r\n`);
        // Writers interleave: each stages its blob and delivers as soon as it is done.
        const results = await Promise.all(bodies.map(async (b) => h.writer.deliver(req(await stage(h.blobs, b), [inbox]))));
        const uids = results.map((r) => r.delivered[0].uid).sort((x, y) => x - y);
        assert.deepEqual(uids, Array.from({ length: 50 }, (_, i) => i + 1));
        const msgs = await h.store.mail.listMessages(inbox);
        assert.equal(msgs.length, 50);
        for (let i = 1; i < msgs.length; i++) assert.ok(msgs[i].modseq > msgs[i - 1].modseq);
        for (const [i, r] of results.entries()) {
          assert.equal((await h.blobs.readAll(r.blobId)).toString(), bodies[i]);
        }
        // Deliveries submitted together share a batch (group commit).
        const before = h.writer.stats.batches;
        const staged = await Promise.all(bodies.map((b) => stage(h.blobs, b + "again")));
        await Promise.all(staged.map((s) => h.writer.deliver(req(s, [inbox]))));
        assert.ok(h.writer.stats.batches - before <= 2, `50 deliveries took ${h.writer.stats.batches - before} batches`);
        assert.equal((await h.store.mail.userUsage(user.id)).messages, 100);
        await assertClean(h);
      } finally {
        await close();
      }
    });

    test("app passwords: per user, unique names, looked up by tag, removed with the user, ids never reused", async () => {
      await open();
      try {
        const { user } = await setupUser(h.store);
        const other = await setupUser(h.store, "bob");
        const ap = h.store.appPasswords;
        const a = await ap.create({ userId: user.id, name: "Phone", tag: "t1", passwordHash: "h1" });
        assert.equal(a.lastUsedAt, null);
        await assert.rejects(ap.create({ userId: user.id, name: "Phone", tag: "t2", passwordHash: "h2" }), (e) => isStoreError(e, "exists"));
        await assert.rejects(ap.create({ userId: 987654, name: "x", tag: "t", passwordHash: "h" }), (e) => isStoreError(e, "not-found"));
        await ap.create({ userId: other.user.id, name: "Phone", tag: "t1", passwordHash: "h3" });
        assert.deepEqual((await ap.findByTag(user.id, "t1")).map((r) => r.passwordHash), ["h1"]);
        await ap.touch(a.id, 1234);
        assert.equal((await ap.get(a.id))?.lastUsedAt, 1234);
        assert.equal(await ap.remove(other.user.id, a.id), false, "only the owner's id");
        assert.equal(await ap.remove(user.id, a.id), true);
        assert.equal(await ap.get(a.id), null);
        const b = await ap.create({ userId: user.id, name: "Phone", tag: "t1", passwordHash: "h4" });
        assert.ok(b.id > a.id, "a removed id is not handed out again");
        await h.store.accounts.removeUser(other.user.id);
        assert.deepEqual(await ap.list(other.user.id), []);
        assert.deepEqual((await ap.list(user.id)).map((r) => r.name), ["Phone"]);
      } finally {
        await close();
      }
    });

    test("blob reads: whole and by range", async () => {
      await open();
      try {
        const { inbox } = await setupUser(h.store);
        const body = Buffer.from(Array.from({ length: 20_000 }, (_, i) => i % 251));
        const r = await h.writer.deliver(req(await stage(h.blobs, body), [inbox]));
        assert.deepEqual(await h.blobs.readAll(r.blobId), body);
        const chunks: Buffer[] = [];
        for await (const c of await h.blobs.read(r.blobId, { start: 100, end: 5000 })) chunks.push(c as Buffer);
        assert.deepEqual(Buffer.concat(chunks), body.subarray(100, 5000));
        await assert.rejects(h.blobs.readAll(987654), (e) => isStoreError(e, "not-found"));
      } finally {
        await close();
      }
    });
  });
}
