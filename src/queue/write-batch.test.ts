import { test } from "node:test";
import assert from "node:assert/strict";
import type { MetadataStore, StoreRepos } from "../store/types.ts";
import { QueueWriteBatch } from "./write-batch.ts";

/** A store whose transaction records the writes made inside it; optional failures. */
function fakeStore(opts: { failRecordFor?: number; failCommit?: boolean } = {}) {
  const transactions: string[][] = [];
  let open: string[] | null = null;
  const queue = {
    async markInFlight(ids: number[], at: number) {
      assert.ok(open, "markInFlight outside a transaction");
      open.push(`mark ${ids.join(",")}@${at}`);
    },
    async recordOutcome(queueId: number) {
      assert.ok(open, "recordOutcome outside a transaction");
      if (queueId === opts.failRecordFor) throw new Error(`cannot record ${queueId}`);
      open.push(`outcome ${queueId}`);
      return { finished: queueId % 2 === 0 };
    },
  };
  const store = {
    async transaction<T>(fn: (tx: StoreRepos) => Promise<T> | T): Promise<T> {
      assert.equal(open, null, "transactions overlap");
      open = [];
      try {
        const r = await fn({ queue } as unknown as StoreRepos);
        if (opts.failCommit) throw new Error("disk I/O error");
        transactions.push(open);
        return r;
      } finally {
        open = null;
      }
    },
  } as unknown as MetadataStore;
  return { store, transactions };
}

test("writes requested together share one transaction, each caller gets its own result", async () => {
  const { store, transactions } = fakeStore();
  const b = new QueueWriteBatch(store);
  const [m, o1, o2] = await Promise.all([b.markInFlight([1, 2], 7), b.recordOutcome(3, [], []), b.recordOutcome(4, [], [])]);
  assert.equal(m, undefined);
  assert.deepEqual(o1, { finished: false });
  assert.deepEqual(o2, { finished: true });
  assert.deepEqual(transactions, [["mark 1,2@7", "outcome 3", "outcome 4"]]);
  assert.equal(b.commits, 1);
});

test("writes arriving while a commit runs go together into the next one", async () => {
  const { store, transactions } = fakeStore();
  const b = new QueueWriteBatch(store);
  const first = b.recordOutcome(1, [], []);
  // Let the first batch start, then ask for three more before it has committed.
  await new Promise((r) => setImmediate(r));
  const later = [b.recordOutcome(3, [], []), b.recordOutcome(5, [], []), b.markInFlight([9], 1)];
  await Promise.all([first, ...later]);
  assert.deepEqual(transactions, [["outcome 1"], ["outcome 3", "outcome 5", "mark 9@1"]]);
  await b.drain();
});

test("a write that fails rejects only its caller; the others commit", async () => {
  const { store, transactions } = fakeStore({ failRecordFor: 3 });
  const b = new QueueWriteBatch(store);
  const results = await Promise.allSettled([b.recordOutcome(1, [], []), b.recordOutcome(3, [], []), b.recordOutcome(5, [], [])]);
  assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected", "fulfilled"]);
  assert.match(String((results[1] as PromiseRejectedResult).reason), /cannot record 3/);
  assert.deepEqual(transactions, [["outcome 1", "outcome 5"]]);
});

test("a failed commit rejects every caller of the batch, so no mark is taken for durable when it is not", async () => {
  const { store, transactions } = fakeStore({ failCommit: true });
  const b = new QueueWriteBatch(store);
  const results = await Promise.allSettled([b.markInFlight([1], 1), b.recordOutcome(2, [], [])]);
  assert.deepEqual(results.map((r) => r.status), ["rejected", "rejected"]);
  assert.deepEqual(transactions, []);
  assert.equal(b.commits, 0);
});
