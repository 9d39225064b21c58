// Proves the durability order through an injected file-system layer: temp fsync → rename →
// directory fsync → metadata commit → the delivery resolves (RFC 5321 §4.1.1.4: the 250 after
// DATA means the server has taken responsibility for the message).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, basename } from "node:path";
import { openSqliteStore } from "./sqlite/store.ts";
import { openFileBlobStore } from "./blob-files.ts";
import { nodeFs, recordingFs } from "./fs-layer.ts";
import type { FsLayer } from "./fs-layer.ts";
import { DeliveryWriter } from "./delivery.ts";
import type { BlobRepo, MetadataStore } from "./types.ts";

/** The store with commitBatch logging "commit" once its transaction has committed. */
function loggingStore(store: MetadataStore, log: string[]): MetadataStore {
  const blobs = new Proxy(store.blobs, {
    get(target, prop) {
      if (prop === "commitBatch") {
        return async (items: Parameters<BlobRepo["commitBatch"]>[0]) => {
          const out = await target.commitBatch(items);
          log.push("commit");
          return out;
        };
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return { ...store, blobs };
}

async function setup(fs: FsLayer, log: string[]) {
  const dir = await mkdtemp(join(tmpdir(), "freehold-order-"));
  const raw = openSqliteStore(dir);
  const store = loggingStore(raw, log);
  const blobs = await openFileBlobStore({ dataDir: dir, meta: raw.blobs, fs, bucketOf: () => "b1" });
  const writer = new DeliveryWriter({ store, blobs });
  const d = await raw.accounts.createDomain("example.test");
  const u = await raw.accounts.createUser({ domainId: d.id, localPart: "u", passwordHash: "h" });
  const inbox = await raw.mail.createMailbox(u.id, "INBOX");
  const stage = async (s: string) => {
    const w = blobs.create();
    await w.write(Buffer.from(s));
    return w.finish();
  };
  return {
    dir, blobs, writer, inbox: inbox.id, stage,
    async done() {
      await writer.drain();
      await raw.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Turns paths into stable tokens: tmp files by order of creation, blob files by bucket. */
function normalise(log: string[], root: string): string[] {
  const tmpNames = new Map<string, string>();
  const tok = (p: string) => {
    if (p.startsWith(join(root, "tmp") + "/")) {
      if (!tmpNames.has(p)) tmpNames.set(p, `tmp#${tmpNames.size + 1}`);
      return tmpNames.get(p)!;
    }
    if (p === root) return "blobs/";
    return p.startsWith(root + "/") ? p.slice(root.length + 1).replace(/[0-9a-f]{64}$/, "<sha>") : basename(p);
  };
  return log.map((line) => line.split(" ").map((w, i) => (i === 0 ? w : tok(w))).join(" "));
}

test("one delivery: fsync temp → rename → fsync dir → commit → resolve", async () => {
  const log: string[] = [];
  const s = await setup(recordingFs(nodeFs, log), log);
  try {
    const staged = await s.stage("Subject: order\r\n\r\nbody\r\n");
    const first = s.writer.deliver({ blob: staged, targets: [{ mailboxId: s.inbox, traceHeaders: "" }], queue: [] });
    await first.then(() => log.push("resolve"));
    assert.deepEqual(normalise(log, s.blobs.root), [
      "create tmp#1",
      "fsync tmp#1",
      "fsyncDir blobs/", // first use of bucket b1: its entry in blobs/ made durable
      "rename tmp#1 b1/<sha>",
      "fsyncDir b1",
      "commit",
      "resolve",
    ]);
  } finally {
    await s.done();
  }
});

test("a batch of overlapping deliveries shares one directory fsync and one commit", async () => {
  const log: string[] = [];
  const s = await setup(recordingFs(nodeFs, log), log);
  try {
    // Warm the bucket so the batch below is the steady state.
    await s.writer.deliver({ blob: await s.stage("warm\r\n"), targets: [{ mailboxId: s.inbox, traceHeaders: "" }], queue: [] });
    const staged = await Promise.all([1, 2, 3, 4, 5].map((i) => s.stage(`message ${i}\r\n`)));
    log.length = 0;
    const batchesBefore = s.writer.stats.batches;
    await Promise.all(
      staged.map((b) => s.writer.deliver({ blob: b, targets: [{ mailboxId: s.inbox, traceHeaders: "" }], queue: [] }).then(() => log.push("resolve"))),
    );
    assert.equal(s.writer.stats.batches - batchesBefore, 1);
    const ops = normalise(log, s.blobs.root);
    assert.deepEqual(ops.filter((o) => o.startsWith("rename")).length, 5);
    assert.deepEqual(ops.slice(5), ["fsyncDir b1", "commit", "resolve", "resolve", "resolve", "resolve", "resolve"]);
  } finally {
    await s.done();
  }
});

test("a failed directory fsync fails the batch and nothing is committed", async () => {
  const log: string[] = [];
  const failing: FsLayer = {
    ...recordingFs(nodeFs, log),
    async fsyncDir(dir) {
      if (dir.endsWith("b1")) throw Object.assign(new Error("EIO"), { code: "EIO" });
      return nodeFs.fsyncDir(dir);
    },
  };
  const s = await setup(failing, log);
  try {
    const staged = await s.stage("will fail\r\n");
    await assert.rejects(s.writer.deliver({ blob: staged, targets: [{ mailboxId: s.inbox, traceHeaders: "" }], queue: [] }), /EIO/);
    assert.ok(!log.includes("commit"));
  } finally {
    await s.done();
  }
});

test("a blob that cannot be renamed fails its request only", async () => {
  const log: string[] = [];
  const s = await setup(recordingFs(nodeFs, log), log);
  try {
    const good = await s.stage("good\r\n");
    const bad = await s.stage("bad\r\n");
    await s.blobs.discard(bad); // its temp file is gone: the rename will fail
    const target = [{ mailboxId: s.inbox, traceHeaders: "" }];
    const [g, b] = await Promise.allSettled([
      s.writer.deliver({ blob: good, targets: target, queue: [] }),
      s.writer.deliver({ blob: bad, targets: target, queue: [] }),
    ]);
    assert.equal(g.status, "fulfilled");
    assert.equal(b.status, "rejected");
    assert.equal((await s.blobs.readAll((g as PromiseFulfilledResult<{ blobId: number }>).value.blobId)).toString(), "good\r\n");
  } finally {
    await s.done();
  }
});
