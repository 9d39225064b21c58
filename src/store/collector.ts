// The blob collector, crash-safe by ordering:
// - Unreferenced blobs: the row delete commits first, then the file is unlinked. A crash in
//   between leaves a file without a row (an orphan), never a row without a file.
// - Orphans (a file under a bucket with no row naming it there: a crash after rename, or a
//   failed commit) and stale temp files (a crash mid-write) are removed by a scan, after a grace
//   period measured on the file's mtime.
// Every phase that deletes files runs through DeliveryWriter.exclusive(), i.e. between
// group-commit batches: otherwise a batch could rename the same sha256 into the same bucket just
// before the collector unlinks it, and commit a row whose file is then gone.
import { join } from "node:path";
import type { Clock } from "../clock.ts";
import { systemClock } from "../clock.ts";
import type { BlobRecord, MetadataStore } from "./types.ts";
import { FileBlobStore } from "./blob-files.ts";
import type { DeliveryWriter } from "./delivery.ts";

export interface CollectorOptions {
  store: MetadataStore;
  blobs: FileBlobStore;
  /** The server's writer; without one (offline use, tests) phases run directly. */
  writer?: Pick<DeliveryWriter, "exclusive">;
  clock?: Clock;
  /** Orphan files younger than this are left alone. Default 1 h. */
  orphanGraceMs?: number;
  /** Temp files younger than this (and any a writer still owns) are left alone. Default 24 h. */
  tempGraceMs?: number;
  /**
   * Startup recovery: every temp file is a leftover, even one named for a pid that is running
   * now (a pid reused since the crash). Default false: a live pid's temps are left alone.
   */
  allTemps?: boolean;
  /** Rows deleted per exclusive phase. Default 500. */
  batchSize?: number;
}

export interface CollectReport {
  /** Unreferenced blob rows deleted (their files unlinked). */
  blobsRemoved: number;
  orphansRemoved: number;
  tempsRemoved: number;
}

function exclusive<T>(o: CollectorOptions, fn: () => Promise<T>): Promise<T> {
  return o.writer ? o.writer.exclusive(fn) : fn();
}

/** Deletes blob rows with refcount 0 (commit), then their files. Returns how many. */
export async function collectUnreferenced(o: CollectorOptions): Promise<number> {
  const size = o.batchSize ?? 500;
  let total = 0;
  for (;;) {
    const { seen, deleted } = await exclusive(o, async () => {
      const rows = await o.store.blobs.listUnreferenced(size);
      if (rows.length === 0) return { seen: 0, deleted: 0 };
      const gone = await o.store.blobs.deleteUnreferenced(rows.map((r) => r.id));
      for (const r of gone) await o.blobs.remove(r.sha256, r.location);
      return { seen: rows.length, deleted: gone.length };
    });
    total += deleted;
    if (seen < size) return total;
  }
}

/** Removes orphan files older than the grace period and stale temp files. */
export async function removeOrphans(o: CollectorOptions): Promise<{ orphans: number; temps: number }> {
  const now = (o.clock ?? systemClock).now();
  const orphanGrace = o.orphanGraceMs ?? 3_600_000;
  const tempGrace = o.tempGraceMs ?? 86_400_000;
  const b = o.blobs;
  let orphans = 0;
  for (const bucket of await b.listBuckets()) {
    // One exclusive phase per bucket keeps each pause of the writer short.
    orphans += await exclusive(o, async () => {
      let n = 0;
      for (const name of await b.listBucket(bucket)) {
        if (!FileBlobStore.isShaName(name)) continue; // not ours to judge
        const row = await o.store.blobs.getBySha(name);
        if (row && row.location === bucket) continue;
        const st = await b.fs.stat(join(b.root, bucket, name));
        if (!st || now - st.mtimeMs < orphanGrace) continue;
        await b.remove(name, bucket);
        n++;
      }
      return n;
    });
  }
  let temps = 0;
  for (const path of await b.listTemps()) {
    if (b.isLive(path) || (!o.allTemps && b.ownedByOtherLiveProcess(path))) continue;
    const st = await b.fs.stat(path);
    if (!st || now - st.mtimeMs < tempGrace) continue;
    await b.fs.unlink(path).catch(() => undefined);
    temps++;
  }
  return { orphans, temps };
}

export async function collect(o: CollectorOptions): Promise<CollectReport> {
  const blobsRemoved = await collectUnreferenced(o);
  const { orphans, temps } = await removeOrphans(o);
  return { blobsRemoved, orphansRemoved: orphans, tempsRemoved: temps };
}

/**
 * Startup recovery for `freehold serve`, before any listener opens: nothing is in flight, so
 * every temp file and every orphan is a crash leftover and goes regardless of age.
 */
export async function recoverOnStartup(o: Omit<CollectorOptions, "writer">): Promise<CollectReport & { missingFiles: BlobRecord[] }> {
  const report = await collect({ ...o, writer: undefined, orphanGraceMs: 0, tempGraceMs: 0, allTemps: true });
  const { missingFiles } = await verifyBlobFiles(o.store, o.blobs);
  return { ...report, missingFiles };
}

/**
 * Cross-checks rows and files (tests, `freehold check`): rows whose file is missing (must never
 * happen) and sha-named files no row points at (orphans). Run it with no delivery in flight.
 */
export async function verifyBlobFiles(
  store: MetadataStore,
  blobs: FileBlobStore,
): Promise<{ missingFiles: BlobRecord[]; orphanFiles: string[] }> {
  const missingFiles: BlobRecord[] = [];
  const known = new Set<string>();
  for (let after = 0; ; ) {
    const rows = await store.blobs.list(after, 1000);
    if (rows.length === 0) break;
    for (const r of rows) {
      known.add(`${r.location}/${r.sha256}`);
      if (!(await blobs.fs.stat(blobs.pathOf(r.sha256, r.location)))) missingFiles.push(r);
    }
    after = rows[rows.length - 1].id;
  }
  const orphanFiles: string[] = [];
  for (const bucket of await blobs.listBuckets()) {
    for (const name of await blobs.listBucket(bucket)) {
      if (FileBlobStore.isShaName(name) && !known.has(`${bucket}/${name}`)) orphanFiles.push(join(blobs.root, bucket, name));
    }
  }
  return { missingFiles, orphanFiles };
}

/** Runs collect() every intervalMs until stopped; errors go to onError and the timer goes on. */
export function startCollector(o: CollectorOptions, intervalMs: number, onError: (e: unknown) => void): { stop(): Promise<void> } {
  let current: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const timer = setInterval(() => {
    current = current.then(() => (stopped ? undefined : collect(o).catch(onError)));
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await current;
    },
  };
}
