// The queue inside `serve`: mail for an alias with an external target arrives at Freehold's MX,
// is queued durably, and the runner started by startServer forwards it (with SRS) to the target
// domain's MX on port 25 (a scripted aiosmtpd on 127.0.0.71), found through the test DNS.
import { test } from "node:test";
import assert from "node:assert/strict";
import nodemailer from "nodemailer";
import { createDataDir, startFreeholdInProcess } from "../support/freehold.ts";
import { startKnot } from "../support/knot.ts";
import { startScriptedPeer } from "../delivery/peers.ts";
import { remoteZone } from "./fixture.ts";
import { waitUntil } from "../support/peer-util.ts";

test("serve forwards queued mail to the remote MX with an SRS envelope sender", { skip: process.getuid?.() !== 0 ? "port 25 needs root" : undefined }, async (t) => {
  const peer = await startScriptedPeer({ host: "127.0.0.71", port: 25 });
  t.after(() => peer.stop());
  const knot = await startKnot(remoteZone("127.0.0.71"));
  t.after(() => knot.stop());
  const data = await createDataDir({
    domains: ["local.test"],
    users: [{ address: "bob@local.test" }],
    aliases: [{ address: "fwd@local.test", targets: ["carol@remote.test"] }],
    dnsServers: [knot.address],
    config: { queue: { holdOutbound: false } },
  });
  t.after(() => data.remove());
  const fh = await startFreeholdInProcess(data);
  t.after(() => fh.stop());

  const transport = nodemailer.createTransport({ host: "127.0.0.1", port: fh.mxPort, secure: false, ignoreTLS: true, name: "client.elsewhere.test" });
  await transport.sendMail({
    envelope: { from: "someone@elsewhere.test", to: ["fwd@local.test"] },
    raw: "From: someone@elsewhere.test\r\nTo: fwd@local.test\r\nSubject: forward me\r\nMessage-ID: <fwd1@elsewhere.test>\r\n\r\nhello\r\n",
  });
  transport.close();
  assert.ok(await waitUntil(async () => (await peer.received()).length > 0, 15_000), "forwarded within 15 s");
  const [m] = await peer.received();
  assert.deepEqual(m.rcpt_tos, ["carol@remote.test"]);
  assert.match(m.mail_from, /^SRS0=[^=]+=[^=]+=elsewhere\.test=someone@/);
  assert.match(m.data, /^Subject: forward me/m);
  assert.match(m.data, /^Received: from client\.elsewhere\.test \(\[127\.0\.0\.1\]\)\r\n\tby mx\.freehold\.test/m, "our trace header goes with it");
  assert.ok(await waitUntil(async () => (await fh.services.storage.store.queue.list()).length === 0, 5000), "the entry leaves the queue");
});
