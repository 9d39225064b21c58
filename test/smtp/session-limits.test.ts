// Timeouts, the error limit, shutdown, the pregreet test and per-client connection limits.
import { test } from "node:test";
import assert from "node:assert/strict";
import { RawClient, ehloClient, startServer, until } from "./helpers.ts";
import { SmtpError } from "../../src/smtp/errors.ts";

test("idle command timeout: 421 4.4.2 and close", async () => {
  const t = await startServer({ limits: { commandTimeoutMs: 150 } });
  try {
    const c = await ehloClient(t.port);
    const start = Date.now();
    assert.equal((await c.reply()).raw, "421 4.4.2 Timeout exceeded, closing connection");
    await c.closed();
    assert.ok(Date.now() - start >= 100);
  } finally {
    await t.close();
  }
});

test("data timeout mid-DATA: 421 4.4.2, sink aborted", async () => {
  const t = await startServer({ limits: { dataTimeoutMs: 150 } });
  try {
    const c = await ehloClient(t.port);
    assert.equal((await c.cmd("MAIL FROM:<a@sender.test>")).code, 250);
    assert.equal((await c.cmd("RCPT TO:<bob@freehold.test>")).code, 250);
    assert.equal((await c.cmd("DATA")).code, 354);
    c.write("Subject: slow\r\n\r\n");
    assert.equal((await c.reply()).raw, "421 4.4.2 Timeout exceeded, closing connection");
    await c.closed();
    await until(() => t.handler.aborted.length === 1);
    assert.equal(t.handler.messages.length, 0);
  } finally {
    await t.close();
  }
});

test("the 20th error closes the session with 421", async () => {
  const t = await startServer();
  try {
    const c = await ehloClient(t.port);
    for (let i = 1; i < 20; i++) assert.equal((await c.cmd("BOGUS")).code, 500, `error ${i}`);
    c.write("BOGUS\r\n");
    assert.equal((await c.reply()).code, 500);
    assert.equal((await c.reply()).raw, "421 4.7.0 Too many errors, closing connection");
    await c.closed();
  } finally {
    await t.close();
  }
});

test("shutdown sends 421 4.3.2 to idle sessions and to one in mid-DATA", async () => {
  const t = await startServer();
  const idle = await ehloClient(t.port);
  const busy = await ehloClient(t.port);
  assert.equal((await busy.cmd("MAIL FROM:<a@sender.test>")).code, 250);
  assert.equal((await busy.cmd("RCPT TO:<bob@freehold.test>")).code, 250);
  assert.equal((await busy.cmd("DATA")).code, 354);
  busy.write("Subject: half\r\n");
  await new Promise((r) => setTimeout(r, 20));
  const done = t.server.shutdown(2000);
  assert.equal((await idle.reply()).raw, "421 4.3.2 Service shutting down, closing connection");
  assert.equal((await busy.reply()).raw, "421 4.3.2 Service shutting down, closing connection");
  await Promise.all([idle.closed(), busy.closed(), done]);
  assert.equal(t.handler.aborted.length, 1);
  assert.equal(t.handler.messages.length, 0);
  assert.equal(t.server.connectionCount, 0);
});

test("pregreet: a client that talks first gets 554 and is cut off; a patient one passes and is cached", async () => {
  const t = await startServer({ pregreet: { delayMs: 300, exemptLoopback: false } });
  try {
    const early = await RawClient.connect(t.port, { greeting: false });
    early.write("EHLO hasty.test\r\n");
    // The teaser line (postscreen's multi-line greeting) came first; then the verdict.
    const r = await early.reply();
    assert.deepEqual(r.lines, ["220-mx.freehold.test ESMTP Freehold", "554 5.5.0 Protocol error: client spoke before the greeting"]);
    await early.closed();

    // A bot that answers the first greeting line without waiting for the last one.
    const eager = await RawClient.connect(t.port, { greeting: false });
    await until(() => eager.pending.startsWith("220-"));
    eager.write("EHLO eager.test\r\n");
    assert.equal((await eager.reply()).code, 554);
    await eager.closed();

    const start = Date.now();
    const patient = await RawClient.connect(t.port);
    assert.ok(Date.now() - start >= 250, "greeting was delayed");
    patient.close();

    const again = Date.now();
    const cached = await RawClient.connect(t.port);
    assert.ok(Date.now() - again < 200, "pass was cached");
    cached.close();

    // The cache entry expires with the injected clock.
    t.clock.advance(25 * 3600_000);
    const s2 = Date.now();
    const retest = await RawClient.connect(t.port);
    assert.ok(Date.now() - s2 >= 250, "retested after the TTL");
    retest.close();
  } finally {
    await t.close();
  }
});

test("without the pregreet wait, input before the greeting still marks an early talker", async () => {
  const t = await startServer();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  t.handler.connect = () => gate;
  try {
    const c = await RawClient.connect(t.port, { greeting: false });
    c.write("EHLO quick.test\r\nMAIL FROM:<a@b.test>\r\n");
    await new Promise((r) => setTimeout(r, 50));
    release();
    assert.equal((await c.reply()).raw, "554 5.5.0 Protocol error: client spoke before the greeting");
    await c.closed();
  } finally {
    await t.close();
  }
});

test("pregreet is off for loopback by default and for non-mx roles", async () => {
  const t = await startServer({ pregreet: { delayMs: 2000 } });
  const u = await startServer({ pregreet: { delayMs: 2000, exemptLoopback: false }, listener: { role: "submission" } });
  try {
    const start = Date.now();
    (await RawClient.connect(t.port)).close();
    (await RawClient.connect(u.port)).close();
    assert.ok(Date.now() - start < 1000);
  } finally {
    await t.close();
    await u.close();
  }
});

test("per-client connection limit: 421 4.7.0 beyond it, a slot frees on close", async () => {
  const t = await startServer({ maxConnectionsPerClient: 2 });
  try {
    const a = await RawClient.connect(t.port);
    const b = await RawClient.connect(t.port);
    const c = await RawClient.connect(t.port, { greeting: false });
    assert.equal((await c.reply()).raw, "421 4.7.0 Too many connections from your network, try again later");
    await c.closed();
    a.close();
    await until(() => t.server.connectionCount === 1);
    const d = await RawClient.connect(t.port);
    d.close();
    b.close();
  } finally {
    await t.close();
  }
});

test("the connect hook may refuse a client", async () => {
  const t = await startServer();
  t.handler.connect = async () => {
    throw new SmtpError("connectionRefused", "Listed at a DNSBL");
  };
  try {
    const c = await RawClient.connect(t.port, { greeting: false });
    assert.equal((await c.reply()).raw, "554 5.7.1 Listed at a DNSBL");
    await c.closed();
    await until(() => t.handler.closes === 1);
  } finally {
    await t.close();
  }
});

test("a connect hook that fails (local fault) gets 421, not a 5xx", async () => {
  const t = await startServer();
  t.handler.connect = async () => {
    throw new Error("DNSBL resolver exploded");
  };
  try {
    const c = await RawClient.connect(t.port, { greeting: false });
    assert.equal((await c.reply()).raw, "421 4.3.0 mx.freehold.test Local error, try again later");
    await c.closed();
  } finally {
    await t.close();
  }
});
