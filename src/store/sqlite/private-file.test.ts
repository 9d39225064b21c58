import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openSqliteStore } from "./store.ts";
import { openSearchIndex } from "./search.ts";

test("database files are created 0600 and an older, looser one is tightened", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fh-perm-"));
  try {
    const store = openSqliteStore(dir);
    await store.accounts.createDomain("perm.test");
    await store.close();
    const mode = (f: string) => fs.statSync(path.join(dir, f)).mode & 0o777;
    assert.equal(mode("meta.sqlite"), 0o600);
    const ix = openSearchIndex(dir);
    await ix.close();
    assert.equal(mode("search.sqlite"), 0o600);

    fs.chmodSync(path.join(dir, "meta.sqlite"), 0o644);
    const again = openSqliteStore(dir);
    assert.ok(await again.accounts.getDomain("perm.test"), "the data is still there");
    await again.close();
    assert.equal(mode("meta.sqlite"), 0o600);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
