// Bad input on the wire: the right reply, nothing stored that should not be, no crash.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { RawClient, ehloClient, startServer, until } from "./helpers.ts";
import type { TestServer } from "./helpers.ts";
import { SmtpError } from "../../src/smtp/errors.ts";

let t: TestServer;
before(async () => {
  t = await startServer();
});
after(() => t.close());

async function dataSession(c: RawClient): Promise<void> {
  assert.equal((await c.cmd("MAIL FROM:<a@sender.test>")).code, 250);
  assert.equal((await c.cmd("RCPT TO:<bob@freehold.test>")).code, 250);
  assert.equal((await c.cmd("DATA")).code, 354);
}

test("unknown commands, missing HELO, bad syntax", async () => {
  const c = await RawClient.connect(t.port);
  assert.equal((await c.cmd("MAIL FROM:<a@sender.test>")).raw, "503 5.5.1 Send HELO/EHLO first");
  assert.equal((await c.cmd("EHLO")).raw, "501 5.5.4 EHLO requires domain address".replace("domain address", "a domain name"));
  assert.equal((await c.cmd("XYZZY")).raw, "500 5.5.2 Syntax error, command unrecognized");
  assert.equal((await c.cmd("EHLO client.test")).code, 250);
  assert.equal((await c.cmd("MAIL FROM:<a@sender.test")).raw, "501 5.1.7 Bad sender address syntax: missing >");
  assert.equal((await c.cmd("MAIL TO:<a@sender.test>")).raw, "501 5.5.4 Syntax: MAIL FROM:<address> [parameters]");
  assert.equal((await c.cmd("MAIL FROM:<a@sender.test>")).code, 250);
  assert.equal((await c.cmd("MAIL FROM:<a@sender.test>")).raw, "503 5.5.1 Nested MAIL command");
  assert.equal((await c.cmd("RCPT TO:<a b@freehold.test>")).raw, "501 5.1.3 Bad recipient address syntax: bad local part");
  assert.equal((await c.cmd("DATA")).raw, "503 5.5.1 Need RCPT command first");
  assert.equal((await c.cmd("STARTTLS")).raw, "503 5.5.1 Mail transaction in progress");
  c.close();
});

test("null sender, Postmaster without domain, source routes, quoted local parts", async () => {
  const c = await ehloClient(t.port);
  assert.equal((await c.cmd("MAIL FROM:<>")).raw, "250 2.1.0 Sender OK");
  assert.equal((await c.cmd("RCPT TO:<Postmaster>")).raw, "250 2.1.5 Recipient OK");
  assert.equal((await c.cmd("RCPT TO:<postmaster@freehold.test>")).code, 250);
  // The source route is ignored: the final mailbox decides, here a foreign one (relaying).
  assert.equal((await c.cmd("RCPT TO:<@freehold.test:bob@elsewhere.test>")).raw, "554 5.7.1 Relay access denied");
  assert.equal((await c.cmd("RCPT TO:<@elsewhere.test:bob@freehold.test>")).code, 250);
  assert.equal((await c.cmd('RCPT TO:<"bob@elsewhere.test"@freehold.test>')).raw, "550 5.1.1 No such user here");
  assert.equal((await c.cmd("RCPT TO:<bob%elsewhere.test@freehold.test>")).raw, "550 5.1.1 No such user here");
  assert.equal((await c.cmd("DATA")).code, 354);
  c.write("Subject: bounce\r\n\r\n.\r\n");
  assert.equal((await c.reply()).code, 250);
  const m = t.handler.messages.at(-1)!;
  assert.equal(m.envelope.mailFrom, null);
  assert.equal(m.envelope.recipients[0].postmaster, true);
  c.close();
});

// Issue 18 changed these three: command lines were limited to 512 octets, content lines to 1000
// and any bare LF refused the message (554 5.6.0). Now: 2048 (as Postfix), 128 KiB, normalized;
// test/smtp/liberal-input.test.ts has the rest.
test("a command line over 2048 octets gets 500 and the session continues", async () => {
  const c = await ehloClient(t.port);
  // "NOOP " + 2042 + CRLF = 2049 octets.
  assert.equal((await c.cmd(`NOOP ${"x".repeat(2042)}`)).raw, "500 5.5.2 Line too long (RFC 5321 section 4.5.3.1.4)");
  assert.equal((await c.cmd(`NOOP ${"x".repeat(2041)}`)).raw, "250 2.0.0 OK");
  // Far beyond the reader's own cap: dropped up to the LF, one reply.
  assert.equal((await c.cmd(`NOOP ${"x".repeat(20_000)}`)).raw, "500 5.5.2 Line too long (RFC 5321 section 4.5.3.1.4)");
  // MAIL may be longer thanks to SIZE/DSN parameters (RFC 1870, RFC 3461).
  const mail = `MAIL FROM:<a@sender.test> ENVID=${"e".repeat(100)} SIZE=100 RET=FULL`;
  assert.equal((await c.cmd(`${mail}${" ".repeat(2048 + 156 - 2 - mail.length)}`)).code, 250);
  assert.equal((await c.cmd("RSET")).code, 250);
  assert.equal((await c.cmd(`${mail}${" ".repeat(2048 + 156 - 1 - mail.length)}`)).code, 500);
  c.close();
});

test("a content line over the limit is refused at the end of DATA with the limit in the text", async () => {
  const c = await ehloClient(t.port);
  await dataSession(c);
  const before = t.handler.messages.length;
  // 131072 octets with CRLF is the default limit (limits.textLineOctets).
  c.write(`Subject: x\r\n\r\n${"z".repeat(131_071)}\r\n.\r\n`);
  assert.equal((await c.reply()).raw, "554 5.6.0 Message has a line of 131073 octets; the limit is 131072 octets per line including CRLF");
  assert.equal(t.handler.messages.length, before, "nothing stored");
  await dataSession(c);
  c.write(`Subject: x\r\n\r\n${"z".repeat(131_070)}\r\n.\r\n`);
  assert.equal((await c.reply()).code, 250);
  assert.equal(t.handler.messages.length, before + 1);
  c.close();
});

test("bare LF and bare CR in DATA: the smuggled command stays inside one message", async () => {
  for (const fake of ["\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r\n", "\n", "\r"]) {
    const c = await ehloClient(t.port);
    await dataSession(c);
    const before = t.handler.messages.length;
    c.write(`Subject: x\r\n\r\nhello${fake}MAIL FROM:<evil@x.test>\r\nRCPT TO:<alice@freehold.test>\r\nDATA\r\n\r\nsmuggled\r\n.\r\nNOOP\r\n`);
    const r = await c.reply();
    if (fake.includes("\r") && !fake.includes("\r\n")) {
      // A bare CR is refused (docs/smtp.md: no line ending we can repair, and a relay would pass it on).
      assert.equal(r.raw, "554 5.6.0 Message contains a bare CR (a CR not followed by LF); lines must end with CRLF (RFC 5321 section 2.3.8)", JSON.stringify(fake));
      assert.equal(t.handler.messages.length, before);
    } else if (fake === "\r.\r\n") {
      assert.match(r.raw, /^554 5\.6\.0 Message contains a bare CR/, JSON.stringify(fake));
      assert.equal(t.handler.messages.length, before);
    } else {
      // A bare LF is normalized: one message, the "smuggled" commands are its content.
      assert.equal(r.code, 250, JSON.stringify(fake));
      assert.equal(t.handler.messages.length, before + 1);
      const body = t.handler.messages.at(-1)!.body.toString("latin1");
      assert.match(body, /MAIL FROM:<evil@x\.test>\r\nRCPT TO:<alice@freehold\.test>\r\nDATA\r\n\r\nsmuggled\r\n$/);
      assert.doesNotMatch(body, /(?<!\r)\n/, "stored with CRLF only");
    }
    assert.equal((await c.reply()).raw, "250 2.0.0 OK");
    c.close();
  }
});

test("NUL: refused in a command, and in DATA at the end", async () => {
  const c = await ehloClient(t.port);
  assert.equal((await c.cmd("NO\0OP")).raw, "500 5.5.2 NUL character not allowed in a command");
  await dataSession(c);
  c.write("Subject: x\r\n\r\na\0b\r\n.\r\n");
  assert.equal((await c.reply()).raw, "554 5.6.0 Message contains NUL characters; use BDAT with BODY=BINARYMIME for binary content");
  c.close();
});

test("more than 50 Received fields: 554 5.4.6", async () => {
  const c = await ehloClient(t.port);
  const hop = "Received: from a.test by b.test; Mon, 1 Jan 2026 00:00:00 +0000\r\n";
  await dataSession(c);
  c.write(`${hop.repeat(51)}Subject: loop\r\n\r\nbody\r\n.\r\n`);
  assert.equal((await c.reply()).raw, "554 5.4.6 Too many hops (Received headers), mail loop suspected");
  await dataSession(c);
  c.write(`${hop.repeat(50)}Subject: ok\r\n\r\nbody\r\n.\r\n`);
  assert.equal((await c.reply()).code, 250);
  assert.equal(t.handler.messages.at(-1)!.end.receivedCount, 50);
  c.close();
});

test("1000 recipients, then 452 4.5.3, which does not count as an error", async () => {
  for (let i = 0; i < 1030; i++) t.handler.users.add(`u${i}@freehold.test`);
  const c = await ehloClient(t.port);
  let cmds = "MAIL FROM:<a@sender.test>\r\n";
  // 30 over the limit: more than the 20 errors that close a session (limits.maxErrors).
  for (let i = 0; i < 1030; i++) cmds += `RCPT TO:<u${i}@freehold.test>\r\n`;
  c.write(cmds);
  assert.equal((await c.reply()).code, 250);
  for (let i = 0; i < 1000; i++) assert.equal((await c.reply()).code, 250, `rcpt ${i}`);
  for (let i = 0; i < 30; i++) assert.equal((await c.reply()).raw, "452 4.5.3 Too many recipients");
  assert.equal((await c.cmd("DATA")).code, 354);
  c.write("Subject: many\r\n\r\nbody\r\n.\r\n");
  assert.equal((await c.reply()).code, 250);
  assert.equal(t.handler.messages.at(-1)!.envelope.recipients.length, 1000);
  c.close();
});

test("local faults answer 4xx, never 5xx", async () => {
  const c = await ehloClient(t.port);
  assert.equal((await c.cmd("MAIL FROM:<a@sender.test>")).code, 250);
  t.handler.failRcpt = new Error("database is locked");
  assert.equal((await c.cmd("RCPT TO:<bob@freehold.test>")).raw, "451 4.3.0 Local error in processing, try again later");
  t.handler.failRcpt = Object.assign(new Error("busy"), { code: "SQLITE_BUSY" });
  assert.equal((await c.cmd("RCPT TO:<bob@freehold.test>")).raw, "451 4.3.0 Storage temporarily busy, try again later");
  t.handler.failRcpt = new SmtpError("overQuota");
  assert.equal((await c.cmd("RCPT TO:<bob@freehold.test>")).raw, "452 4.2.2 Mailbox full");
  t.handler.failRcpt = null;
  assert.equal((await c.cmd("RCPT TO:<bob@freehold.test>")).code, 250);
  assert.equal((await c.cmd("DATA")).code, 354);
  t.handler.failWrite = Object.assign(new Error("disk full"), { code: "ENOSPC" });
  c.write("Subject: x\r\n\r\nbody\r\n.\r\n");
  assert.equal((await c.reply()).raw, "452 4.3.1 Insufficient system storage, try again later");
  t.handler.failWrite = null;
  await dataSession(c);
  t.handler.failEnd = new Error("fsync failed");
  c.write("Subject: x\r\n\r\nbody\r\n.\r\n");
  assert.equal((await c.reply()).raw, "451 4.3.0 Local error in processing, try again later");
  t.handler.failEnd = null;
  c.close();
});

test("a client vanishing mid-DATA: sink aborted, server still serves", async () => {
  const c = await ehloClient(t.port);
  await dataSession(c);
  const aborted = t.handler.nextAbort();
  c.write("Subject: x\r\n\r\npartial");
  await new Promise((r) => setTimeout(r, 20));
  c.close();
  await aborted;
  const d = await ehloClient(t.port);
  assert.equal((await d.cmd("NOOP")).code, 250);
  d.close();
});

test("content sent before the 354 is improper pipelining: 554 and close", async () => {
  const c = await ehloClient(t.port);
  const aborts = t.handler.aborted.length;
  c.write("MAIL FROM:<a@sender.test>\r\nRCPT TO:<bob@freehold.test>\r\nDATA\r\nSubject: x\r\n\r\nblind\r\n.\r\n");
  assert.equal((await c.reply()).code, 250);
  assert.equal((await c.reply()).code, 250);
  assert.equal((await c.reply()).raw, "554 5.5.0 Protocol error: data sent before the 354 reply");
  await c.closed();
  await until(() => t.handler.aborted.length === aborts + 1);
});

test("a client that pipelines without reading is paused, not buffered without end", async () => {
  const c = await ehloClient(t.port);
  // 6 MB of NOOPs while not reading the replies: once the replies back up, the server stops
  // reading too, so the rest stays in the client's own send buffer.
  c.socket.pause();
  c.write(Buffer.from("NOOP\r\n".repeat(1_000_000)));
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(c.socket.writableLength > 0, "server kept reading");
  c.close();
  await until(() => t.server.connectionCount === 0);
});
