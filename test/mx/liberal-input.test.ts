// Issue 18 through the real mx (`freehold serve` as a child process, on a data folder made with the CLI):
// what legitimate senders send and Postfix takes is taken and stored as described in
// docs/smtp.md — a pipelined 150-RCPT message reaches all 150 mailboxes, a 1,200-RCPT one its
// first 1,000; bare-LF lines are stored with CRLF; a 64 KiB line is stored as received, a line
// over the limit is refused with the limit named and nothing stored; long command lines and
// MAIL FROM without angle brackets are accepted.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startFaultServer } from "../support/dns-fault.ts";
import type { FaultServer } from "../support/dns-fault.ts";
import { SmtpTestClient } from "../support/smtp-client.ts";
import type { Reply } from "../support/smtp-client.ts";
import { createDataDir, mailboxContents, openDataDir, startFreeholdProcess } from "../support/freehold.ts";
import type { DataDir, FreeholdProcess, OpenedData } from "../support/freehold.ts";
import { DEFAULT_MAILBOXES } from "../../src/accounts/mailboxes.ts";

const USERS = 1200;
const userAddr = (i: number) => `list${i}@freehold.test`;
// Single-recipient tests use one of the list members; their tokens keep the messages apart.
const BOB = userAddr(0);
let dns: FaultServer;
let data: DataDir;
let fh: FreeholdProcess;
let db: OpenedData;

before(async () => {
  dns = await startFaultServer(() => ({ kind: "rcode", rcode: "NXDOMAIN" }));
  data = await createDataDir({ domains: ["freehold.test"], dnsServers: [dns.address] });
  // 1,200 users through the CLI would be 1,200 Node starts and scrypt hashes; the store API
  // makes the same records (user + default mailboxes) with a password nobody can use.
  const setup = await openDataDir(data.dir);
  try {
    const domain = await setup.store.accounts.getDomain("freehold.test");
    assert.ok(domain);
    await setup.store.transaction(async (tx) => {
      for (let i = 0; i < USERS; i++) {
        const u = await tx.accounts.createUser({ domainId: domain.id, localPart: `list${i}`, displayName: "", passwordHash: "!", role: "user", quotaBytes: null });
        for (const m of DEFAULT_MAILBOXES) await tx.mail.createMailbox(u.id, m.name, m.specialUse);
      }
    });
  } finally {
    await setup.close();
  }
  fh = await startFreeholdProcess(data);
  db = await openDataDir(data.dir);
});

after(async () => {
  await db?.close();
  await fh?.stop();
  await dns?.close();
  await data?.remove();
});

async function session(): Promise<SmtpTestClient> {
  const c = await SmtpTestClient.connect(fh.mxPort);
  assert.equal((await c.read()).code, 220);
  assert.equal((await c.cmd("EHLO list.sender.test")).code, 250);
  return c;
}

// Every copy of one delivery shares one blob: read each blob once.
const blobCache = new Map<unknown, Buffer>();
async function copiesWith(address: string, tok: string): Promise<Buffer[]> {
  const user = await db.store.accounts.getUserByAddress(address);
  const mb = user && (await db.store.mail.getMailbox(user.id, "INBOX"));
  assert.ok(mb, address);
  const out: Buffer[] = [];
  for (const m of await db.store.mail.listMessages(mb.id)) {
    let blob = blobCache.get(m.blobId);
    if (!blob) blobCache.set(m.blobId, (blob = await db.blobs.readAll(m.blobId)));
    if (blob.includes(tok)) out.push(blob);
  }
  return out;
}

/** One pipelined transaction (RFC 2920): MAIL, every RCPT and DATA in one write. */
async function pipelined(c: SmtpTestClient, n: number, tok: string): Promise<{ rcpt: Reply[]; final: Reply }> {
  const r = await c.send("list@sender.test", Array.from({ length: n }, (_, i) => userAddr(i)), `Subject: ${tok}\r\n\r\nto the list\r\n`);
  assert.equal(r.replies[0].code, 250);
  return { rcpt: r.replies.slice(1, n + 1), final: r.final };
}

test("a pipelined 150-RCPT message reaches all 150 mailboxes", async () => {
  const c = await session();
  const tok = `list150-${Date.now()}`;
  const { rcpt, final } = await pipelined(c, 150, tok);
  assert.deepEqual(rcpt.map((r) => r.code), Array(150).fill(250));
  assert.equal(final.code, 250, final.text);
  await c.quit();
  for (let i = 0; i < 150; i++) assert.equal((await copiesWith(userAddr(i), tok)).length, 1, userAddr(i));
  assert.equal((await copiesWith(userAddr(150), tok)).length, 0);
});

test("a pipelined 1,200-RCPT message reaches the first 1,000; the other 200 get 452 4.5.3 and the session goes on", async () => {
  const c = await session();
  const tok = `list1200-${Date.now()}`;
  const { rcpt, final } = await pipelined(c, USERS, tok);
  assert.deepEqual(rcpt.slice(0, 1000).map((r) => r.code), Array(1000).fill(250));
  // Far more than the 20 errors that would close the session: the overshoot allowance.
  for (const r of rcpt.slice(1000)) assert.equal(`${r.code} ${r.text}`, "452 4.5.3 Too many recipients");
  assert.equal(final.code, 250, final.text);
  // The client sends the rest in a new transaction (RFC 5321 §4.5.3.1.10).
  const rest = await c.send("list@sender.test", Array.from({ length: 200 }, (_, i) => userAddr(1000 + i)), `Subject: ${tok}\r\n\r\nto the list\r\n`);
  assert.equal(rest.final.code, 250);
  await c.quit();
  for (const i of [0, 1, 500, 998, 999, 1000, 1001, 1199]) assert.equal((await copiesWith(userAddr(i), tok)).length, 1, userAddr(i));
  let total = 0;
  for (let i = 0; i < USERS; i++) total += (await copiesWith(userAddr(i), tok)).length;
  assert.equal(total, USERS, "every recipient exactly once over the two transactions");
});

test("bare-LF lines are stored with CRLF; a 64 KiB line is stored as received", async () => {
  const c = await session();
  const tok = `lines-${Date.now()}`;
  const long = "<td>".repeat(16 * 1024);
  // PHP mail() style: LF only, a 64 KiB line, a lone dot line that is content.
  const sent = `Subject: ${tok}\nX-Mailer: PHP\n\n${long}\n.\nend\n`;
  c.write(`MAIL FROM:<www@sender.test>\r\nRCPT TO:<${BOB}>\r\nDATA\r\n`);
  assert.deepEqual([(await c.read()).code, (await c.read()).code, (await c.read()).code], [250, 250, 354]);
  c.write(`${sent}\r\n.\r\n`);
  const r = await c.read();
  assert.equal(r.code, 250, r.text);
  await c.quit();
  const copies = await copiesWith(BOB, tok);
  assert.equal(copies.length, 1);
  const body = copies[0].toString("latin1");
  const expected = `${sent.replace(/\n/g, "\r\n")}\r\n`;
  assert.ok(body.endsWith(expected), "stored as sent, with CRLF line ends");
  assert.doesNotMatch(body, /(?<!\r)\n/);
});

test("a line over the limit gets 554 with the limit named; nothing is stored", async () => {
  const c = await session();
  const tok = `toolong-${Date.now()}`;
  const r = await c.send("www@sender.test", [BOB], `Subject: ${tok}\r\n\r\n${"x".repeat(200_000)}\r\n`);
  assert.equal(`${r.final.code} ${r.final.text}`, "554 5.6.0 Message has a line of 200002 octets; the limit is 131072 octets per line including CRLF");
  assert.equal((await c.cmd("NOOP")).code, 250);
  await c.quit();
  assert.equal((await copiesWith(BOB, tok)).length, 0);
});

test("MAIL FROM:addr without brackets and command lines up to 2048 octets are accepted", async () => {
  const c = await session();
  const tok = `unbracketed-${Date.now()}`;
  assert.equal((await c.cmd(`NOOP ${"n".repeat(2041)}`)).code, 250);
  assert.equal((await c.cmd(`NOOP ${"n".repeat(2042)}`)).code, 500);
  assert.equal((await c.cmd("MAIL FROM:old.script@sender.test SIZE=100")).code, 250);
  assert.equal((await c.cmd(`RCPT TO:${BOB}`)).code, 250);
  assert.equal((await c.cmd("DATA")).code, 354);
  c.write(`Subject: ${tok}\r\n\r\nhi\r\n.\r\n`);
  assert.equal((await c.read()).code, 250);
  await c.quit();
  const copies = (await mailboxContents(db, BOB)).filter((m) => m.blob.includes(tok));
  assert.equal(copies.length, 1);
  assert.match(copies[0].message.traceHeaders, /^Return-Path: <old\.script@sender\.test>\r\n/);
});
