// Issue 17: TLS and socket failures on the IMAP listener end that connection, never the server.
// A STARTTLS whose handshake fails (the client sends anything but a ClientHello) closes the
// connection without a plain-text answer after it; an implicit-TLS handshake that fails, and
// clients that reset while being refused for the per-address limit, leave the listener serving.
// (The last one is a regression test: the refused socket had no 'error' listener, so a reset
// during the BYE threw ECONNRESET out of the event loop and ended `serve`.)
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { systemClock } from "../../src/clock.ts";
import { createSelfSigned } from "../../src/tls/selfsigned.ts";
import { PASSWORD, USER, startHarness } from "./harness.ts";
import { RawClient } from "./raw-client.ts";

async function context(): Promise<tls.SecureContext> {
  const pem = await createSelfSigned({ hostname: "localhost", altNames: ["127.0.0.1"], clock: systemClock });
  return tls.createSecureContext({ cert: pem.cert, key: pem.key });
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => resolve(s)).once("error", reject);
  });
}

function closed(sock: net.Socket, ms = 15_000): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    sock.on("error", () => undefined);
    sock.once("close", () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

async function until(cond: () => boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end && !cond()) await new Promise((r) => setTimeout(r, 25));
  return cond();
}

test("a failed STARTTLS handshake closes that connection; the server goes on", async () => {
  const h = await startHarness({ allowPlaintextAuth: false, listener: { tls: "starttls", secureContext: await context() } });
  try {
    const sock = await connect(h.port);
    let got = "";
    sock.on("data", (d: Buffer) => (got += d.toString("latin1")));
    const gone = closed(sock);
    await until(() => got.includes("\r\n"));
    sock.write("s1 STARTTLS\r\n");
    assert.ok(await until(() => /s1 OK/.test(got)), got);
    // Not a TLS ClientHello.
    sock.write("this is not TLS at all\r\n".repeat(4));
    assert.ok(await gone, "the server closed the connection");
    assert.doesNotMatch(got, /s1 OK[\s\S]*(NO|BAD)/, "no plain-text answer after the failed handshake");
    assert.ok(await until(() => h.server.connections === 0), "the session ended");
    // The next client is served as usual.
    const a = await RawClient.connect(h.port);
    assert.match((await a.cmd("CAPABILITY")).untagged[0], /STARTTLS/);
    a.close();
  } finally {
    await h.close();
  }
});

test("a failed implicit-TLS handshake and resets while refused at the per-address limit leave the listener serving", async () => {
  const h = await startHarness({ allowPlaintextAuth: false, listener: { role: "imaps", tls: "implicit", secureContext: await context() }, limits: { maxConnectionsPerIp: 1 } });
  try {
    const bad = await connect(h.port);
    const badGone = closed(bad);
    bad.write("GET / HTTP/1.0\r\n\r\n");
    assert.ok(await badGone, "the server closed the non-TLS connection");
    assert.ok(await until(() => h.server.connections === 0));

    const first = tls.connect({ host: "127.0.0.1", port: h.port, rejectUnauthorized: false });
    await new Promise<void>((r) => first.once("secureConnect", () => r()));
    assert.ok(await until(() => h.server.connections === 1));
    // Over the limit: each is refused with BYE while it resets at once.
    for (let i = 0; i < 20; i++) {
      const s = await connect(h.port);
      s.on("error", () => undefined);
      s.resetAndDestroy();
    }
    first.destroy();
    assert.ok(await until(() => h.server.connections === 0));
    const sec = tls.connect({ host: "127.0.0.1", port: h.port, rejectUnauthorized: false });
    let got = "";
    sec.on("data", (d: Buffer) => (got += d.toString()));
    await until(() => got.includes("\r\n"));
    sec.write(`i1 LOGIN "${USER}" "${PASSWORD}"\r\n`);
    assert.ok(await until(() => /i1 OK/.test(got)), got);
    sec.destroy();
  } finally {
    await h.close();
  }
});
