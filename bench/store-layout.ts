// Measures the two blob layouts under the real DeliveryWriter and SQLite metadata store:
// 10 concurrent writers deliver 10 KiB messages for a fixed time each. Prints deliveries/s,
// the mean batch size and fsyncs per message (counted at the FS layer, plus one WAL fsync per
// committed batch under synchronous=FULL).
//   node bench/store-layout.ts [seconds-per-layout=8] [writers=10]
//
// "files":    the shipped layout (src/store/blob-files.ts): temp file, fsync, rename, one
//             directory fsync per batch.
// "segments": a throwaway prototype of the append-only layout (Dovecot mdbox idea): staged
//             blobs stay in memory, a batch is appended to one segment file and fsynced once.
//             Not shipped: it needs compaction of expunged space and its own crash recovery.
import { createHash } from "node:crypto";
import { mkdtemp, rm, open } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { openSqliteStore } from "../src/store/sqlite/store.ts";
import { openFileBlobStore } from "../src/store/blob-files.ts";
import { nodeFs } from "../src/store/fs-layer.ts";
import type { FsLayer } from "../src/store/fs-layer.ts";
import { DeliveryWriter } from "../src/store/delivery.ts";
import type { BlobRepo, BlobWriter, Id, StagedBlob, StagingBlobStore } from "../src/store/types.ts";

interface Counters {
  fsyncs: number;
}

function countingFs(c: Counters): FsLayer {
  return {
    ...nodeFs,
    async create(path) {
      const f = await nodeFs.create(path);
      return { path, write: (d) => f.write(d), close: () => f.close(), fsync: () => (c.fsyncs++, f.fsync()) };
    },
    fsyncDir: (dir) => (c.fsyncs++, nodeFs.fsyncDir(dir)),
  };
}

class SegmentBlobs implements StagingBlobStore {
  #dir: string;
  #meta: Pick<BlobRepo, "get">;
  #c: Counters;
  #seg: FileHandle | null = null;
  #segName = "seg-000001";
  #offset = 0;
  constructor(dir: string, meta: Pick<BlobRepo, "get">, c: Counters) {
    this.#dir = dir;
    this.#meta = meta;
    this.#c = c;
  }
  create(): BlobWriter {
    const parts: Buffer[] = [];
    const hash = createHash("sha256");
    return {
      write: async (chunk) => {
        const b = Buffer.from(chunk);
        hash.update(b);
        parts.push(b);
      },
      finish: async () => {
        const data = Buffer.concat(parts);
        return { sha256: hash.digest("hex"), size: data.length, handle: data };
      },
      abort: async () => undefined,
    };
  }
  async publish(staged: StagedBlob[]): Promise<Array<string | Error>> {
    if (!this.#seg) {
      this.#seg = await open(join(this.#dir, this.#segName), "a");
      this.#c.fsyncs++;
      await nodeFs.fsyncDir(this.#dir);
    }
    const locs: string[] = [];
    const bufs: Buffer[] = [];
    for (const s of staged) {
      const data = s.handle as Buffer;
      locs.push(`${this.#segName}:${this.#offset}`);
      bufs.push(data);
      this.#offset += data.length;
    }
    const all = Buffer.concat(bufs);
    await this.#seg.write(all);
    this.#c.fsyncs++;
    await this.#seg.datasync(); // one fsync for the whole batch
    return locs;
  }
  async discard(): Promise<void> {}
  async remove(): Promise<void> {}
  async read(blobId: Id): Promise<NodeJS.ReadableStream> {
    return Readable.from([await this.readAll(blobId)]);
  }
  async readAll(blobId: Id): Promise<Buffer> {
    const row = await this.#meta.get(blobId);
    if (!row) throw new Error(`no blob ${blobId}`);
    const [name, off] = row.location.split(":");
    const h = await open(join(this.#dir, name), "r");
    try {
      const buf = Buffer.alloc(row.size);
      await h.read(buf, 0, row.size, Number(off));
      return buf;
    } finally {
      await h.close();
    }
  }
  async close(): Promise<void> {
    await this.#seg?.close();
  }
}

async function run(layout: "files" | "segments", seconds: number, writers: number) {
  const dir = await mkdtemp(join(tmpdir(), `freehold-bench-${layout}-`));
  const c: Counters = { fsyncs: 0 };
  const store = openSqliteStore(dir);
  const blobs: StagingBlobStore & { close?: () => Promise<void> } =
    layout === "files" ? await openFileBlobStore({ dataDir: dir, meta: store.blobs, fs: countingFs(c) }) : new SegmentBlobs(dir, store.blobs, c);
  const writer = new DeliveryWriter({ store, blobs });
  const d = await store.accounts.createDomain("bench.test");
  const u = await store.accounts.createUser({ domainId: d.id, localPart: "bench", passwordHash: "x" });
  const inbox = await store.mail.createMailbox(u.id, "INBOX");
  const base = Buffer.alloc(10 * 1024, "x");
  let seq = 0;
  const deadline = performance.now() + seconds * 1000;
  const start = performance.now();
  const worker = async () => {
    let n = 0;
    while (performance.now() < deadline) {
      const body = Buffer.concat([Buffer.from(`Message-ID: <${seq++}@bench>\r\n\r\n`), base]); // unique: no dedup
      const w = blobs.create();
      // Like an SMTP DATA stream: a few chunks.
      for (let i = 0; i < body.length; i += 4096) await w.write(body.subarray(i, i + 4096));
      const staged = await w.finish();
      await writer.deliver({ blob: staged, targets: [{ mailboxId: inbox.id, traceHeaders: "Received: bench\r\n" }], queue: [] });
      n++;
    }
    return n;
  };
  const counts = await Promise.all(Array.from({ length: writers }, worker));
  const elapsed = (performance.now() - start) / 1000;
  const total = counts.reduce((a, b) => a + b, 0);
  const { batches } = writer.stats;
  await writer.drain();
  const check = await store.integrityCheck();
  await store.close();
  await blobs.close?.();
  await rm(dir, { recursive: true, force: true });
  const fsyncs = c.fsyncs + batches; // + one WAL fsync per committed batch (synchronous=FULL)
  return {
    layout,
    deliveries: total,
    perSecond: Math.round(total / elapsed),
    meanBatch: +(total / batches).toFixed(2),
    fsyncsPerMessage: +(fsyncs / total).toFixed(2),
    integrity: check.ok ? "ok" : check.problems.join("; "),
  };
}

const seconds = Number(process.argv[2] ?? 8);
const writers = Number(process.argv[3] ?? 10);
const results = [];
for (const layout of ["files", "segments"] as const) results.push(await run(layout, seconds, writers));
console.table(results);
console.log(`segments/files throughput ratio: ${(results[1].perSecond / results[0].perSecond).toFixed(2)}`);
