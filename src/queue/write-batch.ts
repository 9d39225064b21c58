// Group commit for the runner's queue writes: the "in flight" marks taken before each final dot
// and the outcomes recorded after each reply.
//
// Each of those is a small transaction, and with synchronous=FULL every commit waits for an
// fsync of the WAL — on the event loop, since node:sqlite is synchronous. With ten sessions
// delivering at once that was two fsyncs per message, and every SMTP session of the process
// stalled during each. Writes requested in the same turn of the event loop (and those that
// arrive while a commit runs) go into one transaction instead, so concurrent deliveries share
// the fsync.
//
// Guarantees are those of the single calls: a caller's promise settles only after the commit
// holding its write, so a mark is durable before the dot follows it. Each write runs as its own
// savepoint (recordOutcome) or statement (markInFlight) inside the batch: one that fails is
// rolled back alone and rejects only its caller; a failed COMMIT rejects every caller of the batch.
import type { Id, MetadataStore, QueueAttemptInsert, QueueRecipientUpdate, StoreRepos } from "../store/types.ts";

interface Op {
  run(tx: StoreRepos): Promise<unknown>;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

export class QueueWriteBatch {
  #store: MetadataStore;
  #ops: Op[] = [];
  #scheduled = false;
  #flushing: Promise<void> | null = null;
  /** Transactions committed (for tests and logs). */
  commits = 0;

  constructor(store: MetadataStore) {
    this.#store = store;
  }

  markInFlight(recipientIds: Id[], at: number): Promise<void> {
    return this.#enqueue((tx) => tx.queue.markInFlight(recipientIds, at));
  }

  recordOutcome(queueId: Id, updates: QueueRecipientUpdate[], attempts: QueueAttemptInsert[]): Promise<{ finished: boolean }> {
    return this.#enqueue((tx) => tx.queue.recordOutcome(queueId, updates, attempts));
  }

  /** Resolves when every write requested so far has been committed or failed. */
  async drain(): Promise<void> {
    while (this.#flushing || this.#ops.length > 0 || this.#scheduled) {
      await (this.#flushing ?? new Promise((r) => setImmediate(r)));
    }
  }

  #enqueue<T>(run: (tx: StoreRepos) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#ops.push({ run, resolve: resolve as (v: unknown) => void, reject });
      this.#kick();
    });
  }

  #kick(): void {
    // While a commit runs, new writes wait for it and then go together in the next one.
    if (this.#scheduled || this.#flushing) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#flushing = this.#flush().finally(() => {
        this.#flushing = null;
        if (this.#ops.length > 0) this.#kick();
      });
    });
  }

  async #flush(): Promise<void> {
    const ops = this.#ops.splice(0);
    if (ops.length === 0) return;
    const results: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    try {
      await this.#store.transaction(async (tx) => {
        for (const op of ops) {
          try {
            results.push({ ok: true, value: await op.run(tx) });
          } catch (error) {
            results.push({ ok: false, error });
          }
        }
      });
      this.commits++;
    } catch (error) {
      for (const op of ops) op.reject(error);
      return;
    }
    ops.forEach((op, i) => {
      const r = results[i];
      if (r.ok) op.resolve(r.value);
      else op.reject(r.error);
    });
  }
}
