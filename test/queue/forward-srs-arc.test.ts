// Forwarding end to end through the real server (in-process: MX listener, queue runner, DKIM
// keys), with two remote MX hosts on port 25 (scripted aiosmtpd on 127.0.0.92 for remote.test,
// 127.0.0.93 for elsewhere.test) found through the in-memory zone:
//   1. someone@elsewhere.test → fwd@local.test (alias → carol@remote.test): the copy arrives at
//      remote.test with an SRS0 envelope sender and an ARC set for local.test that validates
//      (cv=pass for a first hop) with mailauth and with dkimpy's arc_verify.
//   2. remote.test bounces it to the SRS0 address from <>: our MX takes it and the bounce
//      arrives at elsewhere.test for someone@elsewhere.test.
//   3. SRS addresses we did not make, or past 21 days, get 550 5.1.1 at RCPT.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { authenticate } from "mailauth";
import { startHarness } from "../submission/harness.ts";
import { RawClient } from "../smtp/helpers.ts";
import { startScriptedPeer } from "../delivery/peers.ts";
import { waitUntil } from "../support/peer-util.ts";
import { dkimRecordName, dkimTxtRecord } from "../../src/emailauth/dkim-keys.ts";
import { loadSrsKey } from "../../src/queue/srs-key.ts";
import { srsForward } from "../../src/delivery/srs.ts";
import { DNSFUNC_PRELUDE } from "../support/dkimpy.ts";

const ARC_VERIFY = DNSFUNC_PRELUDE + String.raw`
cv, results, comment = dkim.arc_verify(sys.stdin.buffer.read(), dnsfunc=dnsfunc)
print(json.dumps({"cv": cv.decode() if isinstance(cv, bytes) else cv, "comment": comment}))
`;

async function smtp(port: number, from: string, rcpts: string[], message?: string): Promise<{ rcpts: string[]; end?: string }> {
  const c = await RawClient.connect(port);
  try {
    await c.cmd("EHLO mta.elsewhere.test");
    assert.equal((await c.cmd(`MAIL FROM:<${from}>`)).code, 250);
    const replies: string[] = [];
    for (const r of rcpts) replies.push((await c.cmd(`RCPT TO:<${r}>`)).raw);
    if (!message) return { rcpts: replies };
    assert.equal((await c.cmd("DATA")).code, 354);
    c.write(message + ".\r\n");
    return { rcpts: replies, end: (await c.reply()).raw };
  } finally {
    c.close();
  }
}

test("forward with SRS and an ARC seal; the bounce to the SRS address reaches the original sender; bad SRS refused", { skip: process.getuid?.() !== 0 ? "port 25 needs root" : undefined }, async (t) => {
  const remote = await startScriptedPeer({ host: "127.0.0.92", port: 25, hostname: "mx.remote.test" });
  t.after(() => remote.stop());
  const origin = await startScriptedPeer({ host: "127.0.0.93", port: 25, hostname: "mx.elsewhere.test" });
  t.after(() => origin.stop());
  const h = await startHarness({ domains: ["local.test"], aliases: [{ address: "fwd@local.test", targets: ["carol@remote.test"] }] });
  t.after(() => h.close());
  h.zone["remote.test"] = { MX: [{ exchange: "mx.remote.test", priority: 10 }] };
  h.zone["mx.remote.test"] = { A: ["127.0.0.92"] };
  h.zone["elsewhere.test"] = { MX: [{ exchange: "mx.elsewhere.test", priority: 10 }] };
  h.zone["mx.elsewhere.test"] = { A: ["127.0.0.93"] };
  await h.activateDkim("local.test");

  // 1. Forward.
  const sent = await smtp(h.mxPort, "someone@elsewhere.test", ["fwd@local.test"], [
    "From: Someone <someone@elsewhere.test>",
    "To: fwd@local.test",
    "Subject: please forward",
    "Message-ID: <fwd-arc-1@elsewhere.test>",
    "",
    "Forward me, keep me verifiable.",
    "",
  ].join("\r\n"));
  assert.match(sent.end ?? "", /^250 /);
  assert.ok(await waitUntil(async () => (await remote.received()).length > 0, 15_000), "forwarded within 15 s");
  const [fwd] = await remote.received();
  assert.deepEqual(fwd.rcpt_tos, ["carol@remote.test"]);
  assert.match(fwd.mail_from, /^SRS0=[^=]+=[A-Z2-7]{2}=elsewhere\.test=someone@mx\.freehold\.test$/i);
  const data = fwd.data;
  assert.match(data, /^ARC-Seal: i=1; a=rsa-sha256; .*\r\n/m);
  assert.match(data, /^ARC-Message-Signature: i=1; /m);
  assert.match(data, /^ARC-Authentication-Results: i=1; mx\.freehold\.test;/m);
  assert.match(data.replace(/\r\n[ \t]+/g, " "), /^ARC-Seal: [^\r\n]*\bcv=none\b[^\r\n]*\bd=local\.test\b/m);
  assert.match(data, /^Delivered-To: fwd@local\.test\r\n/m);

  // The receiver's view: mailauth validates the chain with the key from our zone.
  const raw = Buffer.from(data, "latin1");
  const res = await authenticate(raw, {
    ip: "127.0.0.1",
    helo: "mx.freehold.test",
    sender: fwd.mail_from,
    mta: "mx.remote.test",
    resolver: h.services.resolver.resolve as never,
  });
  assert.ok(res.arc, "an ARC result");
  assert.equal(res.arc.status.result, "pass", JSON.stringify(res.arc.status));
  assert.equal(res.arc.i, 1);
  // And dkimpy, independently.
  const zoneTxt: Record<string, string> = {};
  for (const k of h.services.dkim.list("local.test")) zoneTxt[dkimRecordName(k)] = dkimTxtRecord(k);
  const py = spawnSync("/usr/bin/python3", ["-c", ARC_VERIFY, JSON.stringify(zoneTxt)], { input: raw });
  assert.equal(py.status, 0, py.stderr.toString());
  assert.equal(JSON.parse(py.stdout.toString()).cv, "pass", py.stdout.toString());
  // A changed body breaks the seal (the check can fail).
  const tampered = Buffer.from(data.replace("Forward me", "Wire money"), "latin1");
  const bad = await authenticate(tampered, { ip: "127.0.0.1", helo: "mx.freehold.test", sender: fwd.mail_from, mta: "mx.remote.test", resolver: h.services.resolver.resolve as never });
  assert.ok(bad.arc);
  assert.equal(bad.arc.status.result, "fail");

  // 2. The remote bounces to the SRS address; the bounce goes to the original sender.
  const bounce = await smtp(h.mxPort, "", [fwd.mail_from], [
    "From: MAILER-DAEMON@mx.remote.test",
    "To: " + fwd.mail_from,
    "Subject: Undelivered Mail Returned to Sender",
    "Auto-Submitted: auto-replied",
    "",
    "carol@remote.test: mailbox full",
    "",
  ].join("\r\n"));
  assert.match(bounce.rcpts[0], /^250 /);
  assert.match(bounce.end ?? "", /^250 /);
  assert.ok(await waitUntil(async () => (await origin.received()).length > 0, 15_000), "bounce delivered within 15 s");
  const [back] = await origin.received();
  assert.deepEqual(back.rcpt_tos, ["someone@elsewhere.test"]);
  assert.equal(back.mail_from, "<>", "a bounce stays a bounce (never rewritten)");
  assert.match(back.data, /^Subject: Undelivered Mail Returned to Sender/m);

  // 3. Forged, tampered and expired SRS addresses.
  const key = await loadSrsKey(h.services.storage.store.settings);
  const opts = { key, forwarderDomain: "mx.freehold.test", isLocalDomain: () => false };
  const old = srsForward("someone@elsewhere.test", opts, Date.now() - 30 * 86_400_000);
  const other = srsForward("someone@elsewhere.test", { ...opts, key: Buffer.from("not our key") }, Date.now());
  const tamperedSrs = fwd.mail_from.replace("=elsewhere.test=", "=victim.test=");
  // An SRS1 we made (a forward of another forwarder's SRS0 address) is accepted too.
  const srs1 = srsForward("SRS0=abcdef=AB=origin.test=x@other-forwarder.test", opts, Date.now());
  assert.match(srs1, /^SRS1=.*=other-forwarder\.test==abcdef=AB=origin\.test=x@mx\.freehold\.test$/);
  const refused = await smtp(h.mxPort, "", [old, other, tamperedSrs, "SRS0=abc@mx.freehold.test", srs1]);
  assert.match(refused.rcpts[0], /^550 5\.1\.1 .*expired/);
  assert.match(refused.rcpts[1], /^550 5\.1\.1 .*bad-hash/);
  assert.match(refused.rcpts[2], /^550 5\.1\.1 .*bad-hash/);
  assert.match(refused.rcpts[3], /^550 5\.1\.1 .*malformed/);
  assert.match(refused.rcpts[4], /^250 /);
  assert.ok(await waitUntil(async () => (await h.services.storage.store.queue.list()).length === 0, 5000), "nothing left in the queue");
});
