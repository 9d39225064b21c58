// Durability through SMTP: `freehold serve` is SIGKILLed at random moments, 20 times, while 10
// senders deliver through the mx listener. Every message carries a unique token; a token counts
// as acknowledged only once its "250" arrived (RFC 5321 §4.1.1.4: from then on the message is
// ours). After each restart — once the server's own startup recovery has run, and before any
// sender may reconnect — SQLite's integrity check passes, no blob file lacks a row, no row lacks
// its file, no temp file is left, and every acknowledged token is stored exactly once for each
// of its recipients; an unacknowledged one is stored for all of its recipients or for none
// (one delivery is one transaction), never twice.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startFaultServer } from "../support/dns-fault.ts";
import { SmtpTestClient } from "../support/smtp-client.ts";
import { createDataDir, openDataDir, startFreeholdProcess, waitForLog } from "../support/freehold.ts";
import type { DataDir, FreeholdProcess } from "../support/freehold.ts";
import { verifyBlobFiles } from "../../src/store/collector.ts";
import { Gate } from "../support/gate.ts";

const KILLS = Number(process.env.FREEHOLD_CRASH_KILLS ?? 20);
const SENDERS = 10;
const USERS = ["crash1@freehold.test", "crash2@freehold.test"];

interface Ledger {
  /** token → its recipients, for every token whose DATA was started. */
  sent: Map<string, string[]>;
  acked: Set<string>;
}

function body(tok: string, size: number): string {
  const line = `${tok} ${"x".repeat(60)}\r\n`;
  return `From: <load@sender.test>\r\nTo: <${USERS[0]}>\r\nSubject: ${tok}\r\nX-Token: ${tok}\r\n\r\n${line.repeat(Math.max(1, Math.floor(size / line.length)))}`;
}

async function sender(id: number, port: () => number, gate: Gate, ledger: Ledger, stop: { now: boolean }): Promise<void> {
  let n = 0;
  while (!stop.now) {
    await gate.wait();
    if (stop.now) break;
    let c: SmtpTestClient;
    try {
      c = await SmtpTestClient.connect(port(), "127.0.0.1", 5000);
      if ((await c.read()).code !== 220) throw new Error("no greeting");
      if ((await c.cmd("EHLO crash.client.test")).code !== 250) throw new Error("EHLO refused");
    } catch {
      await new Promise((r) => setTimeout(r, 20));
      continue; // the server died or is restarting: wait at the gate
    }
    try {
      // A few messages per connection, so kills also land on connects and greetings.
      for (let i = 0; i < 5 && !stop.now; i++) {
        const tok = `T${id}-${n++}-${Math.random().toString(36).slice(2, 8)}`;
        const to = Math.random() < 0.2 ? [...USERS] : [USERS[Math.floor(Math.random() * USERS.length)]];
        ledger.sent.set(tok, to);
        // 300 B to ~24 KiB: some bodies are still on the wire when the kill comes.
        const r = await c.send("load@sender.test", to, body(tok, 300 + Math.floor(Math.random() * 24_000)));
        if (r.final.code === 250) ledger.acked.add(tok);
        else if (r.final.code >= 500) throw new Error(`permanent failure for ${tok}: ${r.final.lines.join(" | ")}`);
      }
      await c.quit();
    } catch (e) {
      c.destroy();
      if ((e as Error).message.startsWith("permanent failure")) throw e;
    }
  }
}

/** blobId → token, read once per blob (blobs never change). */
type TokenCache = Map<number, string>;

async function checkStore(data: DataDir, ledger: Ledger, cache: TokenCache, label: string): Promise<{ copies: number; tokens: Set<string> }> {
  const db = await openDataDir(data.dir);
  try {
    const integrity = await db.store.integrityCheck();
    assert.deepEqual(integrity.problems, [], `${label}: integrity check`);
    assert.deepEqual(await verifyBlobFiles(db.store, db.blobs), { missingFiles: [], orphanFiles: [] }, `${label}: rows and files agree`);
    assert.deepEqual(await db.blobs.listTemps(), [], `${label}: no temp file left`);
    const copies = new Map<string, string[]>(); // token → users holding a copy
    let total = 0;
    for (const address of USERS) {
      const user = (await db.store.accounts.getUserByAddress(address))!;
      const inbox = (await db.store.mail.getMailbox(user.id, "INBOX"))!;
      for (const m of await db.store.mail.listMessages(inbox.id)) {
        let tok = cache.get(m.blobId);
        if (!tok) {
          const text = (await db.blobs.readAll(m.blobId)).toString("latin1");
          tok = /^X-Token: (\S+)/m.exec(text)?.[1];
          assert.ok(tok, `${label}: blob ${m.blobId} has its content`);
          assert.ok(text.endsWith(`${tok} ${"x".repeat(60)}\r\n`), `${label}: blob ${m.blobId} is complete`);
          cache.set(m.blobId, tok);
        }
        copies.set(tok, [...(copies.get(tok) ?? []), address]);
        total++;
      }
    }
    for (const [tok, holders] of copies) {
      const to = ledger.sent.get(tok);
      assert.ok(to, `${label}: ${tok} was never sent`);
      // Stored at most once per recipient, and for all recipients or none.
      assert.deepEqual([...holders].sort(), [...to].sort(), `${label}: ${tok} stored for ${holders.join(",")}, sent to ${to.join(",")}`);
    }
    for (const tok of ledger.acked) assert.ok(copies.has(tok), `${label}: acknowledged ${tok} is missing`);
    return { copies: total, tokens: new Set(copies.keys()) };
  } finally {
    await db.close();
  }
}

test(`SMTP delivery survives ${KILLS} SIGKILLs of freehold serve with ${SENDERS} senders`, { timeout: 150_000 }, async (t) => {
  const dns = await startFaultServer(() => ({ kind: "rcode", rcode: "NXDOMAIN" }));
  const data = await createDataDir({ domains: ["freehold.test"], users: USERS.map((address) => ({ address })), dnsServers: [dns.address] });
  const gate = new Gate();
  const stop = { now: false };
  const ledger: Ledger = { sent: new Map(), acked: new Set() };
  const cache: TokenCache = new Map();
  let fh: FreeholdProcess | undefined;
  const recovered = { temps: 0, orphans: 0, blobs: 0 };
  try {
    fh = await startFreeholdProcess(data);
    const senders = Array.from({ length: SENDERS }, (_, i) => sender(i, () => fh!.mxPort, gate, ledger, stop));
    let senderError: unknown = null;
    const done = Promise.all(senders).then(
      () => undefined,
      (e: unknown) => void (senderError = e),
    );
    for (let round = 0; round < KILLS; round++) {
      assert.equal(senderError, null);
      gate.open();
      // A random moment while mail flows: after this round's first new acknowledgement, then
      // 0-400 ms more (with 10 senders that is mid-DATA, mid-commit or mid-reply).
      const before = ledger.acked.size;
      const start = Date.now();
      while (ledger.acked.size === before && Date.now() - start < 10_000) await new Promise((r) => setTimeout(r, 5));
      assert.ok(ledger.acked.size > before, `round ${round}: no delivery was acknowledged`);
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 400)));
      gate.close();
      await fh.kill9();
      fh = await startFreeholdProcess(data);
      const rec = (await waitForLog(fh, "storage recovered")).recovery as Record<string, number>;
      assert.equal(rec.missingFiles, 0, `round ${round}: recovery found rows without files`);
      recovered.temps += rec.tempsRemoved;
      recovered.orphans += rec.orphansRemoved;
      recovered.blobs += rec.blobsRemoved;
      await checkStore(data, ledger, cache, `round ${round}`);
    }
    stop.now = true;
    gate.open();
    await done;
    assert.equal(senderError, null);
    assert.equal(await fh.stop(), 0, "graceful stop");
    const stored = await checkStore(data, ledger, cache, "final");
    const unacked = [...ledger.sent.keys()].filter((k) => !ledger.acked.has(k));
    const unackedStored = unacked.filter((k) => stored.tokens.has(k)).length;
    t.diagnostic(
      `${KILLS} kills; ${ledger.sent.size} messages sent, ${ledger.acked.size} acknowledged, ${unacked.length} unacknowledged ` +
        `(${unackedStored} of them stored: committed before the kill, reply lost); ${stored.copies} copies stored; recovery removed ${recovered.temps} temps, ${recovered.orphans} orphans, ${recovered.blobs} unreferenced blobs`,
    );
  } finally {
    stop.now = true;
    gate.open();
    await fh?.kill9();
    await dns.close();
    await data.remove();
  }
});

test("a graceful stop (SIGTERM) under load: exit 0, acknowledged mail kept, nothing left to recover", { timeout: 60_000 }, async (t) => {
  const dns = await startFaultServer(() => ({ kind: "rcode", rcode: "NXDOMAIN" }));
  const data = await createDataDir({ domains: ["freehold.test"], users: USERS.map((address) => ({ address })), dnsServers: [dns.address] });
  const gate = new Gate();
  const stop = { now: false };
  const ledger: Ledger = { sent: new Map(), acked: new Set() };
  let fh: FreeholdProcess | undefined;
  try {
    for (let round = 0; round < 3; round++) {
      fh = await startFreeholdProcess(data);
      if (round > 0) {
        // The previous stop was clean: startup recovery found nothing to do.
        const rec = (await waitForLog(fh, "storage recovered")).recovery;
        assert.deepEqual(rec, { blobsRemoved: 0, orphansRemoved: 0, tempsRemoved: 0, missingFiles: 0 }, `round ${round}`);
      }
      const server = fh;
      gate.open();
      const senders = Array.from({ length: SENDERS }, (_, i) => sender(i, () => server.mxPort, gate, ledger, stop));
      const before = ledger.acked.size;
      while (ledger.acked.size < before + 30) await new Promise((r) => setTimeout(r, 5));
      gate.close();
      // An idle session open at shutdown is told so (RFC 5321 §3.8), not just cut off.
      const idle = await SmtpTestClient.connect(server.mxPort);
      assert.equal((await idle.read()).code, 220);
      assert.equal((await idle.cmd("EHLO idle.client.test")).code, 250);
      const told = idle.read();
      assert.equal(await fh.stop(), 0, `round ${round}: exit code`);
      const bye = await told;
      assert.equal(`${bye.code} ${bye.text.split(" ")[0]}`, "421 4.3.2");
      idle.destroy();
      stop.now = true;
      gate.open();
      await Promise.all(senders);
      stop.now = false;
      gate.close();
      await checkStore(data, ledger, new Map(), `after stop ${round}`);
    }
    t.diagnostic(`${ledger.sent.size} sent, ${ledger.acked.size} acknowledged across 3 graceful stops`);
  } finally {
    stop.now = true;
    gate.open();
    await fh?.kill9();
    await dns.close();
    await data.remove();
  }
});
