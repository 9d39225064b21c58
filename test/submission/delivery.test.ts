// What happens to a submitted message: RFC 6409 §8 fix-ups, DKIM signatures with the domain's
// active RSA and Ed25519 keys (verified independently by mailauth and by dkimpy), local
// recipients in their INBOX, remote recipients durable in the queue with their DSN parameters,
// one blob for both.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { dkimVerify } from "mailauth/lib/dkim/verify.js";
import { authed, inbox, startHarness, transaction } from "./harness.ts";
import type { Harness } from "./harness.ts";
import { dkimRecordName, dkimTxtRecord } from "../../src/emailauth/dkim-keys.ts";
import { dkimpyVerifyAll } from "../support/dkimpy.ts";

const PW = "deliver-Passw0rd-1";
let h: Harness;

before(async () => {
  h = await startHarness({
    holdOutbound: true,
    domains: ["freehold.test"],
    users: [
      { address: "alice@freehold.test", password: PW },
      { address: "bob@freehold.test", password: PW },
    ],
    aliases: [{ address: "fwd@freehold.test", targets: ["bob@freehold.test", "outside@forward.example"] }],
  });
});
after(() => h.close());

const MESSAGE = [
  "From: Alice <alice@freehold.test>",
  "To: Bob <bob@freehold.test>, Remote <remote@example.net>",
  "Bcc: secret@example.net",
  "Subject: signed and sent",
  "MIME-Version: 1.0",
  "Content-Type: text/plain; charset=utf-8",
  "",
  "Hello Bob,  ",
  "a line \t with spaces.",
  "",
].join("\r\n");


function zoneTxt(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of h.services.dkim.list()) out[dkimRecordName(k)] = dkimTxtRecord(k);
  return out;
}

test("a new domain has an RSA and an Ed25519 key in state new, and signs nothing until they are live", async () => {
  const keys = h.services.dkim.list("freehold.test");
  assert.deepEqual(keys.map((k) => [k.type, k.state]).sort(), [["ed25519", "new"], ["rsa", "new"]]);
  const c = await authed(h, "alice@freehold.test", PW);
  const r = await transaction(c, "<alice@freehold.test>", ["<bob@freehold.test>"], MESSAGE.replace("signed and sent", "unsigned"));
  c.close();
  assert.equal(r.end?.code, 250);
  const m = (await inbox(h, "bob@freehold.test")).at(-1)!;
  assert.match(m.blob.toString(), /Subject: unsigned/);
  assert.doesNotMatch(m.blob.toString(), /DKIM-Signature/i);
  // A check without the records in DNS changes nothing.
  const steps = await h.services.dkim.check("freehold.test", h.services.resolver.txt);
  assert.deepEqual(steps.map((s) => s.outcome), ["not-live", "not-live"]);
});

test("signed with RSA and Ed25519, fixed up, delivered locally and queued for the remote recipient", async () => {
  await h.activateDkim("freehold.test");
  assert.deepEqual(h.services.dkim.list("freehold.test").map((k) => k.state), ["active", "active"]);

  const c = await authed(h, "alice@freehold.test", PW);
  const mail = await c.cmd("MAIL FROM:<alice@freehold.test> BODY=8BITMIME RET=HDRS ENVID=env+2D42");
  assert.equal(mail.code, 250, mail.raw);
  assert.equal((await c.cmd("RCPT TO:<bob@freehold.test>")).code, 250);
  assert.equal((await c.cmd("RCPT TO:<remote@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;remote@example.net")).code, 250);
  assert.equal((await c.cmd("RCPT TO:<secret@example.net> NOTIFY=NEVER")).code, 250);
  assert.equal((await c.cmd("DATA")).code, 354);
  c.write(MESSAGE + ".\r\n");
  const end = await c.reply();
  c.close();
  assert.match(end.raw, /^250 2\.0\.0 Ok: queued as /);

  const m = (await inbox(h, "bob@freehold.test")).at(-1)!;
  const text = m.blob.toString();
  assert.match(text, /Subject: signed and sent/);
  // RFC 6409 §8: Date and Message-ID added, Bcc removed.
  assert.match(text, /\r\nDate: .+\r\n/);
  assert.match(text, /\r\nMessage-ID: <[^@]+@mx\.freehold\.test>\r\n/);
  assert.doesNotMatch(text, /^Bcc:/im);
  assert.doesNotMatch(text, /secret@example\.net/);
  assert.equal((text.match(/^DKIM-Signature:/gm) ?? []).length, 2);
  assert.match(text, /a=rsa-sha256/);
  assert.match(text, /a=ed25519-sha256/);
  assert.match(m.trace, /^Received: from mua\.test .*\r\n\tby mx\.freehold\.test \(Freehold\) with ESMTPSA/m);
  // RFC 5321 §4.4: the local delivery records the reverse-path on top.
  assert.match(m.trace, /^Return-Path: <alice@freehold\.test>\r\n/);

  // mailauth, with our zone as its resolver, on the message as IMAP serves it (trace + blob).
  const res = await dkimVerify(m.full, { resolver: h.services.resolver.resolve as never });
  assert.deepEqual(res.results.map((r) => [r.status.result, r.signingDomain]).sort(), [["pass", "freehold.test"], ["pass", "freehold.test"]]);
  // dkimpy through its Python API with a dnsfunc answering from the same records.
  assert.deepEqual(dkimpyVerifyAll(m.full, zoneTxt()), [true, true]);
  // And a second From added later breaks both (From is oversigned).
  const tampered = Buffer.from(m.full.toString("latin1").replace("From: Alice", "From: Mallory <boss@freehold.test>\r\nFrom: Alice"), "latin1");
  assert.deepEqual(dkimpyVerifyAll(tampered, zoneTxt()), [false, false]);

  // The remote recipients are in the queue, durable before the 250, with their DSN parameters.
  const entries = (await h.services.storage.store.queue.list()).filter((q) => q.origin === "submission");
  assert.equal(entries.length, 1);
  const q = entries[0];
  assert.equal(q.mailFrom, "alice@freehold.test");
  assert.equal(q.ret, "HDRS");
  assert.equal(q.envid, "env-42");
  const byAddr = new Map(q.recipients.map((r) => [r.recipient, r]));
  assert.deepEqual(byAddr.get("remote@example.net")?.notify, ["SUCCESS", "FAILURE"]);
  assert.equal(byAddr.get("remote@example.net")?.orcpt, "rfc822;remote@example.net");
  assert.deepEqual(byAddr.get("secret@example.net")?.notify, ["NEVER"]);
  assert.equal(byAddr.get("bob@freehold.test"), undefined, "local recipients are not queued");
  assert.deepEqual(h.services.queueParams.get(q.id), { body: "8BITMIME", smtputf8: false });
  // One blob for the local copy and the queue entry.
  const u = await h.services.storage.store.accounts.getUserByAddress("bob@freehold.test");
  const mbox = await h.services.storage.store.mail.getMailbox(u!.id, "INBOX");
  const stored = (await h.services.storage.store.mail.listMessages(mbox!.id)).at(-1)!;
  assert.equal(q.blobId, stored.blobId);
});

test("an alias with an external target: local copy stored, external target queued", async () => {
  const c = await authed(h, "alice@freehold.test", PW);
  const r = await transaction(c, "<alice@freehold.test>", ["<fwd@freehold.test>"], MESSAGE.replace("signed and sent", "via alias"));
  c.close();
  assert.equal(r.end?.code, 250);
  assert.match((await inbox(h, "bob@freehold.test")).at(-1)!.blob.toString(), /Subject: via alias/);
  const q = (await h.services.storage.store.queue.list()).at(-1)!;
  assert.deepEqual(q.recipients.map((x) => x.recipient), ["outside@forward.example"]);
});

test("unknown local recipients get 550 5.1.1; SMTPUTF8 is recorded with the queue entry", async () => {
  const c = await authed(h, "alice@freehold.test", PW);
  assert.equal((await c.cmd("MAIL FROM:<alice@freehold.test> SMTPUTF8")).code, 250);
  assert.match((await c.cmd("RCPT TO:<nobody@freehold.test>")).raw, /^550 5\.1\.1/);
  assert.equal((await c.cmd("RCPT TO:<jörg@example.de>")).code, 250);
  assert.equal((await c.cmd("DATA")).code, 354);
  c.write("From: alice@freehold.test\r\nTo: jörg@example.de\r\nSubject: utf8\r\n\r\nhi\r\n.\r\n");
  assert.equal((await c.reply()).code, 250);
  c.close();
  const q = (await h.services.storage.store.queue.list()).at(-1)!;
  assert.deepEqual(q.recipients.map((x) => x.recipient), ["jörg@example.de"]);
  assert.equal(h.services.queueParams.get(q.id)?.smtputf8, true);
});

test("rotation: new keys wait, then replace the active ones, which move to retiring", async () => {
  const before = h.services.dkim.list("freehold.test");
  const made = await h.services.dkim.rotate("freehold.test");
  assert.equal(made.length, 2);
  assert.ok(made.every((k) => k.state === "new" && !before.some((b) => b.selector === k.selector)));
  // Still signing with the old keys until the new records are live.
  assert.deepEqual(h.services.dkim.signingKeys("freehold.test").map((k) => k.selector).sort(), before.map((k) => k.selector).sort());
  await h.activateDkim("freehold.test");
  const after = h.services.dkim.list("freehold.test");
  assert.deepEqual(after.filter((k) => k.state === "active").map((k) => k.selector).sort(), made.map((k) => k.selector).sort());
  assert.deepEqual(after.filter((k) => k.state === "retiring").map((k) => k.selector).sort(), before.map((k) => k.selector).sort());
  // The zone still has the retiring records; a message signed now verifies with the new keys.
  const c = await authed(h, "alice@freehold.test", PW);
  assert.equal((await transaction(c, "<alice@freehold.test>", ["<bob@freehold.test>"], MESSAGE.replace("signed and sent", "rotated"))).end?.code, 250);
  c.close();
  const m = (await inbox(h, "bob@freehold.test")).at(-1)!;
  const res = await dkimVerify(m.full, { resolver: h.services.resolver.resolve as never });
  assert.deepEqual(res.results.map((r) => [r.status.result, r.selector]).sort(), made.map((k) => ["pass", k.selector]).sort());
});
