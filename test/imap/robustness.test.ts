// No input crashes the server or hangs a session: random command lines built from the grammar's
// alphabet (fast-check, fixed seed), in every state, each followed by a NOOP that must still get
// its tagged answer; plus a command split at every byte boundary over the wire.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { PASSWORD, USER, sampleMessage, startHarness } from "./harness.ts";
import { RawClient } from "./raw-client.ts";

const WORDS = [
  "CAPABILITY", "NOOP", "LOGIN", "SELECT", "EXAMINE", "FETCH", "UID", "STORE", "SEARCH", "COPY", "MOVE", "LIST", "LSUB",
  "STATUS", "APPEND", "EXPUNGE", "CREATE", "DELETE", "RENAME", "ENABLE", "ID", "IDLE", "CLOSE", "UNSELECT", "GETQUOTAROOT",
  "INBOX", "Archive", "1", "1:*", "*", "$", "2:4", "0", "4294967296", "(", ")", "[", "]", "<0.10>", "BODY[]", "BODY.PEEK[1.MIME]",
  "FLAGS", "+FLAGS", "\\Seen", "\\Deleted", "ALL", "OR", "NOT", "TEXT", "\"x\"", "\"\"", "NIL", "{3}", "~{2}", "(CHANGEDSINCE 1)",
  "RETURN", "(MIN", "MAX)", "UNCHANGEDSINCE", "QRESYNC", "CONDSTORE", "&Jjo-", "%", "\"a\\\"b\"", "HEADER.FIELDS", "(From)",
];

test("random commands in every state never break a session", { timeout: 120_000 }, async () => {
  const h = await startHarness();
  try {
    for (let i = 1; i <= 5; i++) await h.deliver("INBOX", sampleMessage(i));
    const line = fc.array(fc.oneof(fc.constantFrom(...WORDS), fc.string({ maxLength: 6 })), { minLength: 1, maxLength: 8 }).map((ws) => ws.join(" ").replace(/[\r\n]/g, ""));
    const samples = fc.sample(line, { seed: 4242, numRuns: 300 });
    const clients = [await RawClient.connect(h.port), await RawClient.connect(h.port), await RawClient.connect(h.port)];
    await clients[1].login(USER, PASSWORD);
    await clients[2].login(USER, PASSWORD);
    await clients[2].cmd("SELECT INBOX");
    let n = 0;
    let answered = 0;
    for (const s of samples) {
      for (let ci = 0; ci < clients.length; ci++) {
        let c = clients[ci];
        if (c.closed) {
          // LOGOUT among the random words may end a session: start a fresh one in the same state.
          c = clients[ci] = await RawClient.connect(h.port);
          if (ci > 0) await c.login(USER, PASSWORD);
          if (ci > 1) await c.cmd("SELECT INBOX");
        }
        const tag = `f${++n}`;
        c.send(`${tag} ${s}\r\n`);
        // A literal header may leave the server waiting for data: complete it with junk.
        if (/\{\d+\}$/.test(s) || /~\{\d+\}$/.test(s)) c.send("abc\r\n");
        if (/IDLE/.test(s)) c.send("DONE\r\n");
        const probe = await c.cmd("NOOP").catch((e: Error) => ({ status: "GONE", text: e.message, untagged: [] }));
        if (probe.status === "GONE" && c.closed) continue;
        assert.ok(["OK", "BAD", "NO"].includes(probe.status), `after ${JSON.stringify(s)}: ${probe.text}`);
        answered++;
      }
    }
    assert.ok(answered >= samples.length * 2, `only ${answered} probes answered`);
    for (const c of clients) c.close();
    const check = await RawClient.connect(h.port);
    await check.login(USER, PASSWORD);
    assert.equal((await check.cmd("SELECT INBOX")).status, "OK");
    check.close();
    assert.equal((await h.store.integrityCheck()).ok, true);
  } finally {
    await h.close();
  }
});

test("a command split at every byte boundary gets the same answer", async () => {
  const h = await startHarness();
  try {
    await h.deliver("INBOX", sampleMessage(1));
    const c = await RawClient.connect(h.port);
    await c.login(USER, PASSWORD);
    await c.cmd("SELECT INBOX");
    const cmd = 'x FETCH 1 (UID BODY.PEEK[HEADER.FIELDS (Subject)] FLAGS)\r\n';
    const want = await c.cmd(cmd.slice(2, -2));
    for (let i = 1; i < cmd.length; i++) {
      c.send(cmd.slice(0, i));
      await new Promise((r) => setImmediate(r));
      c.send(cmd.slice(i));
      const got = await c.until("x");
      assert.deepEqual(got.untagged, want.untagged, `split at ${i}`);
      assert.equal(got.status, "OK");
    }
    c.close();
  } finally {
    await h.close();
  }
});
