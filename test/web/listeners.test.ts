// The http and https listeners as `freehold serve` starts them (server/starters.ts): production
// port 80 serves only a redirect (no API), https serves the API with the certificate chosen by
// SNI and picked up again after a renewal without a restart; `freehold audit` lists CLI and API
// changes alike.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import https from "node:https";
import tls from "node:tls";
import { X509Certificate } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import YAML from "yaml";
import { createDataDir, runFreeholdCli, startFreeholdProcess, TEST_PASSWORD } from "../support/freehold.ts";
import type { DataDir, FreeholdProcess } from "../support/freehold.ts";
import { writeSelfSigned } from "../../src/tls/selfsigned.ts";
import { systemClock } from "../../src/clock.ts";

const HOST = "127.0.26.2";
let data: DataDir;
let proc: FreeholdProcess;
let httpPort: number;
let httpsPort: number;

async function freePortOn(host: string): Promise<number> {
  const srv = http.createServer();
  await new Promise<void>((r) => srv.listen(0, host, r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

before(async () => {
  data = await createDataDir({ hostname: "mail.w.test", admin: "admin@w.test" });
  httpPort = await freePortOn(HOST);
  httpsPort = await freePortOn(HOST);
  const file = path.join(data.dir, "freehold.yaml");
  const doc = YAML.parse(await readFile(file, "utf8")) as Record<string, any>;
  doc.listeners.push({ role: "http", address: HOST, port: httpPort }, { role: "https", address: HOST, port: httpsPort });
  // A second certificate for the autoconfig name, chosen by SNI.
  await writeSelfSigned(path.join(data.dir, "tls", "autoconfig.pem"), path.join(data.dir, "tls", "autoconfig.key"), { hostname: "autoconfig.w.test", clock: systemClock });
  doc.tls = { sni: [{ names: ["autoconfig.w.test", "*.auto.w.test"], cert: "tls/autoconfig.pem", key: "tls/autoconfig.key" }] };
  await writeFile(file, YAML.stringify(doc), { mode: 0o600 });
  await runFreeholdCli(["--data", data.dir, "user", "passwd", "admin@w.test", "--password-stdin"], TEST_PASSWORD + "\n");
  proc = await startFreeholdProcess(data, { timeoutMs: 60_000 });
});
after(async () => {
  await proc?.stop();
  await data?.remove();
});

function get(url: string, opts: https.RequestOptions = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string; cert?: tls.PeerCertificate }> {
  const mod = url.startsWith("https:") ? https : http;
  return new Promise((resolve, reject) => {
    const r = mod.request(url, { agent: false, ...opts }, (res) => {
      const chunks: Buffer[] = [];
      const cert = (res.socket as tls.TLSSocket).getPeerCertificate?.();
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), cert }));
    });
    r.on("error", reject);
    r.end();
  });
}

test("production http serves no API: everything redirects to https", async () => {
  for (const p of ["/api/v1/openapi.json", "/api/v1/users", "/"]) {
    const r = await get(`http://${HOST}:${httpPort}${p}`, { headers: { host: "mail.w.test" } });
    assert.equal(r.status, 308, p);
    assert.equal(r.headers.location, `https://mail.w.test${p}`);
    assert.ok(!r.body.includes("openapi"), p);
  }
  // A Host header that is not a host name is not echoed into the redirect.
  const odd = await get(`http://${HOST}:${httpPort}/x`, { headers: { host: "evil.test/<x>" } });
  assert.equal(odd.headers.location, "https://mail.w.test/x");
});

test("https serves the API; SNI picks the certificate by name; renewals are served without a restart", async () => {
  const ca = await readFile(path.join(data.dir, "tls", "cert.pem"));
  const first = await get(`https://${HOST}:${httpsPort}/api/v1/openapi.json`, { ca, servername: "mail.w.test", headers: { host: "mail.w.test" } });
  assert.equal(first.status, 200);
  assert.equal(JSON.parse(first.body).openapi, "3.1.0");
  const fp = (file: string) => readFile(path.join(data.dir, "tls", file)).then((b) => new X509Certificate(b).fingerprint256);
  const served = async (servername: string) =>
    (await get(`https://${HOST}:${httpsPort}/api/v1/openapi.json`, { rejectUnauthorized: false, servername }).catch(() => null))?.cert?.fingerprint256;
  const main0 = await fp("cert.pem");
  const auto0 = await fp("autoconfig.pem");
  assert.equal(first.cert!.fingerprint256, main0);
  assert.equal(await served("autoconfig.w.test"), auto0, "exact SNI name");
  assert.equal(await served("x.auto.w.test"), auto0, "wildcard SNI name");
  assert.equal(await served("other.w.test"), main0, "a name without its own certificate");
  assert.equal(await served(""), main0, "no SNI");

  // Renewal of both: new files in place, SIGHUP (what a certbot hook sends; polling also finds it).
  await writeSelfSigned(path.join(data.dir, "tls", "cert.pem"), path.join(data.dir, "tls", "key.pem"), { hostname: "mail.w.test", clock: systemClock });
  await writeSelfSigned(path.join(data.dir, "tls", "autoconfig.pem"), path.join(data.dir, "tls", "autoconfig.key"), { hostname: "autoconfig.w.test", clock: systemClock });
  const main1 = await fp("cert.pem");
  const auto1 = await fp("autoconfig.pem");
  assert.notEqual(main1, main0);
  assert.notEqual(auto1, auto0);
  proc.child.kill("SIGHUP");
  const deadline = Date.now() + 20_000;
  for (;;) {
    const now = { sni: await served("autoconfig.w.test"), other: await served("other.w.test"), bare: await served("") };
    if (now.sni === auto1 && now.other === main1 && now.bare === main1) break;
    assert.ok(Date.now() < deadline, `still an old certificate: ${JSON.stringify(now)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
});

test("freehold audit lists changes made through the CLI and the API", async () => {
  const ca = await readFile(path.join(data.dir, "tls", "cert.pem"));
  await runFreeholdCli(["--data", data.dir, "domain", "add", "audited.test"]);
  // Log in over https and add a user through the API.
  const login = await new Promise<{ cookie: string; csrf: string }>((resolve, reject) => {
    const body = JSON.stringify({ address: "admin@w.test", password: TEST_PASSWORD });
    const r = https.request(
      `https://${HOST}:${httpsPort}/api/v1/session`,
      { method: "POST", ca, servername: "mail.w.test", agent: false, headers: { host: "mail.w.test", "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
      (res) => {
        let t = "";
        res.on("data", (c) => (t += c));
        res.on("end", () => {
          if (res.statusCode !== 200) return reject(new Error(`${res.statusCode} ${t}`));
          resolve({ cookie: String([res.headers["set-cookie"]].flat()[0]).split(";")[0], csrf: JSON.parse(t).csrfToken });
        });
      },
    );
    r.on("error", reject);
    r.end(body);
  });
  await new Promise<void>((resolve, reject) => {
    const body = JSON.stringify({ address: "web@audited.test", password: "a long password 9" });
    const r = https.request(
      `https://${HOST}:${httpsPort}/api/v1/users`,
      {
        method: "POST",
        ca,
        servername: "mail.w.test",
        agent: false,
        headers: { host: "mail.w.test", "content-type": "application/json", "content-length": Buffer.byteLength(body), cookie: login.cookie, "x-csrf-token": login.csrf },
      },
      (res) => {
        res.resume();
        res.on("end", () => (res.statusCode === 201 ? resolve() : reject(new Error(String(res.statusCode)))));
      },
    );
    r.on("error", reject);
    r.end(body);
  });
  const out = await runFreeholdCli(["--data", data.dir, "audit", "--domain", "audited.test", "--json"]);
  assert.equal(out.code, 0, out.stderr);
  const rows = JSON.parse(out.stdout) as Array<{ actor: string; source: string; action: string; target: string }>;
  assert.deepEqual(
    rows.map((r) => `${r.source} ${r.actor} ${r.action} ${r.target}`),
    ["session admin@w.test user.add web@audited.test", "cli cli domain.add audited.test"],
  );
  const text = await runFreeholdCli(["--data", data.dir, "audit", "--limit", "abc"]);
  assert.equal(text.code, 2);
});
