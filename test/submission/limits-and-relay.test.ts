// The hourly send limit (451 4.7.1 past it, room again an hour later on the injected clock) and
// unauthenticated relaying with the classic tricks, on the mx listener and on both submission
// listeners: nothing may leave through us without a login.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../../src/clock.ts";
import { RawClient } from "../smtp/helpers.ts";
import { authed, run, startHarness, transaction } from "./harness.ts";
import type { Harness } from "./harness.ts";

const PW = "limits-Passw0rd-1";
const clock = new ManualClock(Date.UTC(2026, 10, 23, 12));
let h: Harness;

before(async () => {
  h = await startHarness({
    holdOutbound: true,
    domains: ["freehold.test"],
    users: [
      { address: "alice@freehold.test", password: PW },
      { address: "bob@freehold.test", password: PW },
    ],
    sendLimit: { perHour: 3, clock },
  });
});
after(() => h.close());

const MSG = "From: alice@freehold.test\r\nTo: undisclosed-recipients:;\r\nSubject: limit\r\n\r\nhi\r\n";

test("hourly limit: recipients past it get 451 4.7.1, the next MAIL too, and an hour later there is room again", async () => {
  const c = await authed(h, "alice@freehold.test", PW);
  const first = await transaction(c, "<alice@freehold.test>", ["<bob@freehold.test>", "<r1@example.net>"], MSG);
  assert.equal(first.end?.code, 250);
  const second = await transaction(c, "<alice@freehold.test>", ["<r2@example.net>", "<r3@example.net>"], MSG);
  assert.equal(second.rcpts[0].code, 250);
  assert.match(second.rcpts[1].raw, /^451 4\.7\.1 Hourly sending limit reached/);
  assert.equal(second.end?.code, 250, "the accepted recipient is still sent");
  const third = await transaction(c, "<alice@freehold.test>", ["<r4@example.net>"], MSG);
  assert.match(third.mail.raw, /^451 4\.7\.1 /);
  // Another user is not affected.
  const b = await authed(h, "bob@freehold.test", PW);
  assert.equal((await transaction(b, "<bob@freehold.test>", ["<r5@example.net>"], MSG.replace("alice@", "bob@"))).end?.code, 250);
  b.close();
  clock.advance(3_600_001);
  const later = await transaction(c, "<alice@freehold.test>", ["<r4@example.net>"], MSG);
  assert.equal(later.end?.code, 250);
  c.close();
  const queued = (await h.services.storage.store.queue.list()).flatMap((q) => q.recipients.map((r) => r.recipient));
  assert.ok(!queued.includes("r3@example.net"));
  assert.ok(queued.includes("r2@example.net") && queued.includes("r4@example.net"));
});

test("hourly limit from the config: submission.hourlyRecipients sets it for every user", async () => {
  const h2 = await startHarness({ domains: ["freehold.test"], users: [{ address: "alice@freehold.test", password: PW }], submission: { hourlyRecipients: 2 } });
  try {
    const c = await authed(h2, "alice@freehold.test", PW);
    const t = await transaction(c, "<alice@freehold.test>", ["<r1@example.net>", "<r2@example.net>", "<r3@example.net>"], MSG);
    assert.deepEqual(t.rcpts.map((r) => r.code), [250, 250, 451]);
    c.close();
  } finally {
    await h2.close();
  }
});

// RFC 5321 §3.6.2 / Appendix C and the old sendmail tricks: a local part with % or !, a quoted
// local part holding an address, a source route. Each must be judged as the mailbox it really
// names at our server (an unknown local user) or by the route's final domain (relay refused).
const TRICKS: Array<[string, RegExp]> = [
  ["<victim@remote.example>", /^554 5\.7\.1 /],
  ["<victim%remote.example@freehold.test>", /^550 5\.1\.1 /],
  ["<victim@remote.example@freehold.test>", /^501 /],
  ['<"victim@remote.example"@freehold.test>', /^550 5\.1\.1 /],
  ["<remote.example!victim@freehold.test>", /^550 5\.1\.1 /],
  ["<@freehold.test:victim@remote.example>", /^554 5\.7\.1 /],
  ["<@freehold.test,@mx.freehold.test:victim@remote.example>", /^554 5\.7\.1 /],
  ["<victim@[192.0.2.1]>", /^554 5\.7\.1 /],
  ["<victim%remote.example@[127.0.0.1]>", /^554 5\.7\.1 /],
];

test("mx: unauthenticated relaying refused with every trick; nothing queued", async () => {
  const before = (await h.services.storage.store.queue.list()).length;
  const c = await RawClient.connect(h.mxPort);
  await c.cmd("EHLO relay-abuser.test");
  for (const [rcpt, want] of TRICKS) {
    assert.equal((await c.cmd("MAIL FROM:<spammer@evil.example>")).code, 250);
    const r = await c.cmd(`RCPT TO:${rcpt}`);
    assert.match(r.raw, want, rcpt);
    assert.equal((await c.cmd("DATA")).code === 354, false, `${rcpt}: DATA must not start`);
    await c.cmd("RSET");
  }
  c.close();
  assert.equal((await h.services.storage.store.queue.list()).length, before);
});

test("submission (STARTTLS) without AUTH: MAIL refused with 530, so no RCPT is ever judged", async () => {
  const c = await RawClient.connect(h.submissionPort);
  await c.cmd("EHLO relay-abuser.test");
  assert.equal((await c.cmd("MAIL FROM:<spammer@evil.example>")).raw, "530 5.7.0 Authentication required");
  assert.equal((await c.cmd("RCPT TO:<victim%remote.example@freehold.test>")).code, 503);
  await c.cmd("STARTTLS");
  await c.startTls();
  await c.cmd("EHLO relay-abuser.test");
  for (const [rcpt] of TRICKS) {
    assert.equal((await c.cmd("MAIL FROM:<alice@freehold.test>")).code, 530);
    assert.equal((await c.cmd(`RCPT TO:${rcpt}`)).code, 503, rcpt);
  }
  c.close();
});

test("submissions (implicit TLS) without AUTH: smtplib's sendmail is refused at MAIL", async () => {
  const py = `
import smtplib, ssl, sys
s = smtplib.SMTP_SSL("127.0.0.1", int(sys.argv[1]), context=ssl._create_unverified_context(), timeout=10)
try:
    s.sendmail("spammer@evil.example", ["victim%remote.example@freehold.test", "victim@remote.example"], "Subject: x\\r\\n\\r\\nx\\r\\n")
    print("sent")
except smtplib.SMTPSenderRefused as e:
    print("refused", e.smtp_code)
`;
  const r = await run("/usr/bin/python3", ["-c", py, String(h.submissionsPort)]);
  assert.equal(r.stdout.trim(), "refused 530", r.stderr);
});

test("authenticated: relaying to remote domains is allowed, % and ! local parts at our domain stay local (550)", async () => {
  const c = await authed(h, "bob@freehold.test", PW);
  assert.equal((await c.cmd("MAIL FROM:<bob@freehold.test>")).code, 250);
  assert.equal((await c.cmd("RCPT TO:<friend@remote.example>")).code, 250);
  assert.match((await c.cmd("RCPT TO:<victim%remote.example@freehold.test>")).raw, /^550 5\.1\.1/);
  assert.match((await c.cmd("RCPT TO:<remote.example!victim@freehold.test>")).raw, /^550 5\.1\.1/);
  c.close();
});
