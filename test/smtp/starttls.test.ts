// STARTTLS (RFC 3207) and implicit TLS with a self-signed certificate made for the test.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import tls from "node:tls";
import { RawClient, selfSignedCert, startServer, tlsContext, until } from "./helpers.ts";
import type { TestServer } from "./helpers.ts";

let ctx: tls.SecureContext;
let t: TestServer;
before(async () => {
  ctx = tlsContext();
  t = await startServer({ listener: { tls: { mode: "starttls", context: ctx } } });
});
after(() => t.close());

test("STARTTLS is advertised, upgrades, resets the session and is then not advertised", async () => {
  const c = await RawClient.connect(t.port);
  const e1 = await c.cmd("EHLO client.test");
  assert.deepEqual(e1.lines, [
    "250-mx.freehold.test Hello client.test [127.0.0.1]",
    "250-PIPELINING",
    "250-SIZE 52428800",
    "250-STARTTLS",
    "250-ENHANCEDSTATUSCODES",
    "250-8BITMIME",
    "250-DSN",
    "250-SMTPUTF8",
    "250-CHUNKING",
    "250 BINARYMIME",
  ]);
  assert.equal((await c.cmd("STARTTLS extra")).raw, "501 5.5.4 This command takes no arguments");
  assert.equal((await c.cmd("STARTTLS")).raw, "220 2.0.0 Ready to start TLS");
  const sock = await c.startTls();
  assert.ok(["TLSv1.2", "TLSv1.3"].includes(sock.getProtocol()!));
  // RFC 3207 §4.2: the EHLO from before TLS is forgotten.
  assert.equal((await c.cmd("MAIL FROM:<a@sender.test>")).raw, "503 5.5.1 Send HELO/EHLO first");
  const e2 = await c.cmd("EHLO client.test");
  assert.ok(!e2.lines.some((l) => l.includes("STARTTLS")));
  assert.equal((await c.cmd("STARTTLS")).raw, "503 5.5.1 TLS already active");
  assert.equal((await c.cmd("MAIL FROM:<a@sender.test>")).code, 250);
  assert.equal((await c.cmd("RCPT TO:<bob@freehold.test>")).code, 250);
  assert.equal((await c.cmd("DATA")).code, 354);
  c.write("Subject: tls\r\n\r\nsecret\r\n.\r\n");
  assert.equal((await c.reply()).code, 250);
  const m = t.handler.messages.at(-1)!;
  assert.equal(m.session.tls?.protocol, sock.getProtocol());
  assert.match(m.end.receivedHeader, /with ESMTPS\r\n\t\(version=TLSv1\.[23] cipher=TLS_[A-Z0-9_]+\)\r\n\tfor <bob@freehold\.test>;/);
  c.close();
});

test("plaintext pipelined after STARTTLS is discarded (CVE-2011-0411)", async () => {
  const c = await RawClient.connect(t.port);
  await c.cmd("EHLO client.test");
  c.write("STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\n");
  assert.equal((await c.reply()).raw, "220 2.0.0 Ready to start TLS");
  await c.startTls();
  // Had the injected MAIL been read, this would be a nested MAIL or its reply would come first.
  assert.equal((await c.cmd("NOOP")).raw, "250 2.0.0 OK");
  assert.equal((await c.cmd("MAIL FROM:<a@sender.test>")).raw, "503 5.5.1 Send HELO/EHLO first");
  c.close();
});

function handshakeTls11(raw: import("node:net").Socket): Promise<tls.TLSSocket> {
  raw.removeAllListeners("data");
  return new Promise<tls.TLSSocket>((resolve, reject) => {
    // SECLEVEL=0 lets this client offer TLS 1.1 at all, so only the server can refuse it.
    const s = tls.connect({ socket: raw, rejectUnauthorized: false, minVersion: "TLSv1", maxVersion: "TLSv1.1", ciphers: "DEFAULT@SECLEVEL=0" });
    s.once("secureConnect", () => resolve(s));
    s.once("error", reject);
  });
}

test("TLS below 1.2 is refused by smtpTlsContext", async () => {
  const c = await RawClient.connect(t.port);
  await c.cmd("EHLO client.test");
  assert.equal((await c.cmd("STARTTLS")).code, 220);
  await assert.rejects(handshakeTls11(c.socket), /protocol version/);
  c.close();
});

test("TLS below 1.2 is cut off even when a permissive context slips through", async () => {
  const cert = selfSignedCert();
  const weak = tls.createSecureContext({ key: cert.key, cert: cert.cert, minVersion: "TLSv1", ciphers: "DEFAULT@SECLEVEL=0" });
  const s = await startServer({ listener: { tls: { mode: "starttls", context: weak } } });
  try {
    const c = await RawClient.connect(s.port);
    await c.cmd("EHLO client.test");
    assert.equal((await c.cmd("STARTTLS")).code, 220);
    // The server completes the handshake, sees TLS 1.1 and drops the connection; depending on
    // timing the client sees that during or right after its handshake.
    try {
      const sock = await handshakeTls11(c.socket);
      assert.equal(sock.getProtocol(), "TLSv1.1");
      await new Promise<void>((r) => sock.once("close", () => r()));
    } catch (e) {
      assert.match(String(e), /disconnected|ECONNRESET/);
    }
    await until(() => s.handler.closes === 1);
    assert.equal(s.handler.messages.length, 0);
  } finally {
    await s.close();
  }
});

test("without a TLS context STARTTLS is neither advertised nor accepted", async () => {
  const plain = await startServer();
  try {
    const c = await RawClient.connect(plain.port);
    const e = await c.cmd("EHLO client.test");
    assert.ok(!e.lines.some((l) => l.includes("STARTTLS")));
    assert.equal((await c.cmd("STARTTLS")).raw, "454 4.7.0 TLS not available");
    c.close();
  } finally {
    await plain.close();
  }
});

test("implicit TLS (submissions role): greeting over TLS, no STARTTLS", async () => {
  const s = await startServer({ listener: { role: "submissions", tls: { mode: "implicit", context: ctx } } });
  try {
    const sock = tls.connect({ port: s.port, host: "127.0.0.1", rejectUnauthorized: false });
    const text = await new Promise<string>((resolve, reject) => {
      let buf = "";
      let sent = false;
      sock.setEncoding("utf8");
      sock.on("data", (d: string) => {
        buf += d;
        if (buf.includes("250 ")) resolve(buf);
        else if (!sent && buf.endsWith("\r\n")) {
          sent = true;
          sock.write("EHLO client.test\r\n");
        }
      });
      sock.once("error", reject);
    });
    assert.match(text, /^220 mx\.freehold\.test ESMTP Freehold\r\n/);
    assert.doesNotMatch(text, /STARTTLS/);
    sock.destroy();
  } finally {
    await s.close();
  }
});
