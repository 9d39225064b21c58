// The queue runner against real peers on loopback: a scripted aiosmtpd as the remote MX for
// remote.test (served by knot), the runner on a ManualClock.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { queueFixture, message, remoteZone, SENDER } from "./fixture.ts";
import { startScriptedPeer } from "../delivery/peers.ts";

const MIN = 60_000;

/** Parses a DSN with Python's email package; returns its report fields. */
function parseDsn(text: string): { contentType: string; reportType: string; perRecipient: Record<string, string>[]; perMessage: Record<string, string> } {
  const py = `
import sys, json, email
from email import policy
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=policy.compat32)
out = {"contentType": m.get_content_type(), "reportType": m.get_param("report-type"), "perRecipient": [], "perMessage": {}}
for part in m.walk():
    if part.get_content_type() == "message/delivery-status":
        blocks = part.get_payload()
        out["perMessage"] = dict(blocks[0].items())
        out["perRecipient"] = [dict(b.items()) for b in blocks[1:]]
print(json.dumps(out))
`;
  return JSON.parse(execFileSync("/usr/bin/python3", ["-c", py], { input: Buffer.from(text, "latin1") }).toString());
}

test("451 at end of data: retried after the backoff and delivered once; the entry and its blob reference go", async (t) => {
  const peer = await startScriptedPeer({ host: "127.0.0.21", dataReplies: ["451 4.3.0 try again later"] });
  t.after(() => peer.stop());
  const f = await queueFixture({ zones: remoteZone("127.0.0.21"), transport: { mxPort: peer.port } });
  t.after(() => f.close());
  const id = await f.enqueue({ mailFrom: SENDER, recipients: [{ recipient: "bob@remote.test" }], body: message("retry me") });
  const blobId = (await f.storage.store.queue.get(id))!.blobId;

  assert.equal(await f.runner.runOnce(), 1);
  let q = await f.storage.store.queue.get(id);
  assert.equal(q?.recipients[0].state, "pending");
  assert.equal(q?.recipients[0].attempts, 1);
  assert.match(q?.recipients[0].lastReply ?? "", /^451 4\.3\.0/);
  assert.equal(q?.recipients[0].nextAttemptAt, f.clock.now() + 5 * MIN);
  assert.equal((await peer.received()).length, 0);

  assert.equal(await f.runner.runOnce(), 0, "not due before the backoff");
  f.clock.advance(5 * MIN);
  assert.equal(await f.runner.runOnce(), 1);
  q = await f.storage.store.queue.get(id);
  assert.equal(q, null, "finished entries leave the queue");
  const got = await peer.received();
  assert.equal(got.length, 1);
  assert.equal(got[0].mail_from, SENDER);
  assert.deepEqual(got[0].rcpt_tos, ["bob@remote.test"]);
  assert.match(got[0].data, /^Subject: retry me/m);
  assert.equal((await f.storage.store.blobs.get(blobId))?.refcount, 0, "the queue's blob reference is released");
  assert.equal((await f.inbox(SENDER)).length, 0, "no DSN without NOTIFY=SUCCESS");
});

test("421 4.7.0 (throttling) at end of data: deferred, the destination paused, delivered on the next try", async (t) => {
  const peer = await startScriptedPeer({ host: "127.0.0.22", dataReplies: ["421 4.7.0 too fast, slow down"] });
  t.after(() => peer.stop());
  const f = await queueFixture({ zones: remoteZone("127.0.0.22"), transport: { mxPort: peer.port } });
  t.after(() => f.close());
  const id = await f.enqueue({ mailFrom: SENDER, recipients: [{ recipient: "bob@remote.test" }], body: message("throttled") });
  await f.runner.runOnce();
  assert.equal((await f.storage.store.queue.get(id))?.recipients[0].state, "pending");
  // The destination is paused (1 min after a first 4.7.x): new mail for it waits, no attempt counted.
  const id2 = await f.enqueue({ mailFrom: SENDER, recipients: [{ recipient: "carol@remote.test" }], body: message("behind the pause") });
  await f.runner.runOnce();
  const r2 = (await f.storage.store.queue.get(id2))!.recipients[0];
  assert.equal(r2.attempts, 0);
  assert.equal(r2.nextAttemptAt, f.clock.now() + MIN);
  assert.equal((await peer.received()).length, 0);
  f.clock.advance(60 * MIN);
  await f.runner.runOnce();
  assert.equal(await f.storage.store.queue.get(id), null);
  assert.equal(await f.storage.store.queue.get(id2), null);
  assert.equal((await peer.received()).length, 2);
});

test("550 for one recipient: a DSN for that recipient only in the sender's INBOX; the other is delivered", async (t) => {
  const peer = await startScriptedPeer({ host: "127.0.0.23", rcptReplies: { "nobody@remote.test": "550 5.1.1 <nobody@remote.test>: no such user" } });
  t.after(() => peer.stop());
  const f = await queueFixture({ zones: remoteZone("127.0.0.23"), transport: { mxPort: peer.port } });
  t.after(() => f.close());
  const id = await f.enqueue({
    mailFrom: SENDER,
    recipients: [{ recipient: "nobody@remote.test", orcpt: "rfc822;nobody@remote.test" }, { recipient: "bob@remote.test" }],
    envid: "ENV-42",
    ret: "HDRS",
    body: message("bounce me"),
  });
  await f.runner.runOnce();
  assert.equal(await f.storage.store.queue.get(id), null);
  assert.deepEqual((await peer.received()).map((m) => m.rcpt_tos), [["bob@remote.test"]]);
  const inbox = await f.inbox(SENDER);
  assert.equal(inbox.length, 1);
  const dsn = parseDsn(inbox[0]);
  assert.equal(dsn.contentType, "multipart/report");
  assert.equal(dsn.reportType, "delivery-status");
  assert.equal(dsn.perMessage["Original-Envelope-Id"], "ENV-42");
  assert.equal(dsn.perRecipient.length, 1);
  assert.equal(dsn.perRecipient[0]["Action"], "failed");
  assert.equal(dsn.perRecipient[0]["Status"], "5.1.1");
  assert.match(dsn.perRecipient[0]["Final-Recipient"], /nobody@remote\.test/);
  assert.match(dsn.perRecipient[0]["Original-Recipient"], /rfc822;\s*nobody@remote\.test/);
  assert.match(dsn.perRecipient[0]["Diagnostic-Code"], /smtp;\s*550 5\.1\.1 <nobody@remote\.test>: no such user/);
  assert.match(inbox[0], /^Return-Path: <>\r\n/, "a DSN comes from the null sender");
  assert.match(inbox[0], /^From: .*MAILER-DAEMON@mail\.local\.test/m);
  assert.doesNotMatch(inbox[0], /^Hello\.$/m, "RET=HDRS: headers only");
});

test("null MX: immediate 5.1.10 DSN, no connection", async (t) => {
  const f = await queueFixture({
    zones: { "nullmx.test": { "@": { NS: ["ns.nullmx.test."], MX: [[0, "."]], A: ["127.0.0.24"] }, ns: { A: ["127.0.0.1"] } } },
  });
  t.after(() => f.close());
  const id = await f.enqueue({ mailFrom: SENDER, recipients: [{ recipient: "x@nullmx.test" }], body: message("to null mx", SENDER, "x@nullmx.test") });
  await f.runner.runOnce();
  assert.equal(await f.storage.store.queue.get(id), null);
  const inbox = await f.inbox(SENDER);
  assert.equal(inbox.length, 1);
  const dsn = parseDsn(inbox[0]);
  assert.equal(dsn.perRecipient[0]["Status"], "5.1.10");
  assert.equal(dsn.perRecipient[0]["Action"], "failed");
});

test("a bounce is never bounced: a failed DSN to a remote sender goes to the postmaster, and that notice's failure is dropped", async (t) => {
  const peer = await startScriptedPeer({ host: "127.0.0.25", rcptReplies: { "gone@remote.test": "550 5.1.1 gone" } });
  t.after(() => peer.stop());
  const f = await queueFixture({ zones: remoteZone("127.0.0.25"), transport: { mxPort: peer.port } });
  t.after(() => f.close());
  // Bare "postmaster" reaches the administrators (src/accounts/resolve.ts).
  await f.accounts.addUser((await import("../../src/accounts/authz.ts")).SYSTEM, { address: "admin@local.test", password: "pw-admin-123456", role: "admin" });
  const id = await f.enqueue({ mailFrom: "", recipients: [{ recipient: "gone@remote.test" }], body: message("a bounce", "MAILER-DAEMON@elsewhere.test", "gone@remote.test"), origin: "dsn" });
  await f.runner.runOnce();
  assert.equal(await f.storage.store.queue.get(id), null);
  assert.equal((await f.storage.store.queue.list()).length, 0, "nothing queued back to <>");
  const pm = await f.inbox("admin@local.test");
  assert.equal(pm.length, 1, "the double bounce reaches the postmaster");
  assert.equal(parseDsn(pm[0]).perRecipient[0]["Status"], "5.1.1");
  assert.equal((await f.inbox(SENDER)).length, 0);
});

test("retry schedule walked with a ManualClock: one delay warning after 4 h, a final 4.4.7 DSN after 5 days", async (t) => {
  // 127.0.0.26:1 has no listener: every attempt is refused at once.
  const f = await queueFixture({ zones: remoteZone("127.0.0.26"), transport: { mxPort: 1 } });
  t.after(() => f.close());
  const start = f.clock.now();
  const id = await f.enqueue({ mailFrom: SENDER, recipients: [{ recipient: "bob@remote.test" }], body: message("never arrives") });
  const times: number[] = [];
  for (let i = 0; i < 500; i++) {
    const q = await f.storage.store.queue.get(id);
    if (!q) break;
    f.clock.set(Math.max(f.clock.now(), q.recipients[0].nextAttemptAt));
    times.push(f.clock.now() - start);
    await f.runner.runOnce();
  }
  assert.equal(await f.storage.store.queue.get(id), null, "given up");
  const gaps = times.slice(1).map((x, i) => x - times[i]);
  assert.deepEqual(gaps.slice(0, 5), [5, 10, 20, 40, 60].map((m) => m * MIN), "5 min doubling to the 1 h cap");
  assert.equal(times.at(-1), 5 * 24 * 60 * MIN, "the last attempt is at expiry");
  const dsns = (await f.inbox(SENDER)).map(parseDsn);
  assert.deepEqual(dsns.map((d) => d.perRecipient[0]["Action"]), ["delayed", "failed"]);
  assert.equal(dsns[1].perRecipient[0]["Status"], "4.4.7");
  assert.ok(dsns[0].perRecipient[0]["Will-Retry-Until"], "a delay DSN says when we give up");
});

test("hold (dev mode): nothing is sent, the entry stays queued", async (t) => {
  const peer = await startScriptedPeer({ host: "127.0.0.27" });
  t.after(() => peer.stop());
  const f = await queueFixture({ zones: remoteZone("127.0.0.27"), transport: { mxPort: peer.port }, runner: { hold: true } });
  t.after(() => f.close());
  const id = await f.enqueue({ mailFrom: SENDER, recipients: [{ recipient: "bob@remote.test" }], body: message("held") });
  assert.equal(await f.runner.runOnce(), 0);
  assert.equal((await f.storage.store.queue.get(id))?.recipients[0].attempts, 0);
  assert.equal((await peer.received()).length, 0);
});

test("a queued recipient in a local domain is delivered into the store; NOTIFY=SUCCESS gives a 'delivered' DSN", async (t) => {
  const f = await queueFixture({ zones: remoteZone("127.0.0.28") });
  t.after(() => f.close());
  await f.accounts.addUser((await import("../../src/accounts/authz.ts")).SYSTEM, { address: "bob@local.test", password: "pw-bob-1234567" });
  const id = await f.enqueue({ mailFrom: SENDER, recipients: [{ recipient: "bob@local.test", notify: ["SUCCESS"] }], body: message("local", SENDER, "bob@local.test") });
  await f.runner.runOnce();
  assert.equal(await f.storage.store.queue.get(id), null);
  const bob = await f.inbox("bob@local.test");
  assert.equal(bob.length, 1);
  assert.match(bob[0], /^Subject: local/m);
  const dsn = await f.inbox(SENDER);
  assert.equal(dsn.length, 1);
  assert.equal(parseDsn(dsn[0]).perRecipient[0]["Action"], "delivered");
});

test("a relay's maxConnections is its ceiling, even above the MX default", async (t) => {
  const peer = await startScriptedPeer({ host: "127.0.0.29", dataDelayMs: 150 });
  t.after(() => peer.stop());
  const f = await queueFixture({
    zones: {},
    routing: { relays: [{ name: "wide", host: "127.0.0.29", port: peer.port, tls: "none", maxConnections: 4 }], routes: { default: ["wide"] } },
    runner: { throttle: { initialPauseMs: 60_000, maxPauseMs: 3_600_000, maxConcurrency: 2, successesPerStep: 10 } },
  });
  t.after(() => f.close());
  for (let i = 0; i < 8; i++) await f.enqueue({ mailFrom: SENDER, recipients: [{ recipient: `r${i}@remote${i}.test` }], body: message(`w${i}`) });
  await f.runner.runOnce();
  const got = await peer.received();
  assert.equal(got.length, 8);
  assert.equal(Math.max(...got.map((m) => m.maxConcurrent)), 4, "four at once (the relay's limit), never more");
});

test("per-destination concurrency: no more connections to one domain than the limit", async (t) => {
  const peer = await startScriptedPeer({ host: "127.0.0.29", dataDelayMs: 150 });
  t.after(() => peer.stop());
  const f = await queueFixture({
    zones: remoteZone("127.0.0.29"),
    transport: { mxPort: peer.port },
    runner: { throttle: { initialPauseMs: 60_000, maxPauseMs: 3_600_000, maxConcurrency: 2, successesPerStep: 10 } },
  });
  t.after(() => f.close());
  for (let i = 0; i < 6; i++) await f.enqueue({ mailFrom: SENDER, recipients: [{ recipient: `r${i}@remote.test` }], body: message(`c${i}`) });
  await f.runner.runOnce();
  const got = await peer.received();
  assert.equal(got.length, 6);
  assert.equal(Math.max(...got.map((m) => m.maxConcurrent)), 2, "two at once, never more");
});
