// Every EHLO keyword we advertise, with the exact replies on the wire.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { RawClient, ehloClient, startServer } from "./helpers.ts";
import type { TestServer } from "./helpers.ts";

let t: TestServer;
before(async () => {
  t = await startServer({ limits: { maxMessageSize: 10_000 } });
});
after(() => t.close());

test("greeting and the EHLO reply, exactly", async () => {
  const c = await RawClient.connect(t.port, { greeting: false });
  assert.equal((await c.reply()).raw, "220 mx.freehold.test ESMTP Freehold");
  const r = await c.cmd("EHLO client.test");
  assert.deepEqual(r.lines, [
    "250-mx.freehold.test Hello client.test [127.0.0.1]",
    "250-PIPELINING",
    "250-SIZE 10000",
    "250-ENHANCEDSTATUSCODES",
    "250-8BITMIME",
    "250-DSN",
    "250-SMTPUTF8",
    "250-CHUNKING",
    "250 BINARYMIME",
  ]);
  assert.equal((await c.cmd("HELO other.test")).raw, "250 mx.freehold.test Hello other.test [127.0.0.1]");
  assert.equal((await c.cmd("QUIT")).raw, "221 2.0.0 mx.freehold.test closing connection");
  await c.closed();
});

test("PIPELINING: a pipelined group gets its replies in order", async () => {
  const c = await ehloClient(t.port);
  const before = t.handler.messages.length;
  c.write("MAIL FROM:<a@sender.test>\r\nRCPT TO:<bob@freehold.test>\r\nRCPT TO:<nobody@freehold.test>\r\nRCPT TO:<x@elsewhere.test>\r\nDATA\r\n");
  assert.equal((await c.reply()).raw, "250 2.1.0 Sender OK");
  assert.equal((await c.reply()).raw, "250 2.1.5 Recipient OK");
  assert.equal((await c.reply()).raw, "550 5.1.1 No such user here");
  assert.equal((await c.reply()).raw, "554 5.7.1 Relay access denied");
  assert.equal((await c.reply()).raw, "354 End data with <CR><LF>.<CR><LF>");
  c.write("Subject: hi\r\n\r\nbody\r\n.\r\nRSET\r\nNOOP\r\nQUIT\r\n");
  assert.match((await c.reply()).raw, /^250 2\.0\.0 Ok: queued as m\d+$/);
  assert.equal((await c.reply()).raw, "250 2.0.0 OK");
  assert.equal((await c.reply()).raw, "250 2.0.0 OK");
  assert.equal((await c.reply()).code, 221);
  await c.closed();
  assert.equal(t.handler.messages.length, before + 1);
  assert.equal(t.handler.messages.at(-1)!.body.toString(), "Subject: hi\r\n\r\nbody\r\n");
});

test("PIPELINING: replies to a pipelined group leave in one write", async () => {
  const c = await ehloClient(t.port);
  const n = c.chunks.length;
  c.write("NOOP\r\nRSET\r\nMAIL FROM:<a@sender.test>\r\nRCPT TO:<bob@freehold.test>\r\nRSET\r\n");
  for (let i = 0; i < 5; i++) assert.ok((await c.reply()).code < 300);
  // One write on loopback arrives as one chunk: the server batched the five replies.
  assert.equal(c.chunks.length, n + 1);
  assert.equal(c.chunks.at(-1), "250 2.0.0 OK\r\n250 2.0.0 OK\r\n250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n250 2.0.0 OK\r\n");
  c.close();
});

test("SIZE: refused at MAIL FROM when declared too big, and after DATA when it is", async () => {
  const c = await ehloClient(t.port);
  assert.equal((await c.cmd("MAIL FROM:<a@sender.test> SIZE=10001")).raw, "552 5.3.4 Message size exceeds fixed maximum message size");
  assert.equal((await c.cmd("MAIL FROM:<a@sender.test> SIZE=10000")).raw, "250 2.1.0 Sender OK");
  assert.equal((await c.cmd("RCPT TO:<bob@freehold.test>")).code, 250);
  assert.equal((await c.cmd("DATA")).code, 354);
  const aborts = t.handler.aborted.length;
  c.write(`${"x".repeat(900)}\r\n`.repeat(12) + ".\r\n");
  assert.equal((await c.reply()).raw, "552 5.3.4 Message size exceeds fixed maximum message size");
  assert.equal(t.handler.aborted.length, aborts + 1);
  // The session goes on.
  assert.equal((await c.cmd("NOOP")).raw, "250 2.0.0 OK");
  c.close();
});

test("ENHANCEDSTATUSCODES: every reply after EHLO carries one, except EHLO itself", async () => {
  const c = await ehloClient(t.port);
  for (const [cmd, expect] of [
    ["NOOP", "250 2.0.0 OK"],
    ["VRFY bob", "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery"],
    ["RCPT TO:<bob@freehold.test>", "503 5.5.1 Need MAIL command first"],
    ["DATA", "503 5.5.1 Need MAIL command first"],
    ["FOO", "500 5.5.2 Syntax error, command unrecognized"],
    ["RSET extra", "501 5.5.4 This command takes no arguments"],
    ["HELP", "214-2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS\n214 2.0.0 See RFC 5321 for details"],
  ] as const) {
    assert.equal((await c.cmd(cmd)).raw, expect, cmd);
  }
  c.close();
});

test("8BITMIME: BODY=8BITMIME and 8-bit content arrive byte for byte", async () => {
  const c = await ehloClient(t.port);
  assert.equal((await c.cmd("MAIL FROM:<a@sender.test> BODY=8BITMIME")).code, 250);
  assert.equal((await c.cmd("RCPT TO:<bob@freehold.test>")).code, 250);
  assert.equal((await c.cmd("DATA")).code, 354);
  const body = Buffer.from("Subject: caf\xe9\r\n\r\n\xff\xfe 8 bits\r\n", "latin1");
  c.write(Buffer.concat([body, Buffer.from(".\r\n")]));
  assert.equal((await c.reply()).code, 250);
  const m = t.handler.messages.at(-1)!;
  assert.deepEqual(m.body, body);
  assert.equal(m.envelope.mailParams.body, "8BITMIME");
  assert.equal(m.end.stats.eightBit, true);
  assert.equal((await c.cmd("MAIL FROM:<a@sender.test> BODY=9BIT")).raw, "504 5.5.4 BODY=9BIT not supported");
  c.close();
});

test("DSN: RET, ENVID, NOTIFY and ORCPT reach the handler decoded", async () => {
  const c = await ehloClient(t.port);
  assert.equal((await c.cmd("MAIL FROM:<a@sender.test> RET=HDRS ENVID=QQ314159+2Bx")).raw, "250 2.1.0 Sender OK");
  assert.equal((await c.cmd("RCPT TO:<bob@freehold.test> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;Bob+2Bx@freehold.test")).code, 250);
  assert.equal((await c.cmd("RCPT TO:<alice@freehold.test> NOTIFY=NEVER")).code, 250);
  assert.equal((await c.cmd("RCPT TO:<alice@freehold.test> NOTIFY=SOMETIMES")).raw, "501 5.5.4 Bad NOTIFY value");
  assert.equal((await c.cmd("DATA")).code, 354);
  c.write("Subject: dsn\r\n\r\n.\r\n");
  assert.equal((await c.reply()).code, 250);
  const e = t.handler.messages.at(-1)!.envelope;
  assert.equal(e.mailParams.ret, "HDRS");
  assert.equal(e.mailParams.envid, "QQ314159+x");
  assert.deepEqual(e.recipients[0].params.notify, ["SUCCESS", "DELAY"]);
  assert.deepEqual(e.recipients[0].params.orcpt, { addrType: "rfc822", address: "Bob+x@freehold.test" });
  assert.equal(e.recipients[1].params.notify, "NEVER");
  assert.equal((await c.cmd("MAIL FROM:<a@sender.test> UNKNOWN=1")).raw, "555 5.5.4 Parameter UNKNOWN not recognized");
  c.close();
});

test("SMTPUTF8: UTF-8 addresses only with the parameter; Received says UTF8SMTP", async () => {
  t.handler.users.add("jöran@freehold.test");
  const c = await ehloClient(t.port);
  assert.equal((await c.cmd("MAIL FROM:<jöran@bücher.test>")).raw, "553 5.6.7 Non-ASCII address requires SMTPUTF8");
  assert.equal((await c.cmd('MAIL FROM:<"jö SMTPUTF8 "@bücher.test>')).raw, "553 5.6.7 Non-ASCII address requires SMTPUTF8");
  assert.equal((await c.cmd("MAIL FROM:<jöran@bücher.test> SMTPUTF8")).raw, "250 2.1.0 Sender OK");
  assert.equal((await c.cmd("RCPT TO:<jöran@freehold.test>")).raw, "250 2.1.5 Recipient OK");
  assert.equal((await c.cmd("DATA")).code, 354);
  c.write("Subject: =?utf-8?q?hej?=\r\n\r\nhej\r\n.\r\n");
  assert.equal((await c.reply()).code, 250);
  const m = t.handler.messages.at(-1)!;
  assert.equal(m.envelope.mailFrom?.address, "jöran@bücher.test");
  assert.equal(m.envelope.mailParams.smtputf8, true);
  assert.match(m.end.receivedHeader, /with UTF8SMTP\r\n\tfor <jöran@freehold\.test>;/);
  // Without SMTPUTF8 on MAIL, a UTF-8 recipient is refused.
  assert.equal((await c.cmd("MAIL FROM:<a@sender.test>")).code, 250);
  assert.equal((await c.cmd("RCPT TO:<jöran@freehold.test>")).raw, "553 5.6.7 Non-ASCII address requires SMTPUTF8");
  c.close();
});

test("CHUNKING and BINARYMIME: binary content over BDAT; DATA refused for BINARYMIME", async () => {
  const c = await ehloClient(t.port);
  assert.equal((await c.cmd("MAIL FROM:<a@sender.test> BODY=BINARYMIME")).code, 250);
  assert.equal((await c.cmd("RCPT TO:<bob@freehold.test>")).code, 250);
  assert.equal((await c.cmd("DATA")).raw, "503 5.5.1 BODY=BINARYMIME requires BDAT");
  const bin = Buffer.from([0x53, 0x3a, 0x20, 0x78, 13, 10, 13, 10, 0, 1, 2, 13, 46, 10, 46, 13, 10, 255]);
  c.write(Buffer.concat([Buffer.from(`BDAT ${bin.length} LAST\r\n`), bin]));
  assert.match((await c.reply()).raw, /^250 2\.0\.0 Ok: queued as m\d+$/);
  const m = t.handler.messages.at(-1)!;
  assert.deepEqual(m.body, bin);
  assert.equal(m.envelope.transport, "BDAT");
  c.close();
});

test("HELO clients get no extensions", async () => {
  const c = await RawClient.connect(t.port);
  const r = await c.cmd("HELO old.test");
  assert.deepEqual(r.lines, ["250 mx.freehold.test Hello old.test [127.0.0.1]"]);
  assert.equal((await c.cmd("MAIL FROM:<a@sender.test>")).code, 250);
  c.close();
});
