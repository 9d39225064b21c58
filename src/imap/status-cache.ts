// STATUS counters (MESSAGES, UNSEEN, DELETED, SIZE) per mailbox, remembered with the
// HIGHESTMODSEQ they were counted at. Every change to a mailbox raises its HIGHESTMODSEQ
// (RFC 7162 §3.1), so an entry is valid exactly while the mailbox row still shows that value:
// clients that poll STATUS or LIST-STATUS on every folder every few minutes cost one row read
// per unchanged folder instead of a scan. One cache per server, bounded.
import type { Id, MailboxRecord, MetadataStore } from "../store/types.ts";

export interface MailboxCounts {
  messages: number;
  unseen: number;
  deleted: number;
  size: number;
}

export class StatusCache {
  #entries = new Map<Id, { modseq: number; counts: MailboxCounts }>();
  #max: number;
  hits = 0;
  misses = 0;

  constructor(maxEntries = 10_000) {
    this.#max = maxEntries;
  }

  async counts(store: MetadataStore, mb: MailboxRecord): Promise<MailboxCounts> {
    const e = this.#entries.get(mb.id);
    if (e && e.modseq === mb.highestModseq) {
      this.hits++;
      return e.counts;
    }
    this.misses++;
    // Read the rows and the mailbox's MODSEQ together, so the counts match the MODSEQ stored.
    const { rows, modseq } = await store.transaction(async (tx) => ({
      rows: await tx.mail.listMessages(mb.id),
      modseq: (await tx.mail.getMailboxById(mb.id))?.highestModseq ?? -1,
    }));
    const has = (flags: string[], f: string): boolean => flags.some((x) => x.toLowerCase() === f);
    const counts: MailboxCounts = {
      messages: rows.length,
      unseen: rows.filter((m) => !has(m.flags, "\\seen")).length,
      deleted: rows.filter((m) => has(m.flags, "\\deleted")).length,
      size: rows.reduce((a, m) => a + m.size, 0),
    };
    this.#entries.delete(mb.id);
    if (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(mb.id, { modseq, counts });
    return counts;
  }
}
