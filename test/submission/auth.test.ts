// SMTP AUTH on the submission listeners with real clients (swaks, Python's smtplib) and a raw
// wire client: AUTH only after TLS, PLAIN and LOGIN, 535 on failure, failed-login limits, and
// secrets kept out of the logs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { RawClient } from "../smtp/helpers.ts";
import { inbox, run, startHarness } from "./harness.ts";
import type { Harness } from "./harness.ts";

const PASSWORD = "alice-Passw0rd-123";
let h: Harness;

before(async () => {
  h = await startHarness({
    domains: ["freehold.test"],
    users: [
      { address: "alice@freehold.test", password: PASSWORD },
      { address: "bob@freehold.test", password: "bob-Passw0rd-456" },
      { address: "carol@freehold.test", password: "carol-Passw0rd-789" },
    ],
    loginLimit: { perAccount: { max: 3, windowMs: 60_000 }, perIp: { max: 50, windowMs: 60_000 } },
  });
});
after(() => h.close());

const plain = (user: string, pw: string) => Buffer.from(`\0${user}\0${pw}`).toString("base64");

async function tlsSession(): Promise<RawClient> {
  const c = await RawClient.connect(h.submissionPort);
  await c.cmd("EHLO mua.test");
  assert.equal((await c.cmd("STARTTLS")).code, 220);
  await c.startTls();
  return c;
}

test("before TLS: no AUTH keyword, AUTH refused, MAIL needs authentication", async () => {
  const c = await RawClient.connect(h.submissionPort);
  const e = await c.cmd("EHLO mua.test");
  assert.ok(e.lines.some((l) => l.includes("STARTTLS")));
  assert.ok(!e.lines.some((l) => /AUTH/.test(l)), e.raw);
  assert.equal((await c.cmd(`AUTH PLAIN ${plain("alice@freehold.test", PASSWORD)}`)).raw, "530 5.7.0 Must issue a STARTTLS command first");
  assert.equal((await c.cmd("MAIL FROM:<alice@freehold.test>")).raw, "530 5.7.0 Authentication required");
  c.close();
});

test("after STARTTLS: AUTH PLAIN (initial response and continuation), LOGIN, and 503 on a second AUTH", async () => {
  const c = await tlsSession();
  const e = await c.cmd("EHLO mua.test");
  assert.match(e.lines.find((l) => l.includes("AUTH")) ?? "", /^250[- ]AUTH PLAIN LOGIN$/);
  assert.equal((await c.cmd("MAIL FROM:<alice@freehold.test>")).raw, "530 5.7.0 Authentication required");
  assert.equal((await c.cmd("AUTH PLAIN")).raw, "334 ");
  assert.equal((await c.cmd(plain("alice@freehold.test", PASSWORD))).raw, "235 2.7.0 Authentication successful");
  assert.equal((await c.cmd(`AUTH PLAIN ${plain("alice@freehold.test", PASSWORD)}`)).code, 503);
  c.close();

  const l = await tlsSession();
  await l.cmd("EHLO mua.test");
  assert.equal((await l.cmd("AUTH LOGIN")).raw, "334 VXNlcm5hbWU6");
  assert.equal((await l.cmd(Buffer.from("alice@freehold.test").toString("base64"))).raw, "334 UGFzc3dvcmQ6");
  assert.equal((await l.cmd(Buffer.from(PASSWORD).toString("base64"))).code, 235);
  assert.equal((await l.cmd("MAIL FROM:<alice@freehold.test>")).code, 250);
  l.close();

  const x = await tlsSession();
  await x.cmd("EHLO mua.test");
  assert.equal((await x.cmd("AUTH CRAM-MD5")).raw, "504 5.5.4 Unrecognized authentication type");
  assert.equal((await x.cmd("AUTH PLAIN")).code, 334);
  assert.equal((await x.cmd("*")).raw, "501 5.0.0 Authentication cancelled");
  assert.equal((await x.cmd("AUTH PLAIN not*base64")).raw, "501 5.5.2 Cannot decode the response");
  // RFC 4616: an authzid naming someone else is refused (no proxy authorization).
  assert.equal((await x.cmd(`AUTH PLAIN ${Buffer.from(`bob@freehold.test\0alice@freehold.test\0${PASSWORD}`).toString("base64")}`)).code, 535);
  x.close();
});

test("swaks: AUTH PLAIN and LOGIN over STARTTLS, and implicit TLS on submissions", async () => {
  const before = (await inbox(h, "bob@freehold.test")).length;
  const base = ["--from", "alice@freehold.test", "--to", "bob@freehold.test", "--auth-user", "alice@freehold.test", "--auth-password", PASSWORD, "--helo", "mua.test"];
  for (const [mode, port, mech] of [["--tls", h.submissionPort, "PLAIN"], ["--tls", h.submissionPort, "LOGIN"], ["--tlsc", h.submissionsPort, "PLAIN"]] as const) {
    const r = await run("swaks", ["--server", `127.0.0.1:${port}`, mode, "--auth", mech, ...base, "--header", `Subject: swaks ${mode} ${mech}`]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /235 2\.7\.0/);
    assert.match(r.stdout, /250 2\.0\.0 Ok: queued/);
  }
  const got = await inbox(h, "bob@freehold.test");
  assert.equal(got.length, before + 3);
  assert.match(got.at(-1)!.full.toString(), /Subject: swaks --tlsc PLAIN/);
  assert.match(got.at(-1)!.trace, /with ESMTPSA/);
});

const PY = `
import smtplib, ssl, sys
from email.message import EmailMessage
port, mode, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl._create_unverified_context()
m = EmailMessage()
m["From"] = "Alice <alice@freehold.test>"
m["To"] = "bob@freehold.test"
m["Subject"] = "smtplib " + mode
m.set_content("sent by smtplib")
if mode == "starttls":
    s = smtplib.SMTP("127.0.0.1", port, timeout=10)
    s.starttls(context=ctx)
else:
    s = smtplib.SMTP_SSL("127.0.0.1", port, context=ctx, timeout=10)
try:
    s.login("alice@freehold.test", pw)
    s.send_message(m)
    print("sent")
except smtplib.SMTPAuthenticationError as e:
    print("auth-error", e.smtp_code)
s.quit()
`;

test("Python smtplib: login + send_message over STARTTLS and implicit TLS", async () => {
  const r1 = await run("/usr/bin/python3", ["-c", PY, String(h.submissionPort), "starttls", PASSWORD]);
  assert.equal(r1.stdout.trim(), "sent", r1.stderr);
  const r2 = await run("/usr/bin/python3", ["-c", PY, String(h.submissionsPort), "implicit", PASSWORD]);
  assert.equal(r2.stdout.trim(), "sent", r2.stderr);
  const subjects = (await inbox(h, "bob@freehold.test")).map((m) => /Subject: (.*)/.exec(m.blob.toString())?.[1]);
  assert.ok(subjects.includes("smtplib starttls") && subjects.includes("smtplib implicit"));
});

test("wrong password: 535 5.7.8, then the account limit answers 454 4.7.0 even to the right password", async () => {
  const c = await tlsSession();
  await c.cmd("EHLO mua.test");
  const wrong = "carol-WRONG-password";
  for (let i = 0; i < 3; i++) {
    assert.equal((await c.cmd(`AUTH PLAIN ${plain("carol@freehold.test", wrong)}`)).raw, "535 5.7.8 Authentication credentials invalid");
  }
  const limited = await c.cmd(`AUTH PLAIN ${plain("carol@freehold.test", "carol-Passw0rd-789")}`);
  assert.equal(limited.code, 454);
  assert.match(limited.raw, /^454 4\.7\.0 /);
  c.close();
  // smtplib sees the same through LOGIN: still refused.
  const py = await run("/usr/bin/python3", ["-c", PY.replace(/alice@freehold\.test", pw/, 'carol@freehold.test", pw'), String(h.submissionPort), "starttls", "carol-Passw0rd-789"]);
  assert.match(py.stdout, /auth-error 454/);
  // Another account from the same IP is unaffected.
  const d = await tlsSession();
  await d.cmd("EHLO mua.test");
  assert.equal((await d.cmd(`AUTH PLAIN ${plain("bob@freehold.test", "bob-Passw0rd-456")}`)).code, 235);
  d.close();
});

test("passwords and AUTH responses never reach the logs", async () => {
  const all = h.logs.join("");
  assert.ok(all.includes('"verb":"AUTH"') || all.includes("authenticated"));
  for (const secret of [PASSWORD, "carol-WRONG-password", plain("alice@freehold.test", PASSWORD), Buffer.from(PASSWORD).toString("base64")]) {
    assert.ok(!all.includes(secret), `log contains ${secret}`);
  }
  assert.match(all, /authentication failed/);
});
