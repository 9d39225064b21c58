// The blob writer's staging buffer (issue 14: each chunk is copied once into one growing buffer
// instead of copied, then concatenated): whatever the chunk sizes and write limit, the temp file
// holds exactly the bytes written and the hash is theirs, even when the caller reuses its buffer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openFileBlobStore } from "./blob-files.ts";

const meta = { get: async () => null, locate: async () => null } as never;

test("staged bytes and hash match the input for any chunking and write limit; a reused caller buffer does not leak in", async () => {
  const dir = await mkdtemp(join(tmpdir(), "freehold-blobw-"));
  try {
    for (const limit of [1, 1000, 16 * 1024, 64 * 1024, 256 * 1024]) {
      const blobs = await openFileBlobStore({ dataDir: dir, meta, writeBufferBytes: limit });
      for (const total of [0, 1, 10 * 1024, 16 * 1024 + 1, 300 * 1024]) {
        const data = randomBytes(total);
        const w = blobs.create();
        const scratch = new Uint8Array(70 * 1024); // one buffer the "caller" reuses for every chunk
        let at = 0;
        let i = 0;
        while (at < total) {
          const n = Math.min(total - at, [1, 7, 4096, 65536, 17, 70 * 1024][i++ % 6]);
          scratch.set(data.subarray(at, at + n));
          const p = w.write(scratch.subarray(0, n));
          scratch.fill(0xaa); // reused before the write's promise settles
          await p;
          at += n;
        }
        const staged = await w.finish();
        assert.equal(staged.size, total);
        assert.equal(staged.sha256, createHash("sha256").update(data).digest("hex"));
        const onDisk = await readFile(staged.handle as string);
        assert.ok(onDisk.equals(data), `limit ${limit}, ${total} bytes: file differs`);
        await blobs.discard(staged);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
