// SIGHUP and SIGTERM on `freehold serve` (issue 12 §2): SIGHUP re-reads the config and the
// certificate files without dropping an open connection, and names what needs a restart;
// SIGTERM drains: 421 to SMTP sessions, BYE to IMAP sessions, exit 0 within the bound.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import tls from "node:tls";
import { promisify } from "node:util";
import YAML from "yaml";
import { createDataDir, logLines, startFreeholdProcess, waitForLog } from "../support/freehold.ts";
import type { DataDir, FreeholdProcess } from "../support/freehold.ts";

const run = promisify(execFile);
const HOST = "127.0.24.10";

async function freePortOn(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, host, () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/** A line-oriented client: collects what the server sends. */
function lineClient(port: number): Promise<{ sock: net.Socket; text: () => string; until(re: RegExp, ms?: number): Promise<string>; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: HOST, port });
    let buf = "";
    sock.on("data", (d) => (buf += d));
    sock.on("error", () => undefined);
    const closed = new Promise<void>((r) => sock.once("close", () => r()));
    sock.once("connect", () =>
      resolve({
        sock,
        text: () => buf,
        closed,
        async until(re, ms = 20_000) {
          const deadline = Date.now() + ms;
          while (!re.test(buf)) {
            if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}; got ${JSON.stringify(buf)}`);
            await new Promise((r) => setTimeout(r, 20));
          }
          return buf;
        },
      }),
    );
    sock.once("error", reject);
  });
}

async function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: HOST, port, rejectUnauthorized: false }, () => {
      const serial = s.getPeerX509Certificate()!.serialNumber;
      s.destroy();
      resolve(serial);
    });
    s.once("error", reject);
  });
}

describe("signals", () => {
  let data: DataDir;
  let fh: FreeholdProcess;
  const ports: Record<string, number> = {};

  before(async () => {
    for (const r of ["mx", "imap", "imaps"]) ports[r] = await freePortOn(HOST);
    data = await createDataDir({ config: { listeners: Object.entries(ports).map(([role, port]) => ({ role, address: HOST, port })) } });
    data.mxPort = ports.mx!;
    fh = await startFreeholdProcess(data);
  });

  after(async () => {
    if (fh && fh.child.exitCode === null) await fh.stop();
    await data?.remove();
  });

  it("bring-your-own certificate files are reloaded when they change, no signal needed", async () => {
    const before = await servedSerial(ports.imaps!);
    await run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path.join(data.dir, "tls/key.pem"), "-out", path.join(data.dir, "tls/cert.pem"), "-days", "2", "-subj", "/CN=mx.freehold.test"]);
    const want = new X509Certificate(await readFile(path.join(data.dir, "tls/cert.pem"))).serialNumber;
    const deadline = Date.now() + 30_000;
    let seen = before;
    while (seen !== want) {
      assert.ok(Date.now() < deadline, "the changed files were not picked up in 30 s");
      await new Promise((r) => setTimeout(r, 250));
      seen = await servedSerial(ports.imaps!);
    }
    assert.notEqual(seen, before);
  });

  it("SIGHUP reloads config and certificate without dropping an IMAP session, and logs what needs a restart", async () => {
    const imap = await lineClient(ports.imap!);
    await imap.until(/^\* OK/m);
    const before = await servedSerial(ports.imaps!);
    // A new certificate in place, and a setting that needs a restart.
    await run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path.join(data.dir, "tls/key.pem"), "-out", path.join(data.dir, "tls/cert.pem"), "-days", "2", "-subj", "/CN=mx.freehold.test"]);
    const file = path.join(data.dir, "freehold.yaml");
    const doc = YAML.parse(await readFile(file, "utf8")) as Record<string, Record<string, unknown>>;
    doc.smtp = { ...(doc.smtp ?? {}), maxRecipients: 250 };
    doc.acme = { ...(doc.acme ?? {}), renewWhenLeft: 0.5 };
    await writeFile(file, YAML.stringify(doc), { mode: 0o600 });
    fh.child.kill("SIGHUP");
    const line = await waitForLog(fh, "SIGHUP: configuration reloaded", 20_000);
    assert.deepEqual(line.applied, ["acme"]);
    assert.deepEqual(line.restartNeeded, ["smtp"]);
    // SIGHUP reloads the pair at once (the file poll would also get there within seconds).
    const want = new X509Certificate(await readFile(path.join(data.dir, "tls/cert.pem"))).serialNumber;
    const deadline = Date.now() + 20_000;
    let after = await servedSerial(ports.imaps!);
    while (after !== want) {
      assert.ok(Date.now() < deadline, "the new certificate is not served after SIGHUP");
      await new Promise((r) => setTimeout(r, 100));
      after = await servedSerial(ports.imaps!);
    }
    assert.notEqual(after, before, "the new certificate is served");
    // Log lines are flushed within 100 ms (buffered logging): wait for it, with a bound.
    const logDeadline = Date.now() + 5_000;
    while (!logLines(fh.output()).some((l) => l.msg === "TLS certificate reloaded" && l.reason === "SIGHUP")) {
      assert.ok(Date.now() < logDeadline, "reloaded for SIGHUP");
      await new Promise((r) => setTimeout(r, 50));
    }
    // The IMAP session opened before the SIGHUP still answers.
    imap.sock.write("a1 NOOP\r\n");
    await imap.until(/^a1 OK/m);
    assert.equal(fh.child.exitCode, null, "still running");
    imap.sock.destroy();
  });

  it("SIGTERM: 421 to an open SMTP session, BYE to an IMAP session, exit 0 within the bound", async () => {
    const smtp = await lineClient(ports.mx!);
    await smtp.until(/^220 /m);
    smtp.sock.write("EHLO client.test\r\n");
    await smtp.until(/^250 /m);
    const imap = await lineClient(ports.imap!);
    await imap.until(/^\* OK/m);
    const t0 = Date.now();
    const code = fh.stop();
    await smtp.until(/^421 /m);
    await imap.until(/^\* BYE/m);
    assert.equal(await code, 0);
    assert.ok(Date.now() - t0 < 40_000, "drained within the bound");
    // New connections are no longer accepted.
    await assert.rejects(lineClient(ports.mx!));
  });
});
