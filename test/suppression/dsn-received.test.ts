// DSNs received (issue 19 §2): a remote MX (scripted aiosmtpd on 127.0.26.5:25, found through
// knot) accepts two messages alice submitted to gone@remote.test, then, as a relay does when the
// next hop refuses, returns a DSN (RFC 3464, 5.1.1) for each to alice through our MX, sent with
// swaks from the null sender. Both count as hard bounces, and the third submission to that
// address is refused at RCPT. A forged DSN (a Message-ID we never sent, or a recipient the
// message did not go to) changes nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import nodemailer from "nodemailer";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createDataDir, TEST_PASSWORD } from "../support/freehold.ts";
import { startKnot } from "../support/knot.ts";
import { startScriptedPeer } from "../delivery/peers.ts";
import { remoteZone } from "../queue/fixture.ts";
import { run, waitUntil } from "../support/peer-util.ts";
import { loadConfig } from "../../src/config/load.ts";
import { openServices } from "../../src/server/services.ts";
import { startServer } from "../../src/server/run.ts";
import { protocolStarters } from "../../src/server/starters.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { postfixStyleDsn } from "./dsn-samples.ts";

const PEER = "127.0.26.5";
const GONE = "gone@remote.test";
const OTHER = "other@remote.test";

test("DSNs received for messages we sent count as hard bounces and suppress the recipient; forged ones are ignored", { skip: process.getuid?.() !== 0 ? "port 25 needs root" : undefined }, async (t) => {
  const peer = await startScriptedPeer({ host: PEER, port: 25, rcptReplies: {} });
  t.after(() => peer.stop());
  const knot = await startKnot(remoteZone(PEER));
  t.after(() => knot.stop());
  const data = await createDataDir({
    submission: true,
    domains: ["local.test"],
    users: [{ address: "alice@local.test" }],
    dnsServers: [knot.address],
    config: { queue: { holdOutbound: false } },
  });
  t.after(() => data.remove());
  const services = await openServices(await loadConfig(data.dir), { logger: silentLogger() });
  const server = await startServer(services, { starters: protocolStarters() });
  t.after(() => server.stop());
  const mxPort = server.listeners.find((l) => l.role === "mx")!.port;
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), "fh-dsn-"));
  t.after(() => fs.rm(tmp, { recursive: true, force: true }));

  const send = async (to: string[], id: string) => {
    const tr = nodemailer.createTransport({ host: "127.0.0.1", port: data.submissionPort!, secure: false, requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user: "alice@local.test", pass: TEST_PASSWORD } });
    try {
      return await tr.sendMail({ envelope: { from: "alice@local.test", to }, raw: `From: alice@local.test\r\nTo: ${to.join(", ")}\r\nSubject: hi\r\nMessage-ID: ${id}\r\n\r\nhello\r\n` });
    } finally {
      tr.close();
    }
  };
  const queueEmpty = () => waitUntil(async () => (await services.storage.store.queue.list()).length === 0, 20_000);
  // A real SMTP client delivers the DSN, from the null sender as RFC 3461 §6.2 / RFC 5321 §4.5.5 require.
  let n = 0;
  const dsn = async (failed: string, messageId: string) => {
    const file = path.join(tmp, `dsn${++n}.eml`);
    await fs.writeFile(file, postfixStyleDsn({ to: "alice@local.test", failed, messageId }));
    const r = await run("swaks", ["--silent", "2", "--timeout", "20", "--server", "127.0.0.1", "--port", String(mxPort), "--helo", "relay.remote.test", "--from", "<>", "--to", "alice@local.test", "--data", `@${file}`], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, `swaks: ${r.stdout}${r.stderr}`);
  };
  const entry = async () => (await services.suppression.list("local.test")).find((e) => e.address === GONE);
  const stamp = Date.now();
  const ids = [`<a.${stamp}@local.test>`, `<b.${stamp}@local.test>`];

  for (const id of ids) {
    const r = await send([GONE, OTHER], id);
    assert.deepEqual(r.accepted, [GONE, OTHER]);
    assert.ok(await queueEmpty(), "handed to the remote MX");
  }
  assert.equal((await peer.received()).length, 2);

  // Forged: a Message-ID we never sent, then a real Message-ID for a recipient it never went to.
  await dsn(GONE, `<forged.${stamp}@local.test>`);
  await dsn("someone@remote.test", ids[0]);
  // Genuine, for the first message: counted once.
  await dsn(GONE, ids[0]);
  assert.ok(await waitUntil(async () => (await entry())?.bounces === 1, 15_000), "the genuine DSN counted");
  assert.equal((await services.suppression.list("local.test")).length, 1, "the forged DSNs recorded nothing");
  assert.equal((await entry())!.suppressedAt, null, "one bounce: still counting");
  assert.match((await entry())!.reason, /^5\.1\.1 \(DSN\) 550 5\.1\.1/);

  await dsn(GONE, ids[1]);
  assert.ok(await waitUntil(async () => (await entry())?.suppressedAt != null, 15_000), "the second DSN suppressed the recipient");
  const third = await send([GONE, OTHER], `<c.${stamp}@local.test>`);
  assert.deepEqual(third.accepted, [OTHER]);
  assert.match((third.rejectedErrors?.[0] as { response?: string }).response ?? "", /^550 5\.7\.1 <gone@remote\.test> is suppressed for local\.test since .* after 2 hard bounces \(last: 5\.1\.1 \(DSN\)/);
  assert.ok(await queueEmpty());

  // The DSNs stay in alice's INBOX for her to read.
  const alice = (await services.storage.store.accounts.getUserByAddress("alice@local.test"))!;
  const inbox = (await services.storage.store.mail.getMailbox(alice.id, "INBOX"))!;
  assert.equal((await services.storage.store.mail.listMessages(inbox.id)).length, 4);
});
