// FileBlobStore.check on small blobs (one synchronous read for existence, size and digest) and
// the readAll that follows it.
import test from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileBlobStore } from "./blob-files.ts";
import type { BlobRecord } from "./types.ts";

test("check: a good small blob passes and readAll returns it; missing, short and changed files are named", async () => {
  const dir = mkdtempSync(join(tmpdir(), "fh-blobcheck-"));
  try {
    const rows = new Map<number, BlobRecord>();
    const put = (id: number, body: string): string => {
      const sha256 = createHash("sha256").update(body).digest("hex");
      rows.set(id, { id, sha256, size: Buffer.byteLength(body), location: "b1" } as unknown as BlobRecord);
      mkdirSync(join(dir, "blobs", "b1"), { recursive: true });
      const p = join(dir, "blobs", "b1", sha256);
      writeFileSync(p, body);
      return p;
    };
    const meta = { get: async (id: number) => rows.get(id) ?? null, locate: async (id: number) => rows.get(id) ?? null };
    const blobs = new FileBlobStore({ dataDir: dir, meta });
    put(1, "Subject: one\r\n\r\nbody one\r\n");
    const p2 = put(2, "Subject: two\r\n\r\nbody two\r\n");
    const p3 = put(3, "Subject: three\r\n\r\nbody three\r\n");
    const p4 = put(4, "Subject: four\r\n\r\nbody four\r\n");
    assert.equal(await blobs.check(1), null);
    assert.equal((await blobs.readAll(1)).toString(), "Subject: one\r\n\r\nbody one\r\n");
    // The kept buffer is for the same blob only.
    assert.equal(await blobs.check(1), null);
    assert.equal((await blobs.readAll(2)).toString(), "Subject: two\r\n\r\nbody two\r\n");
    unlinkSync(p2);
    assert.equal((await blobs.check(2))?.kind, "missing");
    writeFileSync(p3, "Subject: three\r\n");
    assert.equal((await blobs.check(3))?.kind, "size");
    writeFileSync(p4, "Subject: FOUR\r\n\r\nbody four\r\n");
    assert.equal((await blobs.check(4))?.kind, "digest");
    assert.equal((await blobs.check(9))?.kind, "no-row");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
