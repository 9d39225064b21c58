// Certificates from ACME (issue 12 §4) against pebble, Let's Encrypt's test CA (Debian package
// `pebble`): pebble resolves the names through knot on loopback (pointing them at 127.0.24.1)
// and validates HTTP-01 against Freehold's own http listener. Every TLS listener must then serve
// the pebble-issued chain (openssl s_client), a renewal must be served without a restart while
// an IMAP IDLE session stays up, and a failing CA must keep the old certificate and alert.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, stat, writeFile, mkdtemp, rm } from "node:fs/promises";
import { X509Certificate } from "node:crypto";
import https from "node:https";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import YAML from "yaml";
import { ImapFlow } from "imapflow";
import { createDataDir, TEST_PASSWORD } from "../support/freehold.ts";
import type { DataDir } from "../support/freehold.ts";
import { startKnot } from "../support/knot.ts";
import type { KnotServer } from "../support/knot.ts";
import { loadConfig } from "../../src/config/load.ts";
import { openServices } from "../../src/server/services.ts";
import { startServer } from "../../src/server/run.ts";
import type { RunningServer } from "../../src/server/run.ts";
import { protocolStarters } from "../../src/server/starters.ts";
import type { Alert } from "../../src/health/watch/alerts.ts";
import { silentLogger } from "../../src/log/logger.ts";
import acme from "acme-client";
import { ManualClock } from "../../src/clock.ts";

const run = promisify(execFile);
const FH = "127.0.24.1";
const PEBBLE = "127.0.24.2";
const DNS = "127.0.24.3";
const HOST = "mx.acme.test";
const NAMES = [HOST, "mta-sts.acme.test", "autoconfig.acme.test"];
const PEBBLE_BIN = "/usr/bin/pebble";

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

/** The leaf certificate openssl s_client sees on host:port (STARTTLS smtp/imap, or implicit), and whether the chain verified against `caFile`. */
async function sClient(port: number, caFile: string, starttls?: "smtp"): Promise<{ leaf: X509Certificate; verified: boolean }> {
  const args = ["s_client", "-connect", `${FH}:${port}`, "-servername", HOST, "-showcerts", "-CAfile", caFile, "-verify_hostname", HOST, ...(starttls ? ["-starttls", starttls] : [])];
  const out = await new Promise<string>((resolve, reject) => {
    const p = spawn("openssl", args, { stdio: ["pipe", "pipe", "pipe"] });
    let text = "";
    p.stdout.on("data", (d) => (text += d));
    p.stderr.on("data", (d) => (text += d));
    p.on("error", reject);
    p.on("close", () => resolve(text));
    p.stdin.end("QUIT\r\n");
  });
  const pem = out.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/);
  assert.ok(pem, `no certificate from ${port}: ${out.slice(0, 500)}`);
  return { leaf: new X509Certificate(pem[0]), verified: /Verify return code: 0 \(ok\)/.test(out) };
}

async function startPebble(dir: string, httpPort: number, tlsPort: number, dnsPort: number): Promise<{ child: ChildProcess; url: string; rootPem: () => Promise<string>; stop(): Promise<void> }> {
  // Pebble's own HTTPS certificate, from a throwaway CA the server is told to trust (acme.caFile).
  const ssl = (args: string[]) => run("openssl", args, { cwd: dir });
  await ssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=pebble test CA"]);
  await ssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "req.csr", "-subj", "/CN=pebble"]);
  await writeFile(path.join(dir, "ext.cnf"), `subjectAltName=IP:${PEBBLE}\n`);
  await ssl(["x509", "-req", "-in", "req.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "cert.pem", "-days", "2", "-extfile", "ext.cnf"]);
  const port = await freePortOn(PEBBLE);
  const mgmt = await freePortOn(PEBBLE);
  await writeFile(
    path.join(dir, "pebble.json"),
    JSON.stringify({ pebble: { listenAddress: `${PEBBLE}:${port}`, managementListenAddress: `${PEBBLE}:${mgmt}`, certificate: path.join(dir, "cert.pem"), privateKey: path.join(dir, "key.pem"), httpPort, tlsPort, ocspResponderURL: "", externalAccountBindingRequired: false } }),
  );
  const child = spawn(PEBBLE_BIN, ["-config", path.join(dir, "pebble.json"), "-dnsserver", `${DNS}:${dnsPort}`, "-strict=false"], {
    env: { ...process.env, PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0", PEBBLE_AUTHZREUSE: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout!.on("data", (d) => (log += d));
  child.stderr!.on("data", (d) => (log += d));
  const deadline = Date.now() + 30_000;
  while (!/Listening on/.test(log)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`pebble did not start: ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const exited = new Promise((r) => child.once("exit", r));
  return {
    child,
    url: `https://${PEBBLE}:${port}/dir`,
    // The root pebble signs with (made at its start): the trust anchor for s_client.
    rootPem: async () => {
      const ca = await readFile(path.join(dir, "ca.pem"));
      return new Promise<string>((resolve, reject) => {
        https.get(`https://${PEBBLE}:${mgmt}/roots/0`, { ca }, (res) => {
          let body = "";
          res.on("data", (d) => (body += d));
          res.on("end", () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`pebble roots: ${res.statusCode}`))));
        }).on("error", reject);
      });
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}

describe("ACME certificates from pebble", { skip: !existsSync(PEBBLE_BIN) && "pebble not installed (scripts/install-peers.sh)" }, () => {
  let knot: KnotServer;
  let data: DataDir;
  let tmp: string;
  let pebble: Awaited<ReturnType<typeof startPebble>>;
  let server: RunningServer;
  let rootFile: string;
  const alerts: Alert[] = [];
  const ports: Record<string, number> = {};
  const clock = new ManualClock(Date.now());
  let live: Awaited<ReturnType<typeof loadConfig>>;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), "fh-acme-"));
    knot = await startKnot({ test: { "mx.acme": { A: [FH] }, "mta-sts.acme": { A: [FH] }, "autoconfig.acme": { A: [FH] } } }, { host: DNS });
    for (const r of ["mx", "submission", "submissions", "imaps", "http", "https"]) ports[r] = await freePortOn(FH);
    pebble = await startPebble(tmp, ports.http!, ports.https!, knot.port);
    data = await createDataDir({ hostname: HOST, domains: ["acme.test"], users: [{ address: "ann@acme.test" }], dnsServers: [knot.address] });
    const file = path.join(data.dir, "freehold.yaml");
    const doc = YAML.parse(await readFile(file, "utf8")) as Record<string, unknown>;
    doc.listeners = Object.entries(ports).map(([role, port]) => ({ role, address: FH, port }));
    doc.acme = { enabled: true, directoryUrl: pebble.url, caFile: path.join(tmp, "ca.pem"), email: "admin@acme.test" };
    await writeFile(file, YAML.stringify(doc), { mode: 0o600 });
    const config = await loadConfig(data.dir);
    const services = await openServices(config, { logger: silentLogger(), clock });
    live = services.config;
    server = await startServer(services, { starters: protocolStarters() });
    // Alerts still go to the real sinks; the test also keeps a copy.
    const w = server.watching!;
    const real = w.alert.bind(w);
    w.alert = async (a) => {
      alerts.push(a);
      await real(a);
    };
    rootFile = path.join(tmp, "root.pem");
    await writeFile(rootFile, await pebble.rootPem());
  });

  after(async () => {
    await server?.stop({ graceMs: 1000 });
    await pebble?.stop();
    await knot?.stop();
    await data?.remove();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  async function waitIssued(): Promise<X509Certificate> {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const st = await server.acme!.state();
      if (st) return new X509Certificate(await readFile(path.join(data.dir, "tls/cert.pem")));
      if (Date.now() > deadline) throw new Error("no certificate issued in 2 minutes");
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it("issues a certificate for the mail host, mta-sts. and autoconfig., keys 0600, served by every TLS listener", async () => {
    const cert = await waitIssued();
    for (const n of NAMES) assert.ok(cert.checkHost(n), `certificate covers ${n}: ${cert.subjectAltName}`);
    assert.equal((await stat(path.join(data.dir, "tls/key.pem"))).mode & 0o777, 0o600);
    assert.equal((await stat(path.join(data.dir, "acme/account-key.pem"))).mode & 0o777, 0o600);
    // The reload is immediate after the files are written; give the https default context its connection.
    for (const [role, starttls] of [["mx", "smtp"], ["submission", "smtp"], ["submissions", undefined], ["imaps", undefined], ["https", undefined]] as const) {
      const seen = await sClient(ports[role]!, rootFile, starttls);
      assert.equal(seen.leaf.serialNumber, cert.serialNumber, `${role} serves the issued certificate`);
      assert.ok(seen.verified, `${role}: chain verifies against pebble's root`);
    }
  });

  it("a forced renewal is served at once, without a restart, while an IMAP IDLE session stays connected", async () => {
    const before = await waitIssued();
    const imap = new ImapFlow({ host: FH, port: ports.imaps!, secure: true, tls: { rejectUnauthorized: false }, auth: { user: "ann@acme.test", pass: TEST_PASSWORD }, logger: false });
    await imap.connect();
    await imap.mailboxOpen("INBOX");
    const idle = imap.idle();
    assert.equal(await server.acme!.renew("test"), true);
    const after = new X509Certificate(await readFile(path.join(data.dir, "tls/cert.pem")));
    assert.notEqual(after.serialNumber, before.serialNumber);
    for (const [role, starttls] of [["mx", "smtp"], ["imaps", undefined], ["https", undefined]] as const) {
      assert.equal((await sClient(ports[role]!, rootFile, starttls)).leaf.serialNumber, after.serialNumber, `${role} serves the renewed certificate`);
    }
    assert.ok(imap.usable, "the IDLE session is still up");
    await imap.noop(); // ends IDLE, round-trips on the same connection
    void idle;
    await imap.logout();
  });

  it("on the injected clock, the scheduled check renews once a third of the lifetime is left, not before", async () => {
    const current = new X509Certificate(await readFile(path.join(data.dir, "tls/cert.pem")));
    assert.equal(await server.acme!.check(), false, "not due yet");
    const st = (await server.acme!.state())!;
    const life = st.notAfter - st.notBefore;
    clock.set(st.notAfter - life / 3 - life * 0.1 - 60_000);
    assert.equal(await server.acme!.check(), false, "not due before the jittered window");
    clock.set(st.notAfter - life / 3 + 60_000);
    assert.equal(await server.acme!.check(), true, "due");
    const renewed = new X509Certificate(await readFile(path.join(data.dir, "tls/cert.pem")));
    assert.notEqual(renewed.serialNumber, current.serialNumber);
    assert.equal((await sClient(ports.submissions!, rootFile)).leaf.serialNumber, renewed.serialNumber);
  });

  it("TLS-ALPN-01 (RFC 8737) on the https listener: pebble validates acme-tls/1 against it", async () => {
    const current = new X509Certificate(await readFile(path.join(data.dir, "tls/cert.pem")));
    live.acme.challenges = ["tls-alpn-01"];
    try {
      assert.equal(await server.acme!.renew("test"), true);
    } finally {
      live.acme.challenges = ["http-01", "tls-alpn-01"];
    }
    const renewed = new X509Certificate(await readFile(path.join(data.dir, "tls/cert.pem")));
    assert.notEqual(renewed.serialNumber, current.serialNumber);
    // Ordinary clients on https still get the server certificate and http/1.1.
    assert.equal((await sClient(ports.https!, rootFile)).leaf.serialNumber, renewed.serialNumber);
    // acme-tls/1 with no challenge pending: the handshake is refused (RFC 8737 §3).
    const out = await run("openssl", ["s_client", "-connect", `${FH}:${ports.https}`, "-servername", HOST, "-alpn", "acme-tls/1"], { timeout: 20_000 }).then((r) => r.stdout + r.stderr, (e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ""}${e.stderr ?? ""}`);
    assert.doesNotMatch(out, /ALPN protocol: acme-tls\/1/);
  });

  it("a failing CA keeps the old certificate in service and raises the tls.acme alert", async () => {
    const current = new X509Certificate(await readFile(path.join(data.dir, "tls/cert.pem")));
    await pebble.stop();
    // acme-client retries a refused request 5 times with growing delays (about a minute in
    // all); production keeps that, the test takes the first refusal.
    const settings = (acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number } }).acmeSettings;
    settings.retryMaxAttempts = 0;
    assert.equal(await server.acme!.renew("test"), false);
    const a = alerts.find((x) => x.checkId === "tls.acme" && x.kind === "problem");
    assert.ok(a, "alert raised");
    assert.match(a.message, /failed/);
    assert.equal((await sClient(ports.mx!, rootFile, "smtp")).leaf.serialNumber, current.serialNumber);
    // Back-off: a scheduled check right after does not hammer the CA.
    assert.equal(await server.acme!.check(), false);
  });
});
