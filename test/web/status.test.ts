// GET /api/v1/status (src/status/status.ts): the certificates the server has loaded and the data
// folder's disk, for server admins only. The figures are checked against the data folder's own
// certificate (read with openssl's parser in node:crypto) and against statfs.
// Loopback block 127.0.30.0/24.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, statfs, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { serverStatus, ServerStatusSchema } from "../../src/status/status.ts";
import { createSelfSigned } from "../../src/tls/selfsigned.ts";
import { loadTlsContext } from "../../src/tls/context.ts";
import { startWeb } from "./harness.ts";
import type { Web } from "./harness.ts";

let w: Web;

before(async () => {
  w = await startWeb({ host: "127.0.30.1" });
});
after(async () => {
  await w?.close();
});

test("status: a server admin sees the dev certificate and the disk; figures are plausible", async () => {
  const admin = await w.req("GET", "/api/v1/status", { token: await w.token("admin@a.test", "server") });
  assert.equal(admin.status, 200, admin.text);
  const s = ServerStatusSchema.parse(admin.json);

  const leaf = new X509Certificate(await readFile(path.join(w.data.dir, "tls", "cert.pem")));
  assert.equal(s.certificates.length, 1);
  const c = s.certificates[0];
  assert.equal(c.use, "main");
  assert.deepEqual(c.names, ["mail.a.test"]);
  assert.equal(c.notAfter, new Date(leaf.validTo).toISOString());
  assert.equal(c.issuer, "CN=mail.a.test"); // self-signed: the issuer is the subject
  const expectDays = Math.floor((Date.parse(leaf.validTo) - Date.now()) / 86_400_000);
  assert.ok(Math.abs(c.daysLeft - expectDays) <= 1, `${c.daysLeft} vs ${expectDays}`);
  assert.ok(c.daysLeft > 800, "init's self-signed certificate lasts 825 days");

  const fsinfo = await statfs(w.data.dir);
  assert.equal(s.disk.sizeBytes, fsinfo.blocks * fsinfo.bsize);
  assert.ok(s.disk.freeBytes > 0 && s.disk.freeBytes <= s.disk.sizeBytes);
  assert.ok(s.disk.freePercent >= 0 && s.disk.freePercent <= 100);
  const names = s.disk.databases.map((d) => d.name);
  assert.ok(names.includes("meta.sqlite"), names.join(","));
  assert.ok(s.disk.databaseBytes > 0 && s.disk.databaseBytes < s.disk.sizeBytes);
  assert.equal(s.disk.databaseBytes, s.disk.databases.reduce((n, d) => n + d.bytes, 0));
  assert.deepEqual(s.thresholds, { daysLeft: 14, freePercent: 10 });

  // A session works the same as a token.
  const sess = await w.login("admin@a.test");
  assert.equal((await w.req("GET", "/api/v1/status", { cookie: sess.cookie })).status, 200);
});

test("status: domain admins, users and domain/user-scoped tokens get 403; no login 401", async () => {
  const cases: Array<[string, { token?: string; cookie?: string }]> = [
    ["domain admin token", { token: await w.token("da@a.test", "domain") }],
    ["domain admin session", { cookie: (await w.login("da@a.test")).cookie }],
    ["user token", { token: await w.token("u@a.test", "user") }],
    ["user session", { cookie: (await w.login("u@a.test")).cookie }],
    ["server admin's domain-scoped token", { token: await w.token("admin@a.test", "domain") }],
  ];
  for (const [name, auth] of cases) {
    const r = await w.req("GET", "/api/v1/status", auth);
    assert.equal(r.status, 403, `${name}: ${r.text}`);
    assert.match(String(r.headers["content-type"]), /application\/problem\+json/, name);
  }
  assert.equal((await w.req("GET", "/api/v1/status")).status, 401);


});

test("status: tls.sni certificates are listed beside the main one, a near expiry counts down", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "freehold-status-"));
  try {
    const pem = await createSelfSigned({ hostname: "mail.b.test", altNames: ["autoconfig.b.test"], days: 5, clock: { now: () => Date.now() } });
    await writeFile(path.join(dir, "cert.pem"), pem.cert);
    await writeFile(path.join(dir, "key.pem"), pem.key);
    const sni = await loadTlsContext(path.join(dir, "cert.pem"), path.join(dir, "key.pem"));
    const s = ServerStatusSchema.parse(await serverStatus({ main: w.services.tls, sni: () => [sni], dataDir: w.data.dir, now: () => Date.now() }));
    assert.deepEqual(s.certificates.map((c) => c.use), ["main", "sni"]);
    const c = s.certificates[1];
    assert.deepEqual(c.names, ["mail.b.test", "autoconfig.b.test"]);
    assert.ok(c.daysLeft === 4 || c.daysLeft === 5, String(c.daysLeft));
    assert.ok(c.daysLeft < s.thresholds.daysLeft);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("status: with acme.enabled the main certificate shows the ACME manager's planned renewal and its reason", async () => {
  const token = await w.token("admin@a.test", "server");
  const plan = { at: "2026-02-02T00:00:00.000Z", reason: "ari window 2026-02-01T00:00:00.000Z – 2026-02-03T00:00:00.000Z" };
  await mkdir(path.join(w.data.dir, "acme"), { recursive: true });
  await writeFile(path.join(w.data.dir, "acme", "plan.json"), JSON.stringify(plan));
  const acme = w.services.config.acme;
  try {
    // acme off: a leftover plan is not shown.
    let s = ServerStatusSchema.parse((await w.req("GET", "/api/v1/status", { token })).json);
    assert.equal(s.certificates[0]!.renewal, undefined);
    acme.enabled = true;
    s = ServerStatusSchema.parse((await w.req("GET", "/api/v1/status", { token })).json);
    assert.deepEqual(s.certificates[0]!.renewal, plan);
  } finally {
    acme.enabled = false;
    await rm(path.join(w.data.dir, "acme"), { recursive: true, force: true });
  }
});
