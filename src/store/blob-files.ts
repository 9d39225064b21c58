// BlobStore, file layout: one file per message, content-addressed.
//
//   <dataDir>/blobs/tmp/<pid>-<random>    being written, or staged (fsynced, not yet committed)
//                                         by process <pid> (a protocol process stages its own:
//                                         src/server/processes.ts; the collector leaves a live
//                                         pid's temps alone and removes a dead one's)
//   <dataDir>/blobs/<bucket>/<sha256>     committed; the blob row records <bucket> as location
//
// The bucket is chosen when a batch is published, not when a blob is created (the UTC hour by
// default), so all blobs of one group-commit batch rename into ONE directory and the batch
// costs one directory fsync. tmp/ is on the same file system, so rename(2) is atomic.
import { createHash, randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { Readable } from "node:stream";
import type { Clock } from "../clock.ts";
import { systemClock } from "../clock.ts";
import type { BlobDamage, BlobRepo, BlobWriter, Id, StagedBlob, StagingBlobStore } from "./types.ts";
import { StoreError } from "./errors.ts";
import { nodeFs } from "./fs-layer.ts";
import type { FsFile, FsLayer } from "./fs-layer.ts";

export interface FileBlobStoreOptions {
  dataDir: string;
  /** Where read() finds a blob's location. */
  meta: Pick<BlobRepo, "get" | "locate">;
  fs?: FsLayer;
  clock?: Clock;
  /** Bucket directory for blobs published at `now`; default the UTC hour, e.g. "2026112316". */
  bucketOf?: (now: number) => string;
  /** Bytes buffered before a write(2); a typical message goes to disk in one write. */
  writeBufferBytes?: number;
}

export function hourBucket(now: number): string {
  return new Date(now).toISOString().slice(0, 13).replace(/[-T]/g, "");
}

const TMP = "tmp";
/** First size of a blob writer's staging buffer: a typical message (10 KiB) fits without growing. */
const STAGE_MIN = 16 * 1024;

/**
 * Blobs up to this size are read with one synchronous open/read/close on the event loop. Through
 * fs/promises a read is four thread-pool round trips (open, fstat, read, close), each waiting for
 * a turn of a busy loop and for a pool thread not stuck in another session's fsync: under 10
 * concurrent IMAP clients that was ~20 ms per 4 KiB message (FETCH ENVELOPE of 5 messages:
 * 60–120 ms; docs/benchmarks.md, imap-concurrency log). A committed blob is immutable and
 * almost always in the page cache (it was just written or read), so the synchronous read costs
 * microseconds; on a cache miss the loop waits for one disk read of at most this size, as a
 * Dovecot imap process does for its one client. Larger blobs keep streaming from the pool.
 */
export const SYNC_READ_MAX = 256 * 1024;
const SHA_RE = /^[0-9a-f]{64}$/;

export async function openFileBlobStore(opts: FileBlobStoreOptions): Promise<FileBlobStore> {
  const s = new FileBlobStore(opts);
  await s.init();
  return s;
}

export class FileBlobStore implements StagingBlobStore {
  readonly root: string;
  readonly tmpDir: string;
  readonly fs: FsLayer;
  #meta: Pick<BlobRepo, "get" | "locate">;
  #clock: Clock;
  #bucketOf: (now: number) => string;
  #bufferBytes: number;
  /** Temp files a writer or a pending delivery still owns; the collector leaves them alone. */
  #live = new Set<string>();
  /** The last small blob check() verified, for the readAll of the same blob that follows it. */
  #checked: { blobId: Id; buf: Buffer } | null = null;
  /** Bucket directories known to exist durably. */
  #buckets = new Set<string>();

  constructor(opts: FileBlobStoreOptions) {
    this.root = join(opts.dataDir, "blobs");
    this.tmpDir = join(this.root, TMP);
    this.fs = opts.fs ?? nodeFs;
    this.#meta = opts.meta;
    this.#clock = opts.clock ?? systemClock;
    this.#bucketOf = opts.bucketOf ?? hourBucket;
    this.#bufferBytes = opts.writeBufferBytes ?? 256 * 1024;
  }

  async init(): Promise<void> {
    await this.fs.mkdir(this.tmpDir);
  }

  create(): BlobWriter {
    const path = join(this.tmpDir, `${process.pid}-${randomBytes(12).toString("hex")}`);
    this.#live.add(path);
    return new FileBlobWriter(this.fs, path, this.#bufferBytes, () => this.#live.delete(path));
  }

  pathOf(sha256: string, location: string): string {
    return join(this.root, location, sha256);
  }

  async read(blobId: Id, range?: { start: number; end: number }): Promise<NodeJS.ReadableStream> {
    const row = await (this.#meta.locate ? this.#meta.locate(blobId) : this.#meta.get(blobId));
    if (!row) throw new StoreError("not-found", `no blob ${blobId}`);
    const path = this.pathOf(row.sha256, row.location);
    if (row.size <= SYNC_READ_MAX && this.fs.readFileSync) {
      const all = this.fs.readFileSync(path);
      const part = range ? all.subarray(Math.min(range.start, all.length), Math.max(range.start, Math.min(range.end, all.length))) : all;
      return Readable.from(part.length ? [part] : []);
    }
    return this.fs.createReadStream(path, range);
  }

  async readAll(blobId: Id): Promise<Buffer> {
    // The content check() just verified (blobs are content-addressed and never rewritten).
    const c = this.#checked;
    this.#checked = null;
    if (c && c.blobId === blobId) return c.buf;
    const row = await (this.#meta.locate ? this.#meta.locate(blobId) : this.#meta.get(blobId));
    if (!row) throw new StoreError("not-found", `no blob ${blobId}`);
    const path = this.pathOf(row.sha256, row.location);
    if (row.size <= SYNC_READ_MAX && this.fs.readFileSync) return this.fs.readFileSync(path);
    return this.fs.readFile(path);
  }

  async check(blobId: Id): Promise<BlobDamage | null> {
    const row = await (this.#meta.locate ? this.#meta.locate(blobId) : this.#meta.get(blobId));
    if (!row) return { blobId, kind: "no-row", detail: `no blob row ${blobId}` };
    const path = this.pathOf(row.sha256, row.location);
    const base = { blobId, sha256: row.sha256, path };
    if (row.size <= SYNC_READ_MAX && this.fs.readFileSync) {
      // Small blobs: one synchronous read serves the existence, size and digest checks (an
      // async stat first was a thread-pool round trip and a loop turn per message, paid one
      // message after another by FETCH), and the buffer is kept for the readAll that follows.
      let buf: Buffer;
      try {
        buf = this.fs.readFileSync(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return { ...base, kind: "missing", detail: "blob file missing" };
        throw e;
      }
      if (buf.length !== row.size) return { ...base, kind: "size", detail: `blob file has ${buf.length} bytes, ${row.size} recorded` };
      const got = createHash("sha256").update(buf).digest("hex");
      if (got !== row.sha256) return { ...base, kind: "digest", detail: `blob content changed on disk (SHA-256 ${got.slice(0, 16)}…)` };
      this.#checked = { blobId, buf };
      return null;
    }
    const st = await this.fs.stat(path);
    if (!st) return { ...base, kind: "missing", detail: "blob file missing" };
    if (st.size !== row.size) return { ...base, kind: "size", detail: `blob file has ${st.size} bytes, ${row.size} recorded` };
    // Up to SYNC_READ_MAX the file is read whole anyway (and then sits in the page cache for the
    // read that follows): hashing it costs ~0.3 ms per 256 KiB. Larger blobs get the size check only.
    if (row.size <= SYNC_READ_MAX && this.fs.readFileSync) {
      const got = createHash("sha256").update(this.fs.readFileSync(path)).digest("hex");
      if (got !== row.sha256) return { ...base, kind: "digest", detail: `blob content changed on disk (SHA-256 ${got.slice(0, 16)}…)` };
    }
    return null;
  }

  async publish(staged: StagedBlob[]): Promise<Array<string | Error>> {
    if (staged.length === 0) return [];
    const bucket = this.#bucketOf(this.#clock.now());
    const dir = join(this.root, bucket);
    if (!this.#buckets.has(bucket)) {
      // A new bucket's own entry in blobs/ must be durable before anything in it counts.
      await this.fs.mkdir(dir);
      await this.fs.fsyncDir(this.root);
      this.#buckets.add(bucket);
    }
    // The renames run at once (each is a thread-pool round trip: one after another, a batch
    // paid one loop turn per blob); the directory fsync below waits for them all.
    const out: Array<string | Error> = await Promise.all(
      staged.map(async (s) => {
        try {
          const tmp = tempPath(s);
          await this.fs.rename(tmp, join(dir, s.sha256));
          this.#live.delete(tmp);
          return bucket;
        } catch (e) {
          // E.g. a staged blob handed over twice, or already discarded: fail that request only.
          return new StoreError("io", `publishing blob ${s.sha256}: ${(e as Error).message}`, { cause: e });
        }
      }),
    );
    // One directory fsync for the whole batch: every rename above becomes durable together.
    if (out.some((o) => typeof o === "string")) await this.fs.fsyncDir(dir);
    return out;
  }

  async discard(staged: StagedBlob): Promise<void> {
    const tmp = tempPath(staged);
    this.#live.delete(tmp);
    await unlinkQuiet(this.fs, tmp);
  }

  async remove(sha256: string, location: string): Promise<void> {
    await unlinkQuiet(this.fs, this.pathOf(sha256, location));
  }

  /** True while a writer or a pending delivery owns this temp file. */
  isLive(tmpPath: string): boolean {
    return this.#live.has(tmpPath);
  }

  /**
   * True if the temp file is named for another process that is still running (a protocol
   * process staging a message): not ours to remove, however old it looks.
   */
  ownedByOtherLiveProcess(tmpPath: string): boolean {
    const pid = tempOwnerPid(tmpPath);
    if (pid === null || pid === process.pid) return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === "EPERM";
    }
  }

  /** Removes every temp file process `pid` made (it has exited). Returns how many. */
  async removeTempsOf(pid: number): Promise<number> {
    let n = 0;
    for (const path of await this.listTemps()) {
      if (tempOwnerPid(path) !== pid) continue;
      this.#live.delete(path);
      await unlinkQuiet(this.fs, path).catch(() => undefined);
      n++;
    }
    return n;
  }

  /** Is this path a temp file of this store (a staged blob handed over by a protocol process)? */
  isTempPath(p: string, pid?: number): boolean {
    if (typeof p !== "string" || dirname(p) !== this.tmpDir) return false;
    const owner = tempOwnerPid(p);
    return owner !== null && (pid === undefined || owner === pid) && /^\d+-[0-9a-f]{24}$/.test(basename(p));
  }

  /** Bucket directory names (everything under blobs/ but tmp/). */
  async listBuckets(): Promise<string[]> {
    const names = await this.fs.readdir(this.root).catch(() => [] as string[]);
    const out: string[] = [];
    for (const n of names.sort()) {
      if (n === TMP) continue;
      if ((await this.fs.stat(join(this.root, n)))?.isDirectory) out.push(n);
    }
    return out;
  }

  /** Blob file names (sha256) in a bucket; anything else found there is returned too, for cleanup. */
  async listBucket(bucket: string): Promise<string[]> {
    return (await this.fs.readdir(join(this.root, bucket)).catch(() => [] as string[])).sort();
  }

  async listTemps(): Promise<string[]> {
    return (await this.fs.readdir(this.tmpDir).catch(() => [] as string[])).map((n) => join(this.tmpDir, n));
  }

  static isShaName(name: string): boolean {
    return SHA_RE.test(name);
  }
}

/** The pid a temp file's name carries, or null for a name without one. */
export function tempOwnerPid(tmpPath: string): number | null {
  const m = /^(\d+)-/.exec(basename(tmpPath));
  return m ? Number(m[1]) : null;
}

function tempPath(s: StagedBlob): string {
  const p = s.handle;
  if (typeof p !== "string") throw new StoreError("invalid", "staged blob from another store");
  return p;
}

async function unlinkQuiet(fs: FsLayer, path: string): Promise<void> {
  try {
    await fs.unlink(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
}

/** Streams into the temp file, hashing as it goes; the file is created at the first flush. */
class FileBlobWriter implements BlobWriter {
  #fs: FsLayer;
  #path: string;
  #limit: number;
  #onEnd: () => void;
  #hash = createHash("sha256");
  #size = 0;
  /** Bytes not yet written: one staging buffer each chunk is copied into once (issue 14: it was
   * a copy per chunk, then Buffer.concat at the flush, two copies and an object per chunk). */
  #buf: Buffer | null = null;
  #buffered = 0;
  #file: FsFile | null = null;
  #state: "open" | "finished" | "aborted" = "open";
  /** Serialises writes even if a caller does not await each one. */
  #chain: Promise<void> = Promise.resolve();

  constructor(fs: FsLayer, path: string, limit: number, onEnd: () => void) {
    this.#fs = fs;
    this.#path = path;
    this.#limit = limit;
    this.#onEnd = onEnd;
  }

  write(chunk: Uint8Array): Promise<void> {
    if (this.#state !== "open") return Promise.reject(new StoreError("invalid", `blob writer is ${this.#state}`));
    // Hashed from the caller's bytes, then copied once into the staging buffer: the caller may
    // reuse its buffer once we return.
    this.#hash.update(chunk);
    this.#size += chunk.byteLength;
    this.#stage(chunk);
    if (this.#buffered < this.#limit) return this.#chain;
    return this.#enqueue(() => this.#flush());
  }

  /** Copies `chunk` into the staging buffer, growing it (doubling, at least 16 KiB) as needed. */
  #stage(chunk: Uint8Array): void {
    const need = this.#buffered + chunk.byteLength;
    if (!this.#buf || need > this.#buf.length) {
      let size = Math.max(STAGE_MIN, this.#buf ? this.#buf.length * 2 : 0);
      while (size < need) size *= 2;
      // Past the write limit only by the last chunk: no need to round up beyond what is held.
      if (size > this.#limit) size = Math.max(this.#limit, need);
      const grown = Buffer.allocUnsafeSlow(size);
      if (this.#buf && this.#buffered > 0) this.#buf.copy(grown, 0, 0, this.#buffered);
      this.#buf = grown;
    }
    this.#buf.set(chunk, this.#buffered);
    this.#buffered = need;
  }

  #enqueue(fn: () => Promise<void>): Promise<void> {
    this.#chain = this.#chain.then(fn);
    return this.#chain;
  }

  async #flush(): Promise<void> {
    if (!this.#file) this.#file = await this.#fs.create(this.#path);
    if (this.#buffered === 0 || !this.#buf) return;
    // The write holds this buffer until it completes; later chunks go into a new one.
    const data = this.#buf.subarray(0, this.#buffered);
    this.#buf = null;
    this.#buffered = 0;
    await this.#file.write(data);
  }

  async finish(): Promise<StagedBlob> {
    if (this.#state !== "open") throw new StoreError("invalid", `blob writer is ${this.#state}`);
    this.#state = "finished";
    try {
      await this.#enqueue(() => this.#flush());
      const f = this.#file!;
      await f.fsync();
      await f.close();
    } catch (e) {
      await this.#cleanup();
      throw new StoreError("io", `writing blob: ${(e as Error).message}`, { cause: e });
    }
    return { sha256: this.#hash.digest("hex"), size: this.#size, handle: this.#path };
  }

  async abort(): Promise<void> {
    if (this.#state === "aborted") return;
    this.#state = "aborted";
    await this.#chain.catch(() => undefined);
    await this.#cleanup();
  }

  async #cleanup(): Promise<void> {
    this.#buf = null;
    const f = this.#file;
    this.#file = null;
    if (f) {
      await f.close().catch(() => undefined);
      await unlinkQuiet(this.#fs, this.#path).catch(() => undefined);
    }
    this.#onEnd();
  }
}
