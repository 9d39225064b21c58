import { test } from "node:test";
import assert from "node:assert/strict";
import { ChangeBus } from "./change-bus.ts";

test("only listeners of the changed mailbox hear; onBatch publishes each mailbox once; unsubscribe", () => {
  const bus = new ChangeBus();
  const heard: string[] = [];
  const offA = bus.subscribe(1, (id) => heard.push(`a${id}`));
  bus.subscribe(2, (id) => heard.push(`b${id}`));
  const self = (id: number): void => void heard.push(`self${id}`);
  bus.subscribe(1, self);
  bus.publish(1, self);
  assert.deepEqual(heard, ["a1"], "the publisher itself is skipped");
  heard.length = 0;
  bus.onBatch([
    { blobId: 1, queueIds: [], delivered: [{ mailboxId: 2, uid: 1, modseq: 2, messageId: 1 }, { mailboxId: 2, uid: 2, modseq: 3, messageId: 2 }] },
    { blobId: 2, queueIds: [], delivered: [{ mailboxId: 3, uid: 1, modseq: 2, messageId: 3 }] },
  ]);
  assert.deepEqual(heard, ["b2"]);
  offA();
  heard.length = 0;
  bus.publish(1);
  assert.deepEqual(heard, ["self1"]);
  assert.equal(bus.watchedMailboxes, 2);
  bus.subscribe(4, () => {
    throw new Error("listener failure");
  });
  bus.subscribe(4, (id) => heard.push(`c${id}`));
  bus.publish(4);
  assert.deepEqual(heard, ["self1", "c4"], "one failing listener does not stop the others");
});
