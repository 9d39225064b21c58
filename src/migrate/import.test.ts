// The checkpoint's crash window: keys left "pending" by a killed run are resolved against the
// folder's newest messages, so a resumed import neither loses nor duplicates a message.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { openStorage } from "../store/open.ts";
import { ImportCheckpoint } from "../store/sqlite/import-checkpoint.ts";
import { Importer } from "./import.ts";
import { createHash } from "node:crypto";

test("pending keys after a kill: delivered ones count as done, the others are imported once", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "freehold-import-"));
  try {
    const s = await openStorage(dir);
    const cp = new ImportCheckpoint(dir);
    const d = await s.store.accounts.createDomain("example.test");
    const user = await s.store.accounts.createUser({ domainId: d.id, localPart: "a", passwordHash: "x" });
    const inbox = await s.store.mail.createMailbox(user.id, "INBOX");
    const target = { store: s.store, blobs: s.blobs, writer: s.writer, checkpoint: cp, user, quotaBytes: 0 };
    const msg = (i: number) => ({ folder: "INBOX", flags: ["\\Seen"], internalDate: 1_700_000_000_000 + i * 1000, bytes: Buffer.from(`Subject: ${i}\r\n\r\nbody ${i}\r\n`), scope: "imap:test/INBOX", key: `7:${i}` });

    assert.equal(await new Importer(target).addMany([1, 2, 3, 4, 5].map(msg)), 5);

    // A run killed inside a batch: 6, 7, 8 marked pending, only 6 and 7 committed to the store.
    for (const i of [6, 7, 8]) await cp.mark({ userId: user.id, scope: "imap:test/INBOX", key: `7:${i}` }, "pending", inbox.id, createHash("sha256").update(msg(i).bytes).digest("hex"));
    for (const i of [6, 7]) {
      const w = s.blobs.create();
      await w.write(msg(i).bytes);
      await s.writer.deliver({ blob: await w.finish(), targets: [{ mailboxId: inbox.id, traceHeaders: "", flags: ["\\Seen"], internalDate: msg(i).internalDate }], queue: [] });
    }

    const resumed = new Importer(target);
    assert.equal(await resumed.addMany([4, 5, 6, 7, 8, 9].map(msg)), 2, "8 and 9 only");
    assert.equal(resumed.report.skipped, 4);
    const subjects = (await Promise.all((await s.store.mail.listMessages(inbox.id)).map(async (m) => (await s.blobs.readAll(m.blobId)).toString().split("\r\n")[0]))).sort();
    assert.deepEqual(subjects, [1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => `Subject: ${i}`).sort());
    assert.deepEqual(cp.pending(user.id), []);
    cp.close();
    await s.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
