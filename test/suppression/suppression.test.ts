// Suppression (issue 19 §2): a remote MX (scripted aiosmtpd on 127.0.30.5:25, found through knot)
// answers 550 5.1.1 for one address. Two messages submitted to it bounce; the third submission
// to that address is refused at RCPT with the suppression reply naming the reason and the date,
// while another recipient still goes; a different sending domain is not affected;
// `freehold suppress list` shows the entry and `suppress remove` lifts it.
import { test } from "node:test";
import assert from "node:assert/strict";
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
import { silentLogger } from "../../src/log/logger.ts";
import { providerStyleReport } from "./arf-samples.ts";

const PEER = "127.0.30.5";
const GONE = "gone@remote.test";
const FINE = "fine@remote.test";

test("two hard bounces suppress a recipient for the sending domain; the third submission is refused at RCPT; suppress remove lifts it", { skip: process.getuid?.() !== 0 ? "port 25 needs root" : undefined }, async (t) => {
  const peer = await startScriptedPeer({ host: PEER, port: 25, rcptReplies: { [GONE]: "550 5.1.1 <gone@remote.test>: Recipient address rejected: User unknown" } });
  t.after(() => peer.stop());
  const knot = await startKnot(remoteZone(PEER));
  t.after(() => knot.stop());
  const data = await createDataDir({
    submission: true,
    domains: ["local.test", "other.test"],
    users: [{ address: "alice@local.test" }, { address: "olga@other.test" }],
    dnsServers: [knot.address],
    config: { queue: { holdOutbound: false } },
  });
  t.after(() => data.remove());
  const submissionPort = data.submissionPort!;
  const services = await openServices(await loadConfig(data.dir), { logger: silentLogger() });
  const server = await startServer(services, { starters: protocolStarters() });
  let stopped = false;
  const stop = async () => {
    if (!stopped) await server.stop();
    stopped = true;
  };
  t.after(stop);

  const send = async (from: string, to: string[], n: number) => {
    const tr = nodemailer.createTransport({ host: "127.0.0.1", port: submissionPort, secure: false, requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user: from, pass: TEST_PASSWORD } });
    try {
      return await tr.sendMail({ envelope: { from, to }, raw: `From: ${from}\r\nTo: ${to.join(", ")}\r\nSubject: n${n}\r\nMessage-ID: <n${n}.${Date.now()}@local.test>\r\n\r\nhello ${n}\r\n` });
    } finally {
      tr.close();
    }
  };
  const queueEmpty = () => waitUntil(async () => (await services.storage.store.queue.list()).length === 0, 20_000);

  for (const n of [1, 2]) {
    await send("alice@local.test", [GONE], n);
    assert.ok(await queueEmpty(), `message ${n} bounced and left the queue`);
  }
  // The third: GONE is refused at RCPT, FINE still accepted and delivered.
  const third = await send("alice@local.test", [GONE, FINE], 3);
  assert.deepEqual(third.accepted, [FINE]);
  assert.equal(third.rejected.length, 1);
  const refusal = (third.rejectedErrors?.[0] as { response?: string } | undefined)?.response ?? "";
  const today = new Date().toISOString().slice(0, 10);
  assert.match(refusal, /^550 5\.7\.1 <gone@remote\.test> is suppressed for local\.test since \d{4}-\d\d-\d\d after 2 hard bounces \(last: 5\.1\.1 550 5\.1\.1/);
  assert.ok(refusal.includes(today), "the reply names the date");
  assert.ok(await queueEmpty());
  assert.ok((await peer.received()).some((m) => m.rcpt_tos.includes(FINE)), "the other recipient was delivered");
  // Suppression is per sending domain: other.test never bounced there.
  const other = await send("olga@other.test", [GONE], 4);
  assert.deepEqual(other.accepted, [GONE]);
  assert.ok(await queueEmpty());
  await stop();

  const list = await runFreeholdCli(["suppress", "list", "--data", data.dir]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /local\.test\s+gone@remote\.test\s+suppressed\s+2\s/);
  assert.match(list.stdout, /other\.test\s+gone@remote\.test\s+counting \(1\)/);
  const rm = await runFreeholdCli(["suppress", "remove", "local.test", GONE, "--data", data.dir]);
  assert.equal(rm.code, 0, rm.stderr);
  const again = await runFreeholdCli(["suppress", "remove", "local.test", GONE, "--data", data.dir]);
  assert.notEqual(again.code, 0, "a second remove says there is none");
  assert.match(again.stderr, /not on the suppression list/);

  // Lifted: a new server on the same folder takes the submission again.
  const services2 = await openServices(await loadConfig(data.dir), { logger: silentLogger() });
  const server2 = await startServer(services2, { starters: protocolStarters() });
  t.after(() => server2.stop());
  const fifth = await send("alice@local.test", [GONE], 5);
  assert.deepEqual(fifth.accepted, [GONE]);
});

test("a feedback-loop complaint (ARF) delivered to suppression.complaintsAddress suppresses the complainer for our domain; a report about another domain is ignored; complaint stats count it", async (t) => {
  const data = await createDataDir({
    submission: true,
    domains: ["local.test"],
    users: [{ address: "alice@local.test" }, { address: "fbl@local.test" }],
    config: { suppression: { complaintsAddress: "fbl@local.test" } },
  });
  t.after(() => data.remove());
  const submissionPort = data.submissionPort!;
  const services = await openServices(await loadConfig(data.dir), { logger: silentLogger() });
  const server = await startServer(services, { starters: protocolStarters() });
  t.after(() => server.stop());
  const mxPort = server.listeners.find((l) => l.role === "mx")!.port;
  const sub = () => nodemailer.createTransport({ host: "127.0.0.1", port: submissionPort, secure: false, requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user: "alice@local.test", pass: TEST_PASSWORD } });

  // Alice writes to a customer (counted as sent), who presses "this is spam".
  const s1 = sub();
  await s1.sendMail({ envelope: { from: "alice@local.test", to: ["cust@customer.test"] }, raw: "From: alice@local.test\r\nTo: cust@customer.test\r\nSubject: offer\r\n\r\nhi\r\n" });
  s1.close();
  const report = providerStyleReport("cust@customer.test", "alice@local.test").toString("latin1").replace(/Original-Rcpt-To:[^\r\n]*\r\n/, "");
  const other = providerStyleReport("x@customer.test", "someone@not-ours.test").toString("latin1");
  const mx = nodemailer.createTransport({ host: "127.0.0.1", port: mxPort, secure: false, ignoreTLS: true, name: "fbl.provider.test" });
  await mx.sendMail({ envelope: { from: "staff@provider.test", to: ["fbl@local.test"] }, raw: report });
  await mx.sendMail({ envelope: { from: "staff@provider.test", to: ["fbl@local.test"] }, raw: other });
  mx.close();
  assert.ok(await waitUntil(async () => (await services.suppression.check("alice@local.test", "cust@customer.test")) !== null, 15_000), "complainer suppressed");
  assert.equal(await services.suppression.check("someone@not-ours.test", "x@customer.test"), null, "a report about a domain we do not serve changes nothing");
  const stats = await services.suppression.complaintStats(30);
  assert.deepEqual(stats.map((s) => [s.senderDomain, s.complaints, s.sent]), [["local.test", 1, 1]]);

  // The next message to the complainer is refused at RCPT, naming the complaint.
  const s2 = sub();
  const r = await s2.sendMail({ envelope: { from: "alice@local.test", to: ["cust@customer.test", "fbl@local.test"] }, raw: "From: alice@local.test\r\nSubject: again\r\n\r\nhi\r\n" });
  s2.close();
  assert.deepEqual(r.accepted, ["fbl@local.test"]);
  assert.match((r.rejectedErrors?.[0] as { response?: string }).response ?? "", /^550 5\.7\.1 <cust@customer\.test> is suppressed for local\.test since .* after a spam complaint \(abuse\)/);
  // The reports stay in the mailbox for a person to read.
  const fbl = (await services.storage.store.accounts.getUserByAddress("fbl@local.test"))!;
  const inbox = (await services.storage.store.mail.getMailbox(fbl.id, "INBOX"))!;
  assert.ok((await services.storage.store.mail.listMessages(inbox.id)).length >= 2);
});
