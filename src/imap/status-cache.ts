// STATUS counters (MESSAGES, UNSEEN, DELETED, SIZE) per mailbox, from the server's mailbox index
// (mailbox-index.ts): kept current from the rows changed since its HIGHESTMODSEQ, so clients
// that poll STATUS or LIST-STATUS on every folder cost one row read per unchanged folder, and a
// folder that changed costs its changes, not a scan. One cache per server, bounded.
import type { MailboxRecord, MetadataStore } from "../store/types.ts";
import { MailboxIndexCache } from "./mailbox-index.ts";
import type { MailboxCounts } from "./mailbox-index.ts";

export type { MailboxCounts };

export class StatusCache {
  /** Also what SELECT copies its view from. */
  readonly index: MailboxIndexCache;

  /** maxMessages: how many messages' columns the index may hold, over all mailboxes. */
  constructor(maxMessages?: number) {
    this.index = new MailboxIndexCache(maxMessages);
  }

  /** Catch-ups and unchanged reads / full reads. */
  get hits(): number {
    return this.index.hits;
  }
  get misses(): number {
    return this.index.misses;
  }

  async counts(store: MetadataStore, mb: MailboxRecord): Promise<MailboxCounts> {
    const r = await this.index.counts(store, mb.id);
    return r ? r.counts : { messages: 0, unseen: 0, deleted: 0, size: 0 };
  }
}
