import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { ManualClock } from "../clock.ts";
import { writeSelfSigned } from "./selfsigned.ts";
import { loadTlsContext, TlsFilesError } from "./context.ts";

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "freehold-tls-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function handshake(ctx: tls.SecureContext, client: tls.ConnectionOptions): Promise<{ protocol: string | null; authorized: boolean; peerCN: unknown }> {
  return new Promise((resolve, reject) => {
    // The way listeners use the context: wrap an accepted socket (as STARTTLS does).
    const server = net.createServer((raw) => {
      const s = new tls.TLSSocket(raw, { isServer: true, secureContext: ctx });
      s.on("secure", () => s.end());
      s.on("error", () => raw.destroy());
    });
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      const sock = tls.connect({ host: "127.0.0.1", port, ...client }, () => {
        const r = { protocol: sock.getProtocol(), authorized: sock.authorized, peerCN: sock.getPeerCertificate().subject?.CN };
        sock.end();
        server.close();
        resolve(r);
      });
      sock.on("error", (err) => {
        server.close();
        reject(err);
      });
    });
  });
}

test("self-signed certificate: files, modes, names, validity", async () => {
  await withTmp(async (dir) => {
    const clock = new ManualClock(Date.UTC(2026, 5, 1));
    const certPath = path.join(dir, "tls", "cert.pem");
    const keyPath = path.join(dir, "tls", "key.pem");
    await writeSelfSigned(certPath, keyPath, { hostname: "mail.example.test", altNames: ["localhost", "127.0.0.1"], clock });
    assert.equal((await stat(keyPath)).mode & 0o777, 0o600);
    assert.equal((await stat(certPath)).mode & 0o777, 0o644);
    const cert = new X509Certificate(await readFile(certPath));
    assert.equal(cert.subject, "CN=mail.example.test");
    assert.match(cert.subjectAltName ?? "", /DNS:mail\.example\.test/);
    assert.match(cert.subjectAltName ?? "", /DNS:localhost/);
    assert.match(cert.subjectAltName ?? "", /IP Address:127\.0\.0\.1/);
    assert.equal(cert.issuer, cert.subject);
    assert.ok(cert.verify(cert.publicKey), "self-signed");
    assert.equal(cert.publicKey.asymmetricKeyType, "ec");
    assert.ok(Date.parse(cert.validFrom) <= clock.now());
    assert.ok(Date.parse(cert.validTo) > clock.now() + 365 * 24 * 3600 * 1000);
    assert.equal(cert.checkHost("mail.example.test"), "mail.example.test");
  });
});

test("the context serves TLS 1.2+ and a client trusting the cert verifies it", async () => {
  await withTmp(async (dir) => {
    const certPath = path.join(dir, "cert.pem");
    const keyPath = path.join(dir, "key.pem");
    await writeSelfSigned(certPath, keyPath, { hostname: "mail.example.test", clock: new ManualClock(Date.now()) });
    const loaded = await loadTlsContext(certPath, keyPath);
    assert.equal(loaded.subject, "CN=mail.example.test");
    const ca = await readFile(certPath);
    const r = await handshake(loaded.context, { ca, servername: "mail.example.test" });
    assert.equal(r.authorized, true);
    assert.equal(r.peerCN, "mail.example.test");
    assert.match(r.protocol ?? "", /^TLSv1\.[23]$/);
    await assert.rejects(handshake(loaded.context, { rejectUnauthorized: false, maxVersion: "TLSv1.1", minVersion: "TLSv1" }));

    // `options` serve tls.createServer, also for clients that send no SNI (connecting by IP).
    const server = tls.createServer(loaded.options, (s) => s.end());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    try {
      const { port } = server.address() as AddressInfo;
      // Connecting by IP sends no SNI; the name check is skipped since an IP is not in the cert.
      const cn = await new Promise<unknown>((resolve, reject) => {
        const s = tls.connect({ host: "127.0.0.1", port, ca, checkServerIdentity: () => undefined }, () => {
          resolve(s.authorized ? s.getPeerCertificate().subject?.CN : s.authorizationError);
          s.end();
        });
        s.on("error", reject);
      });
      assert.equal(cn, "mail.example.test");
    } finally {
      server.close();
    }
  });
});

test("missing or mismatched files give errors naming the file", async () => {
  await withTmp(async (dir) => {
    const clock = new ManualClock(Date.now());
    await writeSelfSigned(path.join(dir, "a.pem"), path.join(dir, "a.key"), { hostname: "a.test", clock });
    await writeSelfSigned(path.join(dir, "b.pem"), path.join(dir, "b.key"), { hostname: "b.test", clock });
    await assert.rejects(loadTlsContext(path.join(dir, "nope.pem"), path.join(dir, "a.key")), (e: Error) => e instanceof TlsFilesError && e.message.includes("nope.pem"));
    await assert.rejects(loadTlsContext(path.join(dir, "a.pem"), path.join(dir, "b.key")), (e: Error) => e instanceof TlsFilesError && e.message.includes("b.key"));
    await writeFile(path.join(dir, "junk.pem"), "not a cert");
    await assert.rejects(loadTlsContext(path.join(dir, "junk.pem"), path.join(dir, "a.key")), /junk\.pem: not a PEM certificate/);
  });
});
