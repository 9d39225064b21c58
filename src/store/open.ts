// One call that opens the storage stack over a data folder: metadata, blobs, the delivery
// writer and (for the serving process only) startup recovery and the periodic collector.
//
// Only ONE process may run recovery or the collector on a data folder: the serve process.
// Recovery removes every temp file and orphan as a crash leftover, which is only true when no
// other process is writing. The CLI opens with { serve: false } (the default): metadata reads
// and writes are safe beside the server (SQLite WAL + busy_timeout), blob files are not touched.
import type { Clock } from "../clock.ts";
import type { MetadataStore } from "./types.ts";
import { openSqliteStore } from "./sqlite/store.ts";
import { openFileBlobStore } from "./blob-files.ts";
import type { FileBlobStore } from "./blob-files.ts";
import { DeliveryWriter } from "./delivery.ts";
import { recoverOnStartup, startCollector } from "./collector.ts";
import type { CollectReport } from "./collector.ts";
import type { BlobRecord, DeliveryResult } from "./types.ts";

export interface OpenStorageOptions {
  clock?: Clock;
  /** True in `freehold serve`: run startup recovery and the periodic collector. */
  serve?: boolean;
  /** Collector period when serving; default 10 min. */
  collectIntervalMs?: number;
  /** Collector errors (serve only); default ignored. */
  onCollectError?: (e: unknown) => void;
  /** Committed deliveries, after each group commit (IMAP change notifications). */
  onBatch?: (delivered: DeliveryResult[]) => void;
}

export interface Storage {
  store: MetadataStore;
  blobs: FileBlobStore;
  writer: DeliveryWriter;
  /** What startup recovery found (serve only). */
  recovery: (CollectReport & { missingFiles: BlobRecord[] }) | null;
  /** Stops the collector, waits for pending deliveries, closes the database. */
  close(): Promise<void>;
}

export async function openStorage(dataDir: string, opts: OpenStorageOptions = {}): Promise<Storage> {
  const store = openSqliteStore(dataDir, { clock: opts.clock });
  const blobs = await openFileBlobStore({ dataDir, meta: store.blobs, clock: opts.clock });
  const recovery = opts.serve ? await recoverOnStartup({ store, blobs, clock: opts.clock }) : null;
  const writer = new DeliveryWriter({ store, blobs, onBatch: opts.onBatch });
  const collector = opts.serve
    ? startCollector({ store, blobs, writer, clock: opts.clock }, opts.collectIntervalMs ?? 600_000, opts.onCollectError ?? (() => undefined))
    : null;
  return {
    store,
    blobs,
    writer,
    recovery,
    async close() {
      await collector?.stop();
      await writer.drain();
      await store.close();
    },
  };
}
