import { test } from "node:test";
import assert from "node:assert/strict";
import { accountsFixture } from "../accounts/testing.ts";
import { SYSTEM } from "../accounts/authz.ts";
import { StatusCache } from "./status-cache.ts";

test("status cache: counts once per HIGHESTMODSEQ, recounts after any change", async () => {
  const f = await accountsFixture();
  try {
    await f.accounts.addDomain(SYSTEM, "example.test");
    const u = await f.accounts.addUser(SYSTEM, { address: "u@example.test", password: "a long password" });
    const mb = (await f.store.mail.getMailbox(u.id, "INBOX"))!;
    const cache = new StatusCache();
    const get = async () => cache.counts(f.store, (await f.store.mail.getMailbox(u.id, "INBOX"))!);
    assert.deepEqual(await get(), { messages: 0, unseen: 0, deleted: 0, size: 0 });
    await get();
    assert.equal(cache.hits, 1);
    // A no-op leaves HIGHESTMODSEQ (and so the entry) alone; real changes are covered on the
    // wire in test/imap/sessions.test.ts.
    await f.store.mail.expunge(mb.id, [123]);
    await get();
    assert.equal(cache.hits, 2, "a no-op keeps the entry");
  } finally {
    await f.close();
  }
});
