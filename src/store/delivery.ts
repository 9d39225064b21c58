// Group-commit delivery. The acknowledgement ("250" in SMTP) waits for deliver() to resolve,
// which happens only after, in this order:
//   1. the blob's temp file is fsynced            (BlobWriter.finish, before deliver is called)
//   2. it is renamed to its final name            (StagingBlobStore.publish)
//   3. the directory is fsynced                   (publish: once per batch)
//   4. the metadata transaction commits           (BlobRepo.commitBatch, synchronous=FULL)
//   5. the promise resolves.
// A crash between 3 and 4 leaves a file without a row (an orphan the collector removes), never
// a row without its file.
//
// Batching: while one batch is being committed, new deliveries queue and form the next batch.
// When idle a delivery starts at once (no timer, no added wait). Batches and collector jobs
// (exclusive()) run one at a time, so the collector never sees a renamed-but-uncommitted file.
import type { BatchDelivery, BatchOutcome, DeliveryRequest, DeliveryResult, MetadataStore, StagedBlob, StagingBlobStore } from "./types.ts";

interface Pending {
  req: DeliveryRequest;
  resolve(r: DeliveryResult): void;
  reject(e: unknown): void;
}

interface Job {
  fn(): Promise<unknown>;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

export interface DeliveryWriterOptions {
  store: MetadataStore;
  blobs: StagingBlobStore;
  /** Upper bound on one batch (keeps one transaction short). */
  maxBatch?: number;
  /**
   * Called after each batch commits with the deliveries that succeeded (before their promises
   * resolve): the hook for change events (IMAP IDLE) and metrics. Must not throw.
   */
  onBatch?: (delivered: DeliveryResult[]) => void;
}

export interface DeliveryStats {
  batches: number;
  deliveries: number;
}

export class DeliveryWriter {
  #store: MetadataStore;
  #blobs: StagingBlobStore;
  #max: number;
  #onBatch?: (delivered: DeliveryResult[]) => void;
  #pending: Pending[] = [];
  #jobs: Job[] = [];
  #running = false;
  #idle: Array<() => void> = [];
  readonly stats: DeliveryStats = { batches: 0, deliveries: 0 };

  constructor(opts: DeliveryWriterOptions) {
    this.#store = opts.store;
    this.#blobs = opts.blobs;
    this.#max = opts.maxBatch ?? 256;
    this.#onBatch = opts.onBatch;
  }

  /** Resolves once the message is durable (see the order above); rejects if it was not stored. */
  deliver(req: DeliveryRequest): Promise<DeliveryResult> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ req, resolve, reject });
      this.#kick();
    });
  }

  /** Runs fn between batches, with no delivery in flight (the collector's unlink phases). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#jobs.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      this.#kick();
    });
  }

  /** Resolves when nothing is queued or running. */
  drain(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((r) => this.#idle.push(r));
  }

  #kick(): void {
    if (this.#running) return;
    this.#running = true;
    // A microtask, not a timer: deliveries submitted in the same turn share the batch, and an
    // idle writer adds no measurable wait.
    queueMicrotask(() => void this.#loop());
  }

  async #loop(): Promise<void> {
    try {
      while (this.#pending.length > 0 || this.#jobs.length > 0) {
        const job = this.#jobs.shift();
        if (job) {
          // Through a then(): a job that throws synchronously rejects its own promise instead
          // of ending this loop (whose rejection nobody awaits: `void this.#loop()`).
          await Promise.resolve().then(job.fn).then(job.resolve, job.reject);
          continue;
        }
        await this.#commit(this.#pending.splice(0, this.#max));
      }
    } finally {
      this.#running = false;
      for (const r of this.#idle.splice(0)) r();
    }
  }

  async #commit(batch: Pending[]): Promise<void> {
    const leftovers: StagedBlob[] = []; // temp files to remove after the commit
    const items: (BatchDelivery | null)[] = [];
    const toPublish: StagedBlob[] = [];
    const firstOfSha = new Map<string, number>(); // sha256 → index in toPublish
    try {
      // Dedup before any rename: content already stored is referenced, its temp dropped.
      // All lookups at once: each may wait for a group commit in progress (db.ts), together.
      const found = await Promise.all(batch.map((p) => this.#store.blobs.getBySha(p.req.blob.sha256)));
      for (const [i, p] of batch.entries()) {
        const staged = p.req.blob;
        const existing = found[i];
        if (existing) {
          items.push({ req: p.req, blob: { existingId: existing.id } });
          leftovers.push(staged);
        } else if (firstOfSha.has(staged.sha256)) {
          items.push(null); // location filled in after publish
          leftovers.push(staged);
        } else {
          firstOfSha.set(staged.sha256, toPublish.length);
          toPublish.push(staged);
          items.push(null);
        }
      }
      const published = await this.#blobs.publish(toPublish);
      // A blob that could not be published fails only the requests that need it.
      const live: Pending[] = [];
      const ready: BatchDelivery[] = [];
      batch.forEach((p, i) => {
        const it = items[i];
        const loc = it ? null : published[firstOfSha.get(p.req.blob.sha256)!];
        if (loc instanceof Error) return p.reject(loc);
        live.push(p);
        ready.push(it ?? { req: p.req, blob: { location: loc! } });
      });
      const outcomes: BatchOutcome[] = ready.length > 0 ? await this.#store.blobs.commitBatch(ready) : [];
      this.stats.batches++;
      this.stats.deliveries += live.length;
      this.#onBatch?.(outcomes.flatMap((o) => (o.ok ? [o.result] : [])));
      live.forEach((p, i) => {
        const o = outcomes[i];
        if (o.ok) p.resolve(o.result);
        else p.reject(o.error);
      });
    } catch (e) {
      // The directory fsync or the commit failed: nothing in this batch is acknowledged.
      // Published files without rows are orphans for the collector. (A promise settles once,
      // so requests already rejected above are unaffected.)
      for (const p of batch) p.reject(e);
      // Temps not yet renamed would leak; renamed ones are gone from tmp/ (ENOENT is ignored).
      leftovers.push(...toPublish);
    }
    for (const s of leftovers) await this.#blobs.discard(s).catch(() => undefined);
  }
}
