// Indexes new mail for SEARCH in the background, so the first string search of a mailbox does
// not have to read every message (search.ts still indexes lazily whatever this missed: copies,
// mail from before the index existed, a lost search.sqlite). Fed by the DeliveryWriter's
// onBatch (deliveries and APPENDs); one message at a time, never inside the delivery path, and
// the queue is bounded: when full, new work is dropped (the lazy path picks it up).
import type { Logger } from "../log/logger.ts";
import type { BlobStore, DeliveryResult, Id, MetadataStore } from "../store/types.ts";
import type { SearchIndex } from "../store/sqlite/search.ts";
import { loadMessage } from "./message-source.ts";
import { extractSearchDoc } from "./search-text.ts";

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
      const { mailboxId, uid } = this.#queue.shift()!;
      try {
        if (!uidValidity.has(mailboxId)) uidValidity.set(mailboxId, (await this.#deps.store.mail.getMailboxById(mailboxId))?.uidValidity ?? null);
        const uidv = uidValidity.get(mailboxId);
        if (uidv == null) continue;
        if ((await this.#deps.search.missing(uidv, [uid])).length === 0) continue;
        const rec = await this.#deps.store.mail.getMessage(mailboxId, uid);
        if (!rec) continue;
        await this.#deps.search.add([extractSearchDoc(await loadMessage(this.#deps.blobs, rec), uidv, uid)]);
        this.indexed++;
      } catch (e) {
        this.#deps.logger.debug({ err: e, mailboxId, uid }, "search indexer: skipped a message");
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
