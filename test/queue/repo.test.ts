// The queue repository's outbound state: outcomes, in-flight marks, retries, and the blob
// reference an entry holds until it is finished or removed.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { ManualClock } from "../../src/clock.ts";
import { openStorage } from "../../src/store/open.ts";
import { unchangedUpdate } from "../../src/queue/runner.ts";
import type { QueueRecipientRecord, QueueRecipientUpdate } from "../../src/store/types.ts";

const upd = (r: QueueRecipientRecord, patch: Partial<QueueRecipientUpdate>): QueueRecipientUpdate => ({ ...unchangedUpdate(r), ...patch });

test("outcomes, in-flight marks and retries; the last outcome removes the entry and releases its blob", async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "fh-qrepo-"));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const clock = new ManualClock(1_800_000_000_000);
  const s = await openStorage(dir, { clock });
  t.after(() => s.close());
  const w = s.blobs.create();
  await w.write(Buffer.from("Subject: q\r\n\r\nx\r\n"));
  const r = await s.writer.deliver({
    blob: await w.finish(),
    targets: [],
    queue: [{ mailFrom: "a@x.test", recipients: [{ recipient: "b@y.test" }, { recipient: "c@y.test" }], traceHeaders: "", origin: "submission" }],
  });
  const id = r.queueIds[0];
  const q = s.store.queue;
  assert.equal((await s.store.blobs.get(r.blobId))?.refcount, 1);
  assert.deepEqual((await q.due(clock.now(), 10)).map((e) => e.id), [id]);
  assert.equal(await q.nextDue(), clock.now());

  const [b, c] = (await q.get(id))!.recipients;
  await q.markInFlight([b.id, c.id], clock.now());
  assert.deepEqual((await q.listInFlight()).map((x) => x.recipient), ["b@y.test", "c@y.test"]);

  const later = clock.now() + 300_000;
  let res = await q.recordOutcome(
    id,
    [upd(b, { state: "delivered", attempts: 1, lastReply: "250 ok", route: "direct" }), upd(c, { attempts: 1, nextAttemptAt: later, lastReply: "451 later", status: "4.0.0" })],
    [{ recipientId: b.id, route: "direct", outcome: "delivered", reply: "250 ok" }, { recipientId: c.id, route: "direct", outcome: "deferred", reply: "451 later" }],
  );
  assert.equal(res.finished, false);
  assert.equal((await q.listInFlight()).length, 0, "outcomes clear the marks");
  assert.equal((await q.due(clock.now(), 10)).length, 0);
  assert.equal(await q.nextDue(), later);
  assert.deepEqual((await q.attempts(id)).map((a) => a.outcome), ["delivered", "deferred"]);
  assert.equal(await q.retryNow(id, clock.now()), 1, "only the pending recipient");
  assert.equal((await q.due(clock.now(), 10)).length, 1);

  const c2 = (await q.get(id))!.recipients[1];
  res = await q.recordOutcome(id, [upd(c2, { state: "failed", attempts: 2, lastReply: "550 no" })], []);
  assert.equal(res.finished, true);
  assert.equal(await q.get(id), null);
  assert.equal((await s.store.blobs.get(r.blobId))?.refcount, 0, "the entry's blob reference is gone");
  assert.equal(await q.nextDue(), null);
  assert.equal((await s.store.integrityCheck()).ok, true);
});
