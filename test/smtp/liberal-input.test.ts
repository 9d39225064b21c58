// Issue 18 on the wire of the SMTP core: as liberal as Postfix in what it accepts (bare LF lines,
// long lines, 2048-octet commands, paths without brackets, recipients past the limit that do
// not count as errors) and as strict about where a message ends (smuggling payloads, NUL and
// BDAT variants never make a second message).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { ehloClient, startServer, until } from "./helpers.ts";
import type { RawClient, TestServer } from "./helpers.ts";
import { createLogger } from "../../src/log/logger.ts";

let t: TestServer;
const logLines: Record<string, unknown>[] = [];
before(async () => {
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split("\n")) if (l.trim()) logLines.push(JSON.parse(l));
      cb();
    },
  });
  t = await startServer({ logger: createLogger({ level: "info", destination }) });
  for (let i = 0; i < 1200; i++) t.handler.users.add(`u${i}@freehold.test`);
});
after(() => t.close());

async function dataSession(c: RawClient): Promise<void> {
  assert.equal((await c.cmd("MAIL FROM:<a@sender.test>")).code, 250);
  assert.equal((await c.cmd("RCPT TO:<bob@freehold.test>")).code, 250);
  assert.equal((await c.cmd("DATA")).code, 354);
}

const rcpts = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `RCPT TO:<u${from + i}@freehold.test>\r\n`).join("");

test("150 pipelined recipients: 150 × 250 and one message for all of them", async () => {
  const c = await ehloClient(t.port);
  c.write(`MAIL FROM:<list@sender.test>\r\n${rcpts(150)}DATA\r\n`);
  assert.equal((await c.reply()).code, 250);
  for (let i = 0; i < 150; i++) assert.equal((await c.reply()).raw, "250 2.1.5 Recipient OK", `rcpt ${i}`);
  assert.equal((await c.reply()).code, 354);
  c.write("Subject: list\r\n\r\nhi\r\n.\r\n");
  assert.equal((await c.reply()).code, 250);
  assert.equal(t.handler.messages.at(-1)!.envelope.recipients.length, 150);
  c.close();
});

test("past the overshoot allowance, each refused recipient counts as an error again", async () => {
  const s = await startServer({ limits: { maxRecipients: 100, recipientOvershoot: 5, maxErrors: 3 } });
  try {
    for (let i = 0; i < 120; i++) s.handler.users.add(`u${i}@freehold.test`);
    const c = await ehloClient(s.port);
    c.write(`MAIL FROM:<list@sender.test>\r\n${rcpts(120)}`);
    assert.equal((await c.reply()).code, 250);
    for (let i = 0; i < 100; i++) assert.equal((await c.reply()).code, 250);
    // 5 free 452s, then 3 counted ones reach maxErrors: 421 and close.
    for (let i = 0; i < 8; i++) assert.equal((await c.reply()).raw, "452 4.5.3 Too many recipients", `excess ${i}`);
    assert.equal((await c.reply()).raw, "421 4.7.0 Too many errors, closing connection");
    await c.closed();
  } finally {
    await s.close();
  }
});

test("the overshoot allowance is per transaction", async () => {
  const s = await startServer({ limits: { maxRecipients: 100, recipientOvershoot: 5, maxErrors: 3 } });
  try {
    for (let i = 0; i < 105; i++) s.handler.users.add(`u${i}@freehold.test`);
    const c = await ehloClient(s.port);
    for (let round = 0; round < 3; round++) {
      c.write(`MAIL FROM:<list@sender.test>\r\n${rcpts(105)}RSET\r\n`);
      for (let i = 0; i < 101; i++) assert.equal((await c.reply()).code, 250);
      for (let i = 0; i < 5; i++) assert.equal((await c.reply()).code, 452);
      assert.equal((await c.reply()).code, 250, "RSET");
    }
    assert.equal((await c.cmd("NOOP")).code, 250, "still connected after 15 uncounted 452s");
    c.close();
  } finally {
    await s.close();
  }
});

test("a listener sets its own recipient limit", async () => {
  const s = await startServer({ listener: { limits: { maxRecipients: 150 } } });
  try {
    for (let i = 0; i < 151; i++) s.handler.users.add(`u${i}@freehold.test`);
    const c = await ehloClient(s.port);
    c.write(`MAIL FROM:<list@sender.test>\r\n${rcpts(151)}`);
    for (let i = 0; i < 151; i++) assert.equal((await c.reply()).code, 250);
    assert.equal((await c.reply()).raw, "452 4.5.3 Too many recipients");
    c.close();
  } finally {
    await s.close();
  }
  await assert.rejects(startServer({ listener: { limits: { maxRecipients: 99 } } }), /maxRecipients must be at least 100/);
});

test("MAIL FROM:addr and RCPT TO:addr without brackets are accepted and logged", async () => {
  const c = await ehloClient(t.port);
  assert.equal((await c.cmd("MAIL FROM:script@sender.test SIZE=20")).raw, "250 2.1.0 Sender OK");
  assert.equal((await c.cmd("RCPT TO:bob@freehold.test NOTIFY=NEVER")).raw, "250 2.1.5 Recipient OK");
  assert.equal((await c.cmd("RCPT TO:Postmaster")).raw, "250 2.1.5 Recipient OK");
  assert.equal((await c.cmd("RCPT TO:a b@freehold.test")).raw, "501 5.1.3 Bad recipient address syntax: bad local part");
  assert.equal((await c.cmd("RCPT TO:<bob@freehold.test")).raw, "501 5.1.3 Bad recipient address syntax: missing >");
  assert.equal((await c.cmd("DATA")).code, 354);
  c.write("Subject: x\r\n\r\nhi\r\n.\r\n");
  assert.equal((await c.reply()).code, 250);
  const m = t.handler.messages.at(-1)!;
  assert.equal(m.envelope.mailFrom?.address, "script@sender.test");
  assert.equal(m.envelope.mailParams.size, 20);
  assert.deepEqual(m.envelope.recipients.map((r) => r.mailbox.address), ["bob@freehold.test", "postmaster"]);
  c.close();
  await until(() => logLines.some((l) => l.msg === "RCPT TO without angle brackets accepted"));
  assert.ok(logLines.some((l) => l.msg === "MAIL FROM without angle brackets accepted" && l.from === "script@sender.test"));
});

test("strictEnvelopes: paths without brackets get 501", async () => {
  const s = await startServer({ features: { strictEnvelopes: true } });
  try {
    const c = await ehloClient(s.port);
    assert.equal((await c.cmd("MAIL FROM:a@sender.test")).raw, "501 5.1.7 Bad sender address syntax: path must be enclosed in <>");
    assert.equal((await c.cmd("MAIL FROM:<a@sender.test>")).code, 250);
    assert.equal((await c.cmd("RCPT TO:bob@freehold.test")).raw, "501 5.1.3 Bad recipient address syntax: path must be enclosed in <>");
    c.close();
  } finally {
    await s.close();
  }
});

test("bare LF: commands and content lines as if they ended in CRLF; stored with CRLF", async () => {
  const c = await ehloClient(t.port);
  c.write("MAIL FROM:<a@sender.test>\nRCPT TO:<bob@freehold.test>\nDATA\n");
  assert.equal((await c.reply()).code, 250);
  assert.equal((await c.reply()).code, 250);
  assert.equal((await c.reply()).code, 354);
  c.write("Subject: php\n\nline\n..stuffed\n.\n.\r\n\r\n.\r\n");
  assert.equal((await c.reply()).code, 250);
  const m = t.handler.messages.at(-1)!;
  // "..stuffed" loses its dot; the lone dots after bare LFs are content; the end is CRLF.CRLF.
  assert.equal(m.body.toString("latin1"), "Subject: php\r\n\r\nline\r\n.stuffed\r\n.\r\n.\r\n\r\n");
  assert.equal(m.end.bareLfNormalized, 5);
  assert.equal(m.end.bareLineEnding, true);
  c.close();
});

test("bareLineEndings reject: bare LF refuses the message (Postfix's reject)", async () => {
  const s = await startServer({ features: { bareLineEndings: "reject" } });
  try {
    const c = await ehloClient(s.port);
    await dataSession(c);
    c.write("Subject: x\r\n\r\na\nb\r\n.\r\n");
    assert.equal((await c.reply()).raw, "554 5.6.0 Message contains a bare CR or LF; lines must end with CRLF (RFC 5321 section 2.3.8)");
    assert.equal(s.handler.messages.length, 0);
    c.close();
  } finally {
    await s.close();
  }
});

test("lines of 1,001 octets and of 64 KiB are stored as received", async () => {
  const c = await ehloClient(t.port);
  for (const n of [1001, 64 * 1024]) {
    await dataSession(c);
    const line = "=".repeat(n - 2);
    c.write(`Subject: long\r\n\r\n${line}\r\n.\r\n`);
    assert.equal((await c.reply()).code, 250, String(n));
    const m = t.handler.messages.at(-1)!;
    assert.equal(m.body.toString("latin1"), `Subject: long\r\n\r\n${line}\r\n`);
    assert.equal(m.end.stats.longestLine, n);
  }
  c.close();
});

test("a limit set per server is the one in the reply text", async () => {
  const s = await startServer({ limits: { textLineOctets: 5000 } });
  try {
    const c = await ehloClient(s.port);
    await dataSession(c);
    c.write(`Subject: x\r\n\r\n${"y".repeat(5000)}\r\n.\r\n`);
    assert.equal((await c.reply()).raw, "554 5.6.0 Message has a line of 5002 octets; the limit is 5000 octets per line including CRLF");
    assert.equal(s.handler.messages.length, 0);
    assert.equal(s.handler.aborted.length, 1, "the sink was aborted: nothing stored");
    c.close();
  } finally {
    await s.close();
  }
});

// The payloads of the outside differential (issue 18): none may create a second message.
const PAYLOADS = ["\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r\n", "\r.\r", "\n.\r", "\0\n.\n", "\n\0.\n", "\r\n.\0\r\n", "\r\n\0.\r\n", "\n.\n\0"];

test("smuggling payloads: never a second message, whatever the payload", async () => {
  for (const fake of PAYLOADS) {
    const c = await ehloClient(t.port);
    await dataSession(c);
    const before = t.handler.messages.length;
    c.write(`Subject: outer\r\n\r\nhello${fake}MAIL FROM:<ceo@victim.test>\r\nRCPT TO:<alice@freehold.test>\r\nDATA\r\nSubject: inner\r\n\r\nsmuggled\r\n.\r\nNOOP\r\n`);
    const r = await c.reply();
    // Exactly one more reply (the NOOP's): the "smuggled" commands were never executed.
    assert.equal((await c.reply()).raw, "250 2.0.0 OK", JSON.stringify(fake));
    const added = t.handler.messages.slice(before);
    if (r.code === 250) {
      assert.equal(added.length, 1, JSON.stringify(fake));
      assert.match(added[0].body.toString("latin1"), /MAIL FROM:<ceo@victim\.test>.*Subject: inner.*smuggled\r\n$/s);
      assert.deepEqual(added[0].envelope.recipients.map((x) => x.mailbox.address), ["bob@freehold.test"]);
    } else {
      // Bare CR and NUL are refused (docs/smtp.md): 554 5.6.0 and nothing stored.
      assert.match(r.raw, /^554 5\.6\.0 /, JSON.stringify(fake));
      assert.equal(added.length, 0);
    }
    c.close();
  }
});

test("BDAT smuggling variants: the octet count decides, a fake end inside is content", async () => {
  for (const fake of PAYLOADS) {
    const c = await ehloClient(t.port);
    assert.equal((await c.cmd("MAIL FROM:<a@sender.test>")).code, 250);
    assert.equal((await c.cmd("RCPT TO:<bob@freehold.test>")).code, 250);
    const before = t.handler.messages.length;
    const body = `Subject: outer\r\n\r\nhello${fake}MAIL FROM:<ceo@victim.test>\r\nRCPT TO:<alice@freehold.test>\r\nDATA\r\nsmuggled\r\n.\r\n`;
    const len = Buffer.byteLength(body, "latin1");
    c.write(Buffer.from(`BDAT ${len} LAST\r\n${body}NOOP\r\n`, "latin1"));
    assert.match((await c.reply()).raw, /^250 2\.0\.0 Ok/, JSON.stringify(fake));
    assert.equal((await c.reply()).raw, "250 2.0.0 OK");
    assert.equal(t.handler.messages.length, before + 1);
    // BDAT content is stored byte for byte (RFC 3030): nothing normalized, nothing unstuffed.
    assert.equal(t.handler.messages.at(-1)!.body.toString("latin1"), body);
    c.close();
  }
  // A BDAT whose count is short of the payload: the rest is read as commands, which is what the
  // client said, not a smuggled message (the "DATA" there is refused in the BDAT transaction).
  const c = await ehloClient(t.port);
  assert.equal((await c.cmd("MAIL FROM:<a@sender.test>")).code, 250);
  assert.equal((await c.cmd("RCPT TO:<bob@freehold.test>")).code, 250);
  c.write("BDAT 5\r\nhelloDATA\r\n");
  assert.equal((await c.reply()).raw, "250 2.0.0 5 octets received");
  assert.equal((await c.reply()).raw, "503 5.5.1 DATA and BDAT cannot be mixed in one transaction");
  c.close();
});

test("command lines: 2048 octets for every command, the RFC 1869/3461 allowances on top", async () => {
  const c = await ehloClient(t.port);
  assert.equal((await c.cmd(`NOOP ${"a".repeat(2041)}`)).code, 250);
  assert.equal((await c.cmd(`HELP ${"a".repeat(2042)}`)).code, 500);
  // RCPT: 2048 + 500 (RFC 3461 §4 NOTIFY, ORCPT).
  assert.equal((await c.cmd("MAIL FROM:<a@sender.test>")).code, 250);
  const rcpt = "RCPT TO:<bob@freehold.test> NOTIFY=SUCCESS ORCPT=rfc822;bob@freehold.test";
  assert.equal((await c.cmd(`${rcpt}${" ".repeat(2548 - 2 - rcpt.length)}`)).code, 250);
  assert.equal((await c.cmd(`${rcpt}${" ".repeat(2548 - 1 - rcpt.length)}`)).raw, "500 5.5.2 Line too long (RFC 5321 section 4.5.3.1.4)");
  // A long line ended by a bare LF is measured as if it ended in CRLF.
  c.write(`NOOP ${"a".repeat(2041)}\n`);
  assert.equal((await c.reply()).code, 250);
  c.close();
});
