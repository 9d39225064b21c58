// Outbound recipient splitting (issue 18): our client (nodemailer through src/delivery) meets a
// receiver that takes 100 recipients per transaction and answers 452 4.5.3 after that (RFC 5321
// §4.5.3.1.10); the rest go at once in new transactions on the same connection, and nothing is
// deferred or bounced. Against the scripted aiosmtpd peer and against Debian's Postfix with
// smtpd_recipient_limit = 100.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import { queueFixture, message, remoteZone, SENDER } from "../queue/fixture.ts";
import { startScriptedPeer } from "./peers.ts";
import { postfixUnavailable, startPostfix } from "../support/postfix.ts";
import { startSmtpSink } from "../support/smtp-sink.ts";
import { makePeerDir } from "../support/peer-util.ts";

const N = 250;
const rcpts = () => Array.from({ length: N }, (_, i) => ({ recipient: `r${i}@remote.test` }));

test("a receiver that stops at 100 recipients: 250 go in transactions of 100, 100 and 50", async (t) => {
  const peer = await startScriptedPeer({ host: "127.0.0.65", maxRcptsPerTx: 100 });
  t.after(() => peer.stop());
  const f = await queueFixture({ zones: remoteZone("127.0.0.65"), transport: { mxPort: peer.port } });
  t.after(() => f.close());
  const id = await f.enqueue({ mailFrom: SENDER, recipients: rcpts(), body: message("list") });
  await f.runner.runOnce();
  assert.equal(await f.storage.store.queue.get(id), null, "every recipient delivered in this run");
  const got = await peer.received();
  assert.deepEqual(got.map((m) => m.rcpt_tos.length), [100, 100, 50]);
  assert.deepEqual(got.flatMap((m) => m.rcpt_tos), rcpts().map((r) => r.recipient), "each recipient once, in order");
  assert.equal((await f.inbox(SENDER)).length, 0, "no DSN: nothing failed");
});

test("Postfix with smtpd_recipient_limit = 100 as the MX: every one of 250 recipients delivered", { skip: postfixUnavailable() }, async (t) => {
  const dumpDir = await makePeerDir("rcpt-split-dump");
  t.after(() => fs.rm(dumpDir, { recursive: true, force: true }));
  const sink = await startSmtpSink({ lmtp: true, dumpDir });
  t.after(() => sink.stop());
  const mx = await startPostfix({
    host: "127.0.0.66",
    port: 25,
    hostname: "mx.remote.test",
    virtualDomains: ["remote.test"],
    lmtp: { host: sink.host, port: sink.port },
    main: { smtpd_recipient_limit: "100" },
  });
  t.after(() => mx.stop());
  const f = await queueFixture({ zones: remoteZone("127.0.0.66") });
  t.after(() => f.close());
  const id = await f.enqueue({ mailFrom: SENDER, recipients: rcpts(), body: message("list to postfix") });
  await f.runner.runOnce();
  const left = await f.storage.store.queue.get(id);
  assert.equal(left, null, left?.recipients.filter((r) => r.lastReply).map((r) => r.lastReply).slice(0, 3).join("; "));
  // Postfix took them in three transactions and hands each on over LMTP.
  // qmgr logs each queue file's nrcpt= line when it picks the file up, which may be after our
  // client has its 250 for the last transaction: poll the log (bounded) rather than read it once.
  const nrcpt = async () => (await mx.log()).match(/nrcpt=\d+/g) ?? [];
  const logDeadline = Date.now() + 30_000;
  let seen = await nrcpt();
  while (seen.length < 3 && Date.now() < logDeadline) {
    await new Promise((r) => setTimeout(r, 100));
    seen = await nrcpt();
  }
  assert.deepEqual(seen, ["nrcpt=100", "nrcpt=100", "nrcpt=50"], "Postfix enforced its limit: three queue files");
  // Postfix hands them on over LMTP in its own batches (lmtp_destination_recipient_limit):
  // wait until every recipient has arrived, however they were grouped.
  const missing = async () => {
    const dumps = (await Promise.all((await sink.dumps()).map((d) => fs.readFile(d, "latin1")))).join("\n");
    return rcpts().filter((r) => !dumps.includes(`<${r.recipient}>`)).map((r) => r.recipient);
  };
  const deadline = Date.now() + 60_000;
  let left2 = await missing();
  while (left2.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    left2 = await missing();
  }
  assert.deepEqual(left2, [], "every recipient reached the final hop");
});
