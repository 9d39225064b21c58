// Direct delivery to the recipient domain's MX: Debian's Postfix on 127.0.0.61:25 (STARTTLS,
// DSN) for remote.test served by knot, and a scripted aiosmtpd for the edge cases.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import { queueFixture, message, remoteZone, SENDER } from "../queue/fixture.ts";
import { makeTestCa, startScriptedPeer } from "./peers.ts";
import { postfixUnavailable, startPostfix } from "../support/postfix.ts";
import { startSmtpSink } from "../support/smtp-sink.ts";
import { makePeerDir } from "../support/peer-util.ts";
import { deriveSrsKey, srsReverse } from "../../src/delivery/srs.ts";

test("to Postfix as the MX on port 25: STARTTLS used, every recipient delivered, no 'relayed' DSN (Postfix takes DSN)", { skip: postfixUnavailable() }, async (t) => {
  const ca = await makeTestCa(["mx.remote.test"]);
  t.after(() => fs.rm(ca.dir, { recursive: true, force: true }));
  const dumpDir = await makePeerDir("direct-dump");
  t.after(() => fs.rm(dumpDir, { recursive: true, force: true }));
  const sink = await startSmtpSink({ lmtp: true, dumpDir });
  t.after(() => sink.stop());
  const mx = await startPostfix({
    host: "127.0.0.61",
    port: 25,
    hostname: "mx.remote.test",
    virtualDomains: ["remote.test"],
    lmtp: { host: sink.host, port: sink.port },
    tls: { certFile: ca.certFile, keyFile: ca.keyFile },
  });
  t.after(() => mx.stop());
  const f = await queueFixture({ zones: remoteZone("127.0.0.61") });
  t.after(() => f.close());
  const id = await f.enqueue({
    mailFrom: SENDER,
    recipients: [{ recipient: "bob@remote.test", notify: ["SUCCESS", "FAILURE"] }, { recipient: "carol@remote.test" }],
    body: message("to postfix"),
  });
  await f.runner.runOnce();
  assert.equal(await f.storage.store.queue.get(id), null, (await f.storage.store.queue.get(id))?.recipients.map((r) => r.lastReply).join("; "));
  assert.ok(await sink.waitForMessages(1, 20_000));
  // Postfix may hand the two recipients to the LMTP sink in separate transactions: read the
  // dumps until both are there (or the deadline passes and the assertions below say which not).
  let all = "";
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    const dumps = await Promise.all((await sink.dumps()).map((d) => fs.readFile(d, "latin1")));
    all = dumps.join("\n");
    if (/bob@remote\.test/.test(all) && /carol@remote\.test/.test(all)) break;
  }
  assert.match(all, /bob@remote\.test/);
  assert.match(all, /carol@remote\.test/);
  assert.match(all, /^Subject: to postfix/m);
  assert.match(all, /by mx\.remote\.test \(Postfix\) with ESMTPS/, "the hop to Postfix was encrypted");
  assert.equal((await f.inbox(SENDER)).length, 0, "Postfix advertises DSN: it reports success itself");
});

test("452 4.5.3 for some recipients: the rest go at once in a new transaction", async (t) => {
  const peer = await startScriptedPeer({ host: "127.0.0.62", maxRcptsPerTx: 2 });
  t.after(() => peer.stop());
  const f = await queueFixture({ zones: remoteZone("127.0.0.62"), transport: { mxPort: peer.port } });
  t.after(() => f.close());
  const rcpts = ["a", "b", "c", "d", "e"].map((l) => ({ recipient: `${l}@remote.test` }));
  const id = await f.enqueue({ mailFrom: SENDER, recipients: rcpts, body: message("many") });
  await f.runner.runOnce();
  assert.equal(await f.storage.store.queue.get(id), null);
  const got = await peer.received();
  assert.deepEqual(got.map((m) => m.rcpt_tos), [["a@remote.test", "b@remote.test"], ["c@remote.test", "d@remote.test"], ["e@remote.test"]]);
});

test("a UTF-8 address to an MX without SMTPUTF8 bounces with 5.6.7 (RFC 6531)", async (t) => {
  const peer = await startScriptedPeer({ host: "127.0.0.63", smtputf8: false });
  t.after(() => peer.stop());
  const f = await queueFixture({ zones: remoteZone("127.0.0.63"), transport: { mxPort: peer.port } });
  t.after(() => f.close());
  const id = await f.enqueue({ mailFrom: SENDER, recipients: [{ recipient: "jürgen@remote.test" }], body: message("utf8") });
  await f.runner.runOnce();
  assert.equal(await f.storage.store.queue.get(id), null);
  assert.equal((await peer.received()).length, 0);
  const inbox = await f.inbox(SENDER);
  assert.equal(inbox.length, 1);
  assert.match(inbox[0], /^Status: 5\.6\.7$/m);
});

test("forwarded mail from a non-local sender leaves with an SRS0 envelope sender that reverses to the original", async (t) => {
  const peer = await startScriptedPeer({ host: "127.0.0.64" });
  t.after(() => peer.stop());
  const srs = { key: deriveSrsKey("test secret"), forwarderDomain: "mail.local.test", isLocalDomain: (d: string) => d === "local.test" };
  const f = await queueFixture({ zones: remoteZone("127.0.0.64"), transport: { mxPort: peer.port }, runner: { srs } });
  t.after(() => f.close());
  await f.enqueue({ mailFrom: "someone@elsewhere.test", recipients: [{ recipient: "bob@remote.test" }], body: message("fwd", "someone@elsewhere.test"), origin: "forward" });
  await f.enqueue({ mailFrom: SENDER, recipients: [{ recipient: "bob@remote.test" }], body: message("fwd local"), origin: "forward" });
  await f.runner.runOnce();
  const froms = (await peer.received()).map((m) => m.mail_from).sort((a, b) => (a === SENDER ? -1 : b === SENDER ? 1 : 0));
  assert.equal(froms.length, 2);
  assert.equal(froms[0], SENDER, "local senders keep their address");
  assert.match(froms[1], /^SRS0=[^=]+=[^=]+=elsewhere\.test=someone@mail\.local\.test$/);
  const back = srsReverse(froms[1], srs, f.clock.now());
  assert.deepEqual(back.ok ? back.address : back, "someone@elsewhere.test");
});
