// The server's mailbox index (src/imap/mailbox-index.ts) on the wire: a SELECT made after other
// sessions changed the mailbox sees exactly the store's state, however the index caught up.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startHarness, sampleMessage, USER, PASSWORD } from "./harness.ts";
import { RawClient } from "./raw-client.ts";
import { createImapWiring } from "../../src/imap/wiring.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { systemClock } from "../../src/clock.ts";

test("SELECT after changes elsewhere: EXISTS, FLAGS keywords, UNSEEN and every message's flags match the store", async () => {
  const h = await startHarness();
  try {
    for (let i = 1; i <= 6; i++) await h.deliver("INBOX", sampleMessage(i), { flags: i <= 2 ? ["\\Seen"] : [] });
    const a = await RawClient.connect(h.port);
    await a.login(USER, PASSWORD);
    assert.ok((await a.cmd("SELECT INBOX")).untagged.includes("* 6 EXISTS"));
    // Another session changes flags, expunges, and mail arrives; then a new SELECT.
    const b = await RawClient.connect(h.port);
    await b.login(USER, PASSWORD);
    await b.cmd("SELECT INBOX");
    await b.cmd("UID STORE 3 +FLAGS ($Label1 \\Seen)");
    await b.cmd("UID STORE 1 -FLAGS (\\Seen)");
    await b.cmd("UID STORE 2 +FLAGS (\\Deleted)");
    await b.cmd("EXPUNGE");
    await h.deliver("INBOX", sampleMessage(7), { flags: ["\\Seen"] });
    const c = await RawClient.connect(h.port);
    await c.login(USER, PASSWORD);
    const sel = await c.cmd("SELECT INBOX");
    assert.ok(sel.untagged.includes("* 6 EXISTS"), sel.untagged.join("\n"));
    assert.ok(sel.untagged.some((l) => l.startsWith("* FLAGS (") && l.includes("$Label1")), sel.untagged.join("\n"));
    assert.ok(sel.untagged.some((l) => /\[UNSEEN 1\]/.test(l)), sel.untagged.join("\n"));
    const f = await c.cmd("UID FETCH 1:* (FLAGS)");
    assert.deepEqual(f.untagged, [
      "* 1 FETCH (UID 1 FLAGS ())",
      "* 2 FETCH (UID 3 FLAGS ($Label1 \\Seen))", // in the order the store keeps them
      "* 3 FETCH (UID 4 FLAGS ())",
      "* 4 FETCH (UID 5 FLAGS ())",
      "* 5 FETCH (UID 6 FLAGS ())",
      // Delivered after a and b selected and before either heard of it: c is first (RFC 3501 §2.3.2).
      "* 6 FETCH (UID 7 FLAGS (\\Seen \\Recent))",
    ]);
    // The first session learns the same through its own view.
    const n = await a.cmd("NOOP");
    assert.ok(n.untagged.includes("* 2 EXPUNGE"), n.untagged.join("\n"));
    assert.ok(n.untagged.includes("* 6 EXISTS"), n.untagged.join("\n"));
    for (const x of [a, b, c]) x.close();
  } finally {
    await h.close();
  }
});

test("every IMAP listener of a process shares one mailbox index", async () => {
  const h = await startHarness();
  try {
    const w = createImapWiring({ store: h.store, blobs: h.blobs, accounts: h.accounts, logger: silentLogger(), clock: systemClock, dataDir: h.dir, loginSecret: "s" });
    const one = w.deps(h.writer, 0);
    const two = w.deps(h.writer, 0, { maxConnectionsPerUser: 5 });
    assert.ok(one.statusCache);
    assert.equal(one.statusCache, two.statusCache);
    await w.close();
  } finally {
    await h.close();
  }
});
