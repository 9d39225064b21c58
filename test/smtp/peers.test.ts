// Real SMTP clients against our server: swaks, Python's smtplib (Debian's /usr/bin/python3) and
// Postfix's smtp-source flood. Loopback only.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { startServer, tlsContext } from "./helpers.ts";
import type { TestServer } from "./helpers.ts";

const run = promisify(execFile);

let t: TestServer;
before(async () => {
  t = await startServer({ listener: { tls: { mode: "starttls", context: tlsContext() } } });
});
after(() => t.close());

function swaks(...args: string[]) {
  return run("swaks", ["--server", `127.0.0.1:${t.port}`, "--helo", "client.test", "--from", "a@sender.test", "--to", "bob@freehold.test", ...args], {
    timeout: 20_000,
  });
}

test("swaks: plain, STARTTLS and pipelined", async () => {
  const before = t.handler.messages.length;
  await swaks("--header", "Subject: plain", "--body", "hello from swaks");
  await swaks("--tls", "--header", "Subject: tls", "--body", "over tls");
  const out = await swaks("--pipeline", "--header", "Subject: piped", "--body", "pipelined");
  // swaks sent the group in one go and then read the three replies in order.
  assert.match(out.stdout, / -> MAIL FROM:<a@sender\.test>\n -> RCPT TO:<bob@freehold\.test>\n -> DATA\n<-  250 2\.1\.0 Sender OK\n<-  250 2\.1\.5 Recipient OK\n<-  354 /);
  assert.equal(t.handler.messages.length, before + 3);
  const [plain, tls, piped] = t.handler.messages.slice(before);
  assert.match(plain.body.toString(), /^Date: .*\r\n/m);
  assert.match(plain.body.toString(), /\r\nSubject: plain\r\n[\s\S]*\r\n\r\nhello from swaks\r\n/);
  assert.equal(plain.session.tls, undefined);
  assert.ok(tls.session.tls?.protocol.startsWith("TLSv1."));
  assert.match(tls.end.receivedHeader, /with ESMTPS/);
  assert.match(piped.body.toString(), /pipelined/);
});

test("swaks: an unknown recipient fails with 550 5.1.1", async () => {
  await assert.rejects(swaks("--to", "nobody@freehold.test", "--body", "x"), (e: { stdout: string }) => /550 5\.1\.1/.test(e.stdout));
});

test("swaks: a body with leading dots survives dot-stuffing byte for byte", async () => {
  const before = t.handler.messages.length;
  await swaks("--header", "Subject: dots", "--body", ".one\n..two\n.\n");
  const body = t.handler.messages[before].body.toString();
  assert.match(body, /\r\n\r\n\.one\r\n\.\.two\r\n\.\r\n/);
});

const PY = String.raw`
import smtplib, ssl, sys
from email.message import EmailMessage
port, use_tls = int(sys.argv[1]), sys.argv[2] == "tls"
m = EmailMessage()
m["From"] = "py@sender.test"
m["To"] = "alice@freehold.test"
m["Subject"] = "smtplib " + sys.argv[2]
m.set_content("Grüße from Python\n.leading dot\n")
with smtplib.SMTP("127.0.0.1", port, local_hostname="py.client.test", timeout=10) as s:
    if use_tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s.starttls(context=ctx)
    refused = s.send_message(m)
    assert refused == {}, refused
    print(s.sock.version() if use_tls else "plain")
`;

test("Python smtplib: send_message with and without STARTTLS", async () => {
  const before = t.handler.messages.length;
  const plain = await run("/usr/bin/python3", ["-c", PY, String(t.port), "plain"], { timeout: 20_000 });
  assert.equal(plain.stdout.trim(), "plain");
  const tls = await run("/usr/bin/python3", ["-c", PY, String(t.port), "tls"], { timeout: 20_000 });
  assert.match(tls.stdout.trim(), /^TLSv1\.[23]$/);
  const [a, b] = t.handler.messages.slice(before);
  assert.equal(a.envelope.recipients[0].mailbox.address, "alice@freehold.test");
  assert.equal(a.session.helo, "py.client.test");
  assert.match(a.body.toString(), /Subject: smtplib plain/);
  // smtplib sends UTF-8 text as 8bit with BODY=8BITMIME, or as base64/QP; either way the dot
  // line arrives unstuffed.
  assert.match(b.body.toString(), /Subject: smtplib tls/);
  assert.equal(b.session.tls?.protocol, tls.stdout.trim());
});

test("smtp-source: 50 messages over 5 parallel sessions", async () => {
  const before = t.handler.messages.length;
  await run("smtp-source", ["-s", "5", "-m", "50", "-l", "2000", "-f", "a@x.test", "-t", "bob@freehold.test", `127.0.0.1:${t.port}`], { timeout: 30_000 });
  const got = t.handler.messages.slice(before);
  assert.equal(got.length, 50);
  for (const m of got) {
    assert.equal(m.envelope.mailFrom?.address, "a@x.test");
    assert.ok(m.body.length >= 2000, `size ${m.body.length}`);
    assert.equal(m.end.bareLineEnding, false);
  }
});
