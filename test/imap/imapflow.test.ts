// imapflow (the npm client) against our server: IDLE gets a delivery within 5 s, changes from
// another session arrive during IDLE, CONDSTORE fetch CHANGEDSINCE, and MOVE with its UID map.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ImapFlow } from "imapflow";
import { PASSWORD, USER, sampleMessage, startHarness } from "./harness.ts";
import type { Harness } from "./harness.ts";

function client(h: Harness, qresync = false): ImapFlow {
  return new ImapFlow({ host: "127.0.0.1", port: h.port, secure: false, auth: { user: USER, pass: PASSWORD }, logger: false, qresync, disableAutoIdle: true });
}

function nextEvent<T>(c: ImapFlow, name: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${name} event within ${timeoutMs} ms`)), timeoutMs);
    c.once(name, (v: T) => {
      clearTimeout(t);
      resolve(v);
    });
  });
}

test("imapflow: IDLE, CONDSTORE, MOVE", async (t) => {
  const h = await startHarness();
  const a = client(h);
  const b = client(h);
  try {
    await h.deliver("INBOX", sampleMessage(1));
    await a.connect();
    await b.connect();
    const box = await a.mailboxOpen("INBOX");
    assert.equal(box.exists, 1);
    assert.ok(box.highestModseq !== undefined && box.highestModseq > 0n, "HIGHESTMODSEQ reported with CONDSTORE");

    await t.test("a delivery reaches an IDLE client within 5 s", async () => {
      const idling = a.idle();
      await new Promise((r) => setTimeout(r, 100));
      const started = Date.now();
      const ev = nextEvent<{ count: number }>(a, "exists", 5000);
      await h.deliver("INBOX", sampleMessage(2));
      const got = await ev;
      const ms = Date.now() - started;
      assert.equal(got.count, 2);
      assert.ok(ms < 5000, `took ${ms} ms`);
      // The flag change of another session arrives while idling, too.
      const flags = nextEvent<{ uid: number; flags: Set<string> }>(a, "flags", 5000);
      await b.mailboxOpen("INBOX");
      await b.messageFlagsAdd("1", ["\\Flagged"], { uid: true });
      const f = await flags;
      assert.equal(f.uid, 1);
      assert.ok(f.flags.has("\\Flagged"));
      // An expunge by the other session shows up as EXPUNGE during IDLE.
      const gone = nextEvent<{ seq: number }>(a, "expunge", 5000);
      await b.messageDelete("2", { uid: true });
      assert.equal((await gone).seq, 2);
      void idling;
    });

    await t.test("CONDSTORE: FETCH CHANGEDSINCE returns only changed messages with MODSEQ", async () => {
      await h.deliver("INBOX", sampleMessage(3));
      const st = await a.status("INBOX", { highestModseq: true });
      assert.ok(st && st.highestModseq);
      const before = st.highestModseq;
      await b.messageFlagsAdd("1", ["$Important"], { uid: true });
      const changed = [];
      for await (const m of a.fetch("1:*", { uid: true, flags: true }, { uid: true, changedSince: before })) changed.push(m);
      assert.deepEqual(changed.map((m) => m.uid), [1]);
      assert.ok(changed[0].modseq! > before);
      assert.ok(changed[0].flags!.has("$Important"));
    });

    await t.test("QRESYNC: an expunge arrives as VANISHED with its UID", async () => {
      const q = client(h, true);
      await q.connect();
      try {
        assert.ok(q.enabled.has("QRESYNC"), "imapflow enabled QRESYNC");
        await q.mailboxOpen("INBOX");
        const uid = await h.deliver("INBOX", sampleMessage(4));
        await q.noop();
        const ev = nextEvent<{ uid: number; vanished: boolean }>(q, "expunge", 5000);
        await b.messageDelete(String(uid), { uid: true });
        await q.noop();
        const got = await ev;
        assert.equal(got.vanished, true);
        assert.equal(got.uid, uid);
      } finally {
        await q.logout().catch(() => undefined);
      }
    });

    await t.test("MOVE returns the UID map and removes the source message", async () => {
      const archive = await h.store.mail.getMailbox(h.user.id, "Archive");
      const r = await a.messageMove("1", "Archive", { uid: true });
      assert.ok(r);
      assert.equal(r.destination, "Archive");
      assert.equal(r.uidValidity, BigInt(archive!.uidValidity));
      assert.deepEqual([...r.uidMap!.entries()], [[1, archive!.uidNext]]);
      const left = [];
      for await (const m of a.fetch("1:*", { uid: true })) left.push(m.uid);
      assert.deepEqual(left, [3]);
    });
  } finally {
    await a.logout().catch(() => undefined);
    await b.logout().catch(() => undefined);
    await h.close();
  }
});
