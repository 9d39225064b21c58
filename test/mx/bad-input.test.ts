// Bad input end to end through `freehold serve`: clients that vanish mid-DATA (with the server
// alive, and with the server killed at that moment and restarted), NUL bytes and bare CR
// (docs/smtp.md: 554 5.6.0 at the end of the message, the session goes on; NUL in a command
// 500 5.5.2), bare LF (normalized to CRLF since issue 18), SMTP smuggling attempts. Nothing half-written is stored or left behind, and the
// server still delivers a message afterwards.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { startFaultServer } from "../support/dns-fault.ts";
import type { FaultServer } from "../support/dns-fault.ts";
import { SmtpTestClient } from "../support/smtp-client.ts";
import { createDataDir, mailboxContents, openDataDir, startFreeholdProcess, waitForLog } from "../support/freehold.ts";
import type { DataDir, FreeholdProcess } from "../support/freehold.ts";
import { verifyBlobFiles } from "../../src/store/collector.ts";

const USER = "bad@freehold.test";
let dns: FaultServer;
let data: DataDir;
let fh: FreeholdProcess;

before(async () => {
  dns = await startFaultServer(() => ({ kind: "rcode", rcode: "NXDOMAIN" }));
  data = await createDataDir({ domains: ["freehold.test"], users: [{ address: USER }], dnsServers: [dns.address] });
  fh = await startFreeholdProcess(data);
});

after(async () => {
  await fh?.stop();
  await dns?.close();
  await data?.remove();
});

const tmpDir = () => path.join(data.dir, "blobs", "tmp");

async function stored(tok: string): Promise<number> {
  const db = await openDataDir(data.dir);
  try {
    return (await mailboxContents(db, USER)).filter((m) => m.blob.includes(tok)).length;
  } finally {
    await db.close();
  }
}

async function rowsAndFilesAgree(): Promise<void> {
  const db = await openDataDir(data.dir);
  try {
    assert.deepEqual(await verifyBlobFiles(db.store, db.blobs), { missingFiles: [], orphanFiles: [] });
    assert.deepEqual((await db.store.integrityCheck()).problems, []);
  } finally {
    await db.close();
  }
}

async function waitFor(cond: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Opens a raw session up to the 354 and sends `bytes` of body (more than the 256 KiB write buffer, so a temp file exists). */
async function halfSent(tok: string, bytes: number): Promise<net.Socket> {
  const sock = net.connect({ host: "127.0.0.1", port: fh.mxPort });
  let got = "";
  sock.setEncoding("latin1");
  sock.on("data", (d: string) => (got += d));
  sock.on("error", () => undefined);
  const waitReply = async (code: string) => waitFor(async () => new RegExp(`(^|\\r\\n)${code} [^\\r]*\\r\\n$`).test(got), `${code}: ${got}`);
  await waitReply("220");
  sock.write(`EHLO vanish.client.test\r\nMAIL FROM:<v@sender.test>\r\nRCPT TO:<${USER}>\r\nDATA\r\n`);
  await waitReply("354");
  const line = `${tok} ${"v".repeat(70)}\r\n`;
  sock.write(`Subject: ${tok}\r\n\r\n` + line.repeat(Math.ceil(bytes / line.length)));
  return sock;
}

test("a client vanishing mid-DATA: nothing delivered, its temp file removed at once", async () => {
  const tok = `vanish-${Date.now()}`;
  const sock = await halfSent(tok, 600_000);
  await waitFor(async () => (await readdir(tmpDir())).length > 0, "the temp file of the half-sent message");
  sock.destroy();
  await waitFor(async () => (await readdir(tmpDir())).length === 0, "the temp file to be removed");
  assert.equal(await stored(tok), 0);
  await rowsAndFilesAgree();
});

test("the server killed while a client is mid-DATA: startup recovery removes the temp; nothing delivered", async () => {
  const tok = `killed-${Date.now()}`;
  const sock = await halfSent(tok, 600_000);
  await waitFor(async () => (await readdir(tmpDir())).length > 0, "the temp file of the half-sent message");
  await fh.kill9();
  sock.destroy();
  assert.ok((await readdir(tmpDir())).length > 0, "the crash left the temp file behind");
  fh = await startFreeholdProcess(data);
  const rec = (await waitForLog(fh, "storage recovered")).recovery as Record<string, number>;
  assert.ok(rec.tempsRemoved >= 1, JSON.stringify(rec));
  assert.deepEqual(await readdir(tmpDir()), []);
  assert.equal(await stored(tok), 0);
  await rowsAndFilesAgree();
});

async function session(): Promise<SmtpTestClient> {
  const c = await SmtpTestClient.connect(fh.mxPort);
  assert.equal((await c.read()).code, 220);
  assert.equal((await c.cmd("EHLO bad.client.test")).code, 250);
  return c;
}

const codeOf = (r: { code: number; text: string }) => `${r.code} ${r.text.split(" ")[0]}`;

async function blobsWith(tok: string): Promise<string[]> {
  const db = await openDataDir(data.dir);
  try {
    return (await mailboxContents(db, USER)).filter((m) => m.blob.includes(tok)).map((m) => Buffer.from(m.blob).toString("latin1"));
  } finally {
    await db.close();
  }
}

// Issue 18 changed the bare-LF case: it was refused with 554 5.6.0 like the other two; now it is
// stored with CRLF (Postfix 3.9 "normalize").
test("NUL and bare CR in DATA: 554 5.6.0 at the end, nothing stored; bare LF stored as CRLF; the session goes on", async () => {
  const c = await session();
  const cases: Array<[string, string]> = [
    ["nul", "Subject: nul\r\n\r\nbefore\0after\r\n"],
    ["bare-cr", "Subject: cr\r\n\r\nline one\rline two\r\n"],
  ];
  for (const [name, body] of cases) {
    const tok = `${name}-${Date.now()}`;
    const msg = Buffer.from(`X-Token: ${tok}\r\n${body}`, "latin1");
    // Raw bytes: dataBody() would keep the bare LF/CR and NUL as they are.
    const r = await c.send("s@sender.test", [USER], msg);
    assert.equal(codeOf(r.final), "554 5.6.0", `${name}: ${r.final.text}`);
    assert.equal(await stored(tok), 0, name);
  }
  const lf = `bare-lf-${Date.now()}`;
  const r = await c.send("s@sender.test", [USER], Buffer.from(`X-Token: ${lf}\nSubject: lf\n\nline one\nline two\r\n`, "latin1"));
  assert.equal(r.final.code, 250, r.final.text);
  const blobs = await blobsWith(lf);
  assert.equal(blobs.length, 1);
  assert.ok(blobs[0].endsWith(`X-Token: ${lf}\r\nSubject: lf\r\n\r\nline one\r\nline two\r\n`), JSON.stringify(blobs[0].slice(-80)));
  // Still in step: the next transaction on the same session is delivered.
  const ok = `after-bad-${Date.now()}`;
  assert.equal((await c.send("s@sender.test", [USER], `Subject: ${ok}\r\n\r\nfine\r\n`)).final.code, 250);
  assert.equal(await stored(ok), 1);
  await c.quit();
  assert.deepEqual(await readdir(tmpDir()), []);
});

test("NUL in a command: 500 5.5.2", async () => {
  const c = await session();
  assert.equal(codeOf(await c.cmd("MAIL FROM:<a\0b@sender.test>")), "500 5.5.2");
  assert.equal((await c.cmd("NOOP")).code, 250);
  await c.quit();
});

// Issue 18: this was one refused message (554 5.6.0); with bare LF normalized it is one stored
// message, the "smuggled" one inside it as content, never a second message.
test("SMTP smuggling: bare-LF ends of data with a second message behind them are one message", async () => {
  const payloads = ["\n.\n", "\n.\r\n", "\r\n.\n", "\n\0.\n"];
  for (const fake of payloads) {
    const c = await session();
    const tok1 = `smuggle-outer-${Date.now()}`;
    const tok2 = `smuggle-inner-${Date.now()}`;
    c.write(`MAIL FROM:<s@sender.test>\r\nRCPT TO:<${USER}>\r\nDATA\r\n`);
    assert.deepEqual([(await c.read()).code, (await c.read()).code, (await c.read()).code], [250, 250, 354]);
    // None of these is the end of data (RFC 5321 §4.1.1.4); what follows is content.
    c.write(`Subject: ${tok1}\r\n\r\nhi${fake}MAIL FROM:<ceo@victim.test>\r\nRCPT TO:<${USER}>\r\nDATA\r\nSubject: ${tok2}\r\n\r\nsmuggled\r\n.\n` +
      `more\r\n.\r\n`);
    const r = await c.read();
    assert.equal((await c.cmd("NOOP")).code, 250, "no further replies were pending: nothing was executed");
    await c.quit();
    if (fake.includes("\0")) {
      assert.equal(codeOf(r), "554 5.6.0", JSON.stringify(fake));
      assert.equal(await stored(tok1), 0);
      assert.equal(await stored(tok2), 0);
      continue;
    }
    assert.equal(r.code, 250, JSON.stringify(fake));
    const outer = await blobsWith(tok1);
    assert.equal(outer.length, 1, JSON.stringify(fake));
    assert.deepEqual(await blobsWith(tok2), outer, "the inner message is part of the outer one, not a second message");
    assert.match(outer[0], /\r\nhi\r\n\.\r\nMAIL FROM:<ceo@victim\.test>\r\n/, "the lone dot line is content, with CRLF");
    assert.match(outer[0], /smuggled\r\n\.\r\nmore\r\n$/);
  }
});

test("after all of it the server is alive and delivers", async () => {
  const c = await session();
  const tok = `final-${Date.now()}`;
  assert.equal((await c.send("s@sender.test", [USER], `Subject: ${tok}\r\n\r\nstill here\r\n`)).final.code, 250);
  await c.quit();
  assert.equal(await stored(tok), 1);
  await rowsAndFilesAgree();
  assert.equal(fh.child.exitCode, null);
});
