// Crash safety of the store: SIGKILL a child that delivers with 10 writers (and collects) at
// random moments, 20 times. After each restart: SQLite's integrity check passes, no blob row
// lacks its file, no file lacks a row (after startup recovery), and every acknowledged message
// is there exactly once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqliteStore } from "./sqlite/store.ts";
import { openFileBlobStore } from "./blob-files.ts";
import { recoverOnStartup, verifyBlobFiles } from "./collector.ts";

const CHILD = new URL("./crash-child.ts", import.meta.url).pathname;
const KILLS = Number(process.env.FREEHOLD_CRASH_KILLS ?? 20);

function runAndKill(dataDir: string, address: string, acks: Set<string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dataDir, address], { stdio: ["ignore", "pipe", "pipe"] });
    let buf = "";
    let stderr = "";
    let timer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === "ready" && !timer) {
          // A random moment while the writers run: 20-400 ms in.
          timer = setTimeout(() => child.kill("SIGKILL"), 20 + Math.floor(Math.random() * 380));
        } else if (line.startsWith("ack ")) acks.add(line.slice(4));
      }
    });
    child.stderr.on("data", (d) => (stderr += d));
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (signal === "SIGKILL") resolve();
      else reject(new Error(`child exited ${code} ${signal}: ${stderr}`));
    });
  });
}

test(`store survives ${KILLS} SIGKILLs during delivery and collection`, { timeout: 180_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "freehold-crash-"));
  try {
    const setup = openSqliteStore(dir);
    const d = await setup.accounts.createDomain("example.test");
    const u = await setup.accounts.createUser({ domainId: d.id, localPart: "crash", passwordHash: "h" });
    const inbox = await setup.mail.createMailbox(u.id, "INBOX");
    await setup.mail.createMailbox(u.id, "Junk");
    await setup.close();

    const acks = new Set<string>();
    let lastUidNext = 1;
    const recovered = { orphans: 0, temps: 0, blobs: 0 };
    for (let round = 0; round < KILLS; round++) {
      await runAndKill(dir, u.address, acks);
      const store = openSqliteStore(dir);
      try {
        const blobs = await openFileBlobStore({ dataDir: dir, meta: store.blobs });
        const rec = await recoverOnStartup({ store, blobs });
        assert.deepEqual(rec.missingFiles, [], `round ${round}: rows without files`);
        recovered.orphans += rec.orphansRemoved;
        recovered.temps += rec.tempsRemoved;
        recovered.blobs += rec.blobsRemoved;
        const check = await store.integrityCheck();
        assert.deepEqual(check.problems, [], `round ${round}: integrity`);
        const v = await verifyBlobFiles(store, blobs);
        assert.deepEqual(v, { missingFiles: [], orphanFiles: [] }, `round ${round}: rows and files agree`);
        const mb = (await store.mail.getMailboxById(inbox.id))!;
        assert.ok(mb.uidNext >= lastUidNext, "UIDNEXT never goes back");
        lastUidNext = mb.uidNext;
        const counts = new Map<string, number>();
        for (const m of await store.mail.listMessages(inbox.id)) {
          const text = (await blobs.readAll(m.blobId)).toString();
          const id = /^X-Id: (\S+)/.exec(text)?.[1];
          assert.ok(id, `round ${round}: blob ${m.blobId} content intact`);
          counts.set(id, (counts.get(id) ?? 0) + 1);
        }
        for (const [id, n] of counts) assert.equal(n, 1, `round ${round}: ${id} stored ${n} times`);
        for (const id of acks) assert.ok(counts.has(id), `round ${round}: acknowledged ${id} is missing`);
      } finally {
        await store.close();
      }
    }
    assert.ok(acks.size > 0, "the children acknowledged deliveries");
    t.diagnostic(`${acks.size} acknowledged; recovery removed ${recovered.temps} temps, ${recovered.orphans} orphans, ${recovered.blobs} unreferenced blobs`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
