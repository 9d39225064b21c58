// `freehold trace` (issue 19 §1) on a real server's log file: an inbound message delivered to a
// mailbox, a recipient refused at RCPT, an outbound message deferred once (the remote MX, a
// scripted aiosmtpd on 127.0.30.6:25 found through knot, answers 451 to its first DATA) and then
// delivered, and one bounced (550 5.1.1) with its DSN. The timeline lists every step in order,
// and `--json` validates against the report's schema. The server runs in this process with an
// injected clock (the retry comes after moving it), logging to its file as `serve` does.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { Writable } from "node:stream";
import { stat } from "node:fs/promises";
import nodemailer from "nodemailer";
import { createDataDir, runFreeholdCli, TEST_PASSWORD } from "../support/freehold.ts";
import { startKnot } from "../support/knot.ts";
import { startScriptedPeer } from "../delivery/peers.ts";
import { remoteZone } from "../queue/fixture.ts";
import { waitUntil } from "../support/peer-util.ts";
import { loadConfig } from "../../src/config/load.ts";
import { openServices } from "../../src/server/services.ts";
import { startServer } from "../../src/server/run.ts";
import { protocolStarters } from "../../src/server/starters.ts";
import { createLogger } from "../../src/log/logger.ts";
import { TraceReportSchema } from "../../src/trace/trace.ts";
import type { Clock } from "../../src/clock.ts";

const PEER = "127.0.30.6";

class OffsetClock implements Clock {
  offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
}

async function trace(dir: string, what: string, json = false) {
  const r = await runFreeholdCli(["trace", what, "--since", "1w", ...(json ? ["--json"] : []), "--data", dir]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

/** The events' names in order, for a JSON trace. */
async function events(dir: string, what: string): Promise<Array<{ event: string; where: string; detail: string }>> {
  const report = TraceReportSchema.parse(JSON.parse(await trace(dir, what, true)));
  return report.events;
}

test("freehold trace: delivered, refused at RCPT, deferred then delivered, bounced with DSN — every step in order; --json matches the schema", { skip: process.getuid?.() !== 0 ? "port 25 needs root" : undefined }, async (t) => {
  const peer = await startScriptedPeer({ host: PEER, port: 25, dataReplies: ["451 4.3.0 Try again later"], rcptReplies: { "gone@remote.test": "550 5.1.1 <gone@remote.test>: User unknown" } });
  t.after(() => peer.stop());
  const knot = await startKnot(remoteZone(PEER));
  t.after(() => knot.stop());
  const data = await createDataDir({ submission: true, domains: ["local.test"], users: [{ address: "alice@local.test" }], dnsServers: [knot.address], config: { queue: { holdOutbound: false } } });
  t.after(() => data.remove());
  const submissionPort = data.submissionPort!;

  const config = await loadConfig(data.dir);
  const logFile = path.resolve(config.dataDir, config.log.file);
  const clock = new OffsetClock();
  const logger = createLogger({ level: "info", destination: new Writable({ write: (_c, _e, cb) => cb() }), bufferBytes: 0, file: { path: logFile, maxBytes: 64 << 20, keepFiles: 3, keepDays: 30 } });
  const services = await openServices(config, { logger, clock });
  const server = await startServer(services, { starters: protocolStarters() });
  let stopped = false;
  t.after(async () => {
    if (!stopped) await server.stop();
  });
  const mxPort = server.listeners.find((l) => l.role === "mx")!.port;
  const queueEmpty = () => waitUntil(async () => (await services.storage.store.queue.list()).length === 0, 20_000);

  // A. Inbound, delivered into alice's INBOX.
  const mx = nodemailer.createTransport({ host: "127.0.0.1", port: mxPort, secure: false, ignoreTLS: true, name: "client.elsewhere.test" });
  await mx.sendMail({ envelope: { from: "carol@elsewhere.test", to: ["alice@local.test"] }, raw: "From: carol@elsewhere.test\r\nTo: alice@local.test\r\nSubject: in\r\nMessage-ID: <in1@elsewhere.test>\r\n\r\nhi\r\n" });
  // B. Refused at RCPT: no such user.
  await assert.rejects(mx.sendMail({ envelope: { from: "mallory@elsewhere.test", to: ["nobody@local.test"] }, raw: "Subject: x\r\n\r\nx\r\n" }), /550/);
  mx.close();

  // C. Outbound: the first DATA gets 451, the retry (an hour later by the clock) 250.
  const sub = nodemailer.createTransport({ host: "127.0.0.1", port: submissionPort, secure: false, requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user: "alice@local.test", pass: TEST_PASSWORD } });
  await sub.sendMail({ envelope: { from: "alice@local.test", to: ["later@remote.test"] }, raw: "From: alice@local.test\r\nTo: later@remote.test\r\nSubject: out\r\nMessage-ID: <out1@local.test>\r\n\r\nhello\r\n" });
  assert.ok(await waitUntil(async () => (await services.storage.store.queue.list()).some((q) => q.recipients.some((r) => r.attempts > 0)), 20_000), "first attempt deferred");
  clock.offset = 3_600_000;
  assert.ok(await queueEmpty(), "delivered on retry");
  assert.equal((await peer.received()).filter((m) => m.rcpt_tos.includes("later@remote.test")).length, 1);
  // D. Bounced: 550 5.1.1 at RCPT; a DSN goes back to alice.
  await sub.sendMail({ envelope: { from: "alice@local.test", to: ["gone@remote.test"] }, raw: "From: alice@local.test\r\nTo: gone@remote.test\r\nSubject: bounce\r\nMessage-ID: <out2@local.test>\r\n\r\nhello\r\n" });
  assert.ok(await queueEmpty(), "bounced");
  sub.close();
  await server.stop();
  stopped = true;
  assert.equal((await stat(logFile)).mode & 0o777, 0o600, "the log file is the owner's only");

  const names = (ev: Array<{ event: string }>) => ev.map((e) => e.event);
  const inOrder = (ev: Array<{ event: string }>, want: string[]) => {
    let i = 0;
    for (const e of ev) if (e.event === want[i]) i++;
    assert.equal(i, want.length, `events in order: want ${want.join(" → ")}, got ${names(ev).join(" → ")}`);
  };

  const a = await events(data.dir, "<in1@elsewhere.test>");
  inOrder(a, ["connect", "email authentication", "delivered", "disconnect"]);
  const delivered = a.find((e) => e.event === "delivered")!;
  assert.match(delivered.detail, /helo=client\.elsewhere\.test/);
  assert.match(delivered.detail, /from=carol@elsewhere\.test rcpts=alice@local\.test/);
  assert.match(delivered.detail, /stored=user=alice@local\.test mailbox=INBOX uid=1/);
  assert.ok(!names(a).includes("command refused"), "B's session is not part of A's trace");

  const b = await events(data.dir, "nobody@local.test");
  const refused = b.find((e) => e.event === "command refused");
  assert.ok(refused, names(b).join(", "));
  assert.match(refused.detail, /verb=RCPT arg=TO:<nobody@local\.test> reply=550 enhanced=5\.1\.1/);
  inOrder(b, ["connect", "command refused", "disconnect"]);

  const c = await events(data.dir, "<out1@local.test>");
  inOrder(c, ["authenticated", "submitted", "deferred", "delivered"]);
  assert.match(c.find((e) => e.event === "deferred")!.detail, /451/);
  assert.match(c.find((e) => e.event === "deferred")!.where, /^queue #\d+$/);
  assert.match(c.find((e) => e.event === "delivered" && e.where.startsWith("queue"))!.detail, /rcpt=later@remote\.test route=direct host=/);

  const d = await events(data.dir, "<out2@local.test>");
  inOrder(d, ["submitted", "bounced", "DSN sent"]);
  assert.match(d.find((e) => e.event === "bounced")!.detail, /550 5\.1\.1/);
  // The same story by queue id.
  const qid = d.find((e) => e.event === "bounced")!.where.slice("queue #".length);
  inOrder(await events(data.dir, qid), ["submitted", "bounced", "DSN sent"]);

  // The table a person reads.
  const text = await trace(data.dir, "<out1@local.test>");
  assert.match(text, /^Trace of <out1@local\.test> \(message-id\)/);
  assert.match(text, /TIME\s+WHERE\s+EVENT\s+DETAIL/);
  assert.match(text, /queue #\d+\s+deferred/);
  const none = await runFreeholdCli(["trace", "<nothing@here>", "--data", data.dir]);
  assert.equal(none.code, 0);
  assert.match(none.stdout, /Nothing found for <nothing@here>/);
  const bad = await runFreeholdCli(["trace", "not a thing", "--data", data.dir]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /not a Message-ID/);
});
