// Indexes new mail for SEARCH in the background, so the first string search of a mailbox does
// not have to read every message (search.ts still indexes lazily whatever this missed: copies,
// mail from before the index existed, a lost search.sqlite). Fed by the DeliveryWriter's
// onBatch (deliveries and APPENDs); in batches of what queued meanwhile, never inside the delivery path, and
// the queue is bounded: when full, new work is dropped (the lazy path picks it up).
import type { Logger } from "../log/logger.ts";
import type { BlobStore, DeliveryResult, Id, MetadataStore } from "../store/types.ts";
import type { SearchIndex } from "../store/sqlite/search.ts";
import { loadMessage } from "./message-source.ts";
import { extractSearchDoc } from "./search-text.ts";

/** Messages indexed per batch (one search.sqlite transaction). */
const BATCH = 64;

export interface SearchIndexerDeps {
  store: MetadataStore;
  blobs: BlobStore;
  search: SearchIndex;
  logger: Logger;
  maxQueue?: number;
}

export class SearchIndexer {
  #deps: SearchIndexerDeps;
  #queue: Array<{ mailboxId: Id; uid: number }> = [];
  #running: Promise<void> | null = null;
  #max: number;
  #stopped = false;
  indexed = 0;

  constructor(deps: SearchIndexerDeps) {
    this.#deps = deps;
    this.#max = deps.maxQueue ?? 10_000;
  }

  /** For DeliveryWriter's onBatch (next to ChangeBus.onBatch). Never throws, never waits. */
  readonly onBatch = (results: DeliveryResult[]): void => {
    if (this.#stopped) return;
    for (const r of results) {
      for (const d of r.delivered) if (this.#queue.length < this.#max) this.#queue.push({ mailboxId: d.mailboxId, uid: d.uid });
    }
    this.#running ??= this.#run().finally(() => (this.#running = null));
  };

  async #run(): Promise<void> {
    // Let the delivery's own promise resolve first.
    await new Promise((r) => setImmediate(r));
    const uidValidity = new Map<Id, number | null>();
    while (this.#queue.length && !this.#stopped) {
      // What queued meanwhile, per mailbox: one row query and one index transaction per batch
      // instead of per message (under concurrent APPENDs each store call may also wait for a
      // group commit).
      const batch = this.#queue.splice(0, BATCH);
      const byMailbox = new Map<Id, number[]>();
      for (const { mailboxId, uid } of batch) {
        let l = byMailbox.get(mailboxId);
        if (!l) byMailbox.set(mailboxId, (l = []));
        l.push(uid);
      }
      for (const [mailboxId, uids] of byMailbox) {
        try {
          if (!uidValidity.has(mailboxId)) uidValidity.set(mailboxId, (await this.#deps.store.mail.getMailboxById(mailboxId))?.uidValidity ?? null);
          const uidv = uidValidity.get(mailboxId);
          if (uidv == null) continue;
          const missing = await this.#deps.search.missing(uidv, uids.sort((a, b) => a - b));
          if (missing.length === 0) continue;
          const docs = [];
          for (const rec of await this.#deps.store.mail.getMessages(mailboxId, missing)) {
            try {
              docs.push(extractSearchDoc(await loadMessage(this.#deps.blobs, rec), uidv, rec.uid));
            } catch (e) {
              this.#deps.logger.debug({ err: e, mailboxId, uid: rec.uid }, "search indexer: skipped a message");
            }
          }
          if (docs.length) await this.#deps.search.add(docs);
          this.indexed += docs.length;
        } catch (e) {
          this.#deps.logger.debug({ err: e, mailboxId }, "search indexer: skipped a batch");
        }
      }
    }
  }

  /** Resolves when the queue is empty (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.idle();
  }
}
