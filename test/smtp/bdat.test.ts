// CHUNKING (RFC 3030) in scripted raw sessions: no Debian peer speaks BDAT.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { ehloClient, startServer } from "./helpers.ts";
import type { RawClient, TestServer } from "./helpers.ts";

let t: TestServer;
before(async () => {
  t = await startServer({ limits: { maxMessageSize: 5000 } });
});
after(() => t.close());

async function envelope(c: RawClient, params = ""): Promise<void> {
  assert.equal((await c.cmd(`MAIL FROM:<a@sender.test>${params}`)).code, 250);
  assert.equal((await c.cmd("RCPT TO:<bob@freehold.test>")).code, 250);
}

test("chunks are concatenated byte for byte; BDAT LAST gets the final reply", async () => {
  const c = await ehloClient(t.port);
  await envelope(c);
  c.write("BDAT 14\r\nSubject: x\r\n\r\n");
  assert.equal((await c.reply()).raw, "250 2.0.0 14 octets received");
  c.write("BDAT 9\r\n.\r\nbody\r\n");
  assert.equal((await c.reply()).raw, "250 2.0.0 9 octets received");
  c.write("BDAT 7 LAST\r\nend\r\n\r\n");
  assert.match((await c.reply()).raw, /^250 2\.0\.0 Ok: queued as m\d+$/);
  const m = t.handler.messages.at(-1)!;
  // No dot-unstuffing in BDAT: ".\r\n" is content.
  assert.equal(m.body.toString(), "Subject: x\r\n\r\n.\r\nbody\r\nend\r\n\r\n");
  assert.equal(m.envelope.transport, "BDAT");
  // The session can send another message.
  await envelope(c);
  c.write("BDAT 0 LAST\r\n");
  assert.match((await c.reply()).raw, /^250 2\.0\.0 Ok/);
  assert.equal(t.handler.messages.at(-1)!.body.length, 0);
  c.close();
});

test("BDAT 0 LAST after chunks ends the message", async () => {
  const c = await ehloClient(t.port);
  await envelope(c);
  c.write("BDAT 6\r\nab\r\n\r\nBDAT 0 LAST\r\n");
  assert.equal((await c.reply()).raw, "250 2.0.0 6 octets received");
  assert.match((await c.reply()).raw, /^250 2\.0\.0 Ok/);
  assert.equal(t.handler.messages.at(-1)!.body.toString(), "ab\r\n\r\n");
  c.close();
});

test("pipelined BDAT chunks with their data in one write", async () => {
  const c = await ehloClient(t.port);
  c.write("MAIL FROM:<a@sender.test>\r\nRCPT TO:<bob@freehold.test>\r\nBDAT 3\r\nabcBDAT 3 LAST\r\ndef");
  assert.equal((await c.reply()).code, 250);
  assert.equal((await c.reply()).code, 250);
  assert.equal((await c.reply()).raw, "250 2.0.0 3 octets received");
  assert.match((await c.reply()).raw, /^250 2\.0\.0 Ok/);
  assert.equal(t.handler.messages.at(-1)!.body.toString(), "abcdef");
  c.close();
});

test("DATA after BDAT in one transaction is 503 5.5.1; BDAT then continues", async () => {
  const c = await ehloClient(t.port);
  await envelope(c);
  c.write("BDAT 4\r\nabcd");
  assert.equal((await c.reply()).code, 250);
  assert.equal((await c.cmd("DATA")).raw, "503 5.5.1 DATA and BDAT cannot be mixed in one transaction");
  assert.equal((await c.cmd("MAIL FROM:<b@sender.test>")).raw, "503 5.5.1 BDAT transfer in progress, send BDAT, RSET or QUIT");
  c.write("BDAT 2 LAST\r\nef");
  assert.match((await c.reply()).raw, /^250 2\.0\.0 Ok/);
  assert.equal(t.handler.messages.at(-1)!.body.toString(), "abcdef");
  c.close();
});

test("BDAT after DATA's transaction is a new transaction; BDAT without RCPT is refused but consumed", async () => {
  const c = await ehloClient(t.port);
  // No transaction: the 10 octets must be read and dropped, not parsed as commands.
  c.write("BDAT 10\r\nNOOP\r\nNOOPBDAT 0 LAST\r\n");
  assert.equal((await c.reply()).raw, "503 5.5.1 Need MAIL command first");
  assert.equal((await c.reply()).raw, "503 5.5.1 Need MAIL command first");
  assert.equal((await c.cmd("MAIL FROM:<a@sender.test>")).code, 250);
  c.write("BDAT 3 LAST\r\nabc");
  assert.equal((await c.reply()).raw, "503 5.5.1 Need RCPT command first");
  assert.equal((await c.cmd("NOOP")).raw, "250 2.0.0 OK");
  c.close();
});

test("RSET during BDAT aborts the sink", async () => {
  const c = await ehloClient(t.port);
  await envelope(c);
  const aborts = t.handler.aborted.length;
  c.write("BDAT 3\r\nabc");
  assert.equal((await c.reply()).code, 250);
  assert.equal((await c.cmd("RSET")).raw, "250 2.0.0 OK");
  assert.equal(t.handler.aborted.length, aborts + 1);
  assert.equal((await c.cmd("BDAT 0 LAST")).raw, "503 5.5.1 Need MAIL command first");
  c.close();
});

test("chunks that together pass SIZE are consumed and refused with 552; the transaction ends", async () => {
  const c = await ehloClient(t.port);
  await envelope(c);
  const part = "y".repeat(3000);
  c.write(`BDAT ${part.length}\r\n${part}`);
  assert.equal((await c.reply()).raw, "250 2.0.0 3000 octets received");
  c.write(`BDAT ${part.length}\r\n${part}`);
  assert.equal((await c.reply()).raw, "552 5.3.4 Message size exceeds fixed maximum message size");
  c.write("BDAT 1 LAST\r\nz");
  assert.equal((await c.reply()).raw, "503 5.5.1 Need MAIL command first");
  assert.equal((await c.cmd("NOOP")).raw, "250 2.0.0 OK");
  c.close();
});

test("one chunk larger than the size limit ends the session at once", async () => {
  const c = await ehloClient(t.port);
  await envelope(c);
  const aborts = t.handler.aborted.length;
  c.write("BDAT 3\r\nabc");
  assert.equal((await c.reply()).raw, "250 2.0.0 3 octets received");
  c.write("BDAT 6000\r\nstart of a huge chunk");
  assert.equal((await c.reply()).raw, "552 5.3.4 Chunk exceeds fixed maximum message size, closing connection");
  await c.closed();
  assert.equal(t.handler.aborted.length, aborts + 1);
});

test("bad BDAT syntax", async () => {
  const c = await ehloClient(t.port);
  await envelope(c);
  assert.equal((await c.cmd("BDAT")).raw, "501 5.5.4 Syntax: BDAT <size> [LAST]");
  assert.equal((await c.cmd("BDAT -1")).raw, "501 5.5.4 Syntax: BDAT <size> [LAST]");
  assert.equal((await c.cmd("BDAT 1 FIRST")).raw, "501 5.5.4 Syntax: BDAT <size> [LAST]");
  c.close();
});

test("a client vanishing between chunks gets its sink aborted", async () => {
  const c = await ehloClient(t.port);
  await envelope(c);
  c.write("BDAT 3\r\nabc");
  assert.equal((await c.reply()).code, 250);
  const aborted = t.handler.nextAbort();
  c.close();
  await aborted;
});
