// The store contract on SQLite metadata + file-per-message blobs.
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runStoreContract } from "../contract.ts";
import type { StoreHarness } from "../contract.ts";
import { openSqliteStore } from "./store.ts";
import { openFileBlobStore } from "../blob-files.ts";
import { DeliveryWriter } from "../delivery.ts";
import { collect, recoverOnStartup, verifyBlobFiles } from "../collector.ts";

async function openHarness(dir: string): Promise<StoreHarness> {
  const store = openSqliteStore(dir);
  const blobs = await openFileBlobStore({ dataDir: dir, meta: store.blobs });
  await recoverOnStartup({ store, blobs });
  const writer = new DeliveryWriter({ store, blobs });
  const close = async () => {
    await writer.drain();
    await store.close();
  };
  return {
    store,
    blobs,
    writer,
    collect: () => collect({ store, blobs, writer, orphanGraceMs: 0, tempGraceMs: 0 }),
    verify: async () => {
      await writer.drain();
      return verifyBlobFiles(store, blobs);
    },
    tempCount: async () => (await readdir(blobs.tmpDir)).length,
    reopen: async () => {
      await close();
      return openHarness(dir);
    },
    cleanup: async () => {
      await close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

runStoreContract("sqlite + files", async () => openHarness(await mkdtemp(join(tmpdir(), "freehold-store-"))));
