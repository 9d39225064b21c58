// Fills a Freehold data folder with the imap case's messages before `freehold serve` starts, the
// way maildir-fill.ts writes Dovecot's Maildir: straight into the store, not through a protocol
// (100,000 SMTP deliveries would take minutes and measure SMTP). It uses the store's own
// DeliveryWriter (blob files, group-committed metadata rows, UIDs, MODSEQs) so the result is
// what deliveries leave behind, with two bench-only shortcuts:
// - no fsync of blob files and directories (the Maildir fill does not fsync either; the
//   metadata commit keeps SQLite's own durability);
// - each batch is added to the search index at once, as the server's background indexer does
//   for every delivery (it indexes the message right after its commit).
// Flags and internal dates follow the Maildir: a third \Seen, one message a minute from 2025.
import type { FsLayer } from "../../src/store/fs-layer.ts";
import { nodeFs } from "../../src/store/fs-layer.ts";
import { openSqliteStore } from "../../src/store/sqlite/store.ts";
import { openFileBlobStore } from "../../src/store/blob-files.ts";
import { DeliveryWriter } from "../../src/store/delivery.ts";
import { openSearchIndex } from "../../src/store/sqlite/search.ts";
import { extractSearchDoc } from "../../src/imap/search-text.ts";
import { makeMessage } from "./maildir-fill.ts";

/** nodeFs without fsync: bench data, rebuilt every run. */
const noSyncFs: FsLayer = {
  ...nodeFs,
  async create(path) {
    const f = await nodeFs.create(path);
    return { path: f.path, write: (d) => f.write(d), fsync: async () => undefined, close: () => f.close() };
  },
  fsyncDir: async () => undefined,
};

/** Delivers messages 0..count-1 (CRLF) into the user's INBOX; returns the bytes stored. */
export async function fillFreehold(
  dataDir: string,
  address: string,
  count: number,
  onProgress?: (done: number) => void,
): Promise<number> {
  const store = openSqliteStore(dataDir);
  const search = openSearchIndex(dataDir);
  try {
    const blobs = await openFileBlobStore({ dataDir, meta: store.blobs, fs: noSyncFs });
    const writer = new DeliveryWriter({ store, blobs, maxBatch: 1000 });
    const user = await store.accounts.getUserByAddress(address);
    if (!user) throw new Error(`no user ${address}`);
    const inbox = await store.mail.getMailbox(user.id, "INBOX");
    if (!inbox) throw new Error(`${address} has no INBOX`);
    const base = Date.UTC(2025, 0, 1);
    let bytes = 0;
    const BATCH = 1000;
    for (let start = 0; start < count; start += BATCH) {
      const n = Math.min(BATCH, count - start);
      const texts = Array.from({ length: n }, (_, k) => Buffer.from(makeMessage(start + k).replace(/\n/g, "\r\n")));
      const staged = [];
      for (const t of texts) {
        const w = blobs.create();
        await w.write(t);
        staged.push(await w.finish());
        bytes += t.length;
      }
      // Submitted in one turn: the writer commits them as one batch, in this order.
      const results = await Promise.all(
        staged.map((blob, k) =>
          writer.deliver({
            blob,
            targets: [{ mailboxId: inbox.id, traceHeaders: "", flags: (start + k) % 3 === 0 ? ["\\Seen"] : [], internalDate: base + (start + k) * 60_000 }],
            queue: [],
          }),
        ),
      );
      await search.add(results.map((r, k) => extractSearchDoc(texts[k], inbox.uidValidity, r.delivered[0].uid)));
      if (start % 10_000 === 0) onProgress?.(start);
    }
    await writer.drain();
    return bytes;
  } finally {
    await search.close();
    await store.close();
  }
}
