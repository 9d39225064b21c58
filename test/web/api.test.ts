// The HTTP API over real https on loopback (docs/api.md): security headers and cookies, login,
// CSRF, sessions, tokens, bad input changing nothing, tenant isolation over every route in the
// OpenAPI document, and the OpenAPI document agreeing with the routes both ways.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import path from "node:path";
import { readFile } from "node:fs/promises";
import { createWebApp } from "../../src/web/server.ts";
import { SYSTEM } from "../../src/accounts/authz.ts";
import { HOST, PASSWORD, seedQueue, snapshot, startWeb } from "./harness.ts";
import type { Web } from "./harness.ts";

let w: Web;
let admin: { cookie: string; csrf: string };
let daToken: string;
let adminToken: string;
let queueB: number;
let queueA: number;

before(async () => {
  w = await startWeb();
  admin = await w.login("admin@a.test");
  adminToken = await w.token("admin@a.test", "server");
  daToken = await w.token("da@a.test", "domain");
  [queueA, queueB] = seedQueue(w.db, [
    { from: "u@a.test", to: "x@remote.test" },
    { from: "ub@b.test", to: "y@remote.test" },
  ]);
});
after(async () => {
  await w?.close();
});

test("security headers on every answer; HSTS on https; CSP strict with no inline script", async () => {
  for (const p of ["/api/v1/openapi.json", "/api/v1/users", "/nope", "/"]) {
    const r = await w.req("GET", p);
    const csp = String(r.headers["content-security-policy"]);
    assert.match(csp, /frame-ancestors 'none'/, p);
    assert.match(csp, /script-src 'self'/, p);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, p);
    assert.equal(r.headers["referrer-policy"], "no-referrer", p);
    assert.equal(r.headers["x-content-type-options"], "nosniff", p);
    assert.match(String(r.headers["strict-transport-security"]), /^max-age=\d{7,}/, p);
  }
  const page = await w.req("GET", "/");
  // The UI's one script is an external file (src=); no script body, <style> or inline handler.
  assert.doesNotMatch(page.text, /<script(?![^>]*\ssrc=)|<script[^>]*>[^<]+<\/script>|<style|style=|onclick/i, "no inline script or style on /");
});

test("login: session cookie is __Host-, Secure, HttpOnly, SameSite=Strict, Path=/, no Domain; a new id each login", async () => {
  const a = await w.login("u@a.test");
  const set = String([a.res.headers["set-cookie"]].flat()[0]);
  assert.match(set, /^__Host-freehold-session=/);
  assert.match(set, /; Secure/i);
  assert.match(set, /; HttpOnly/i);
  assert.match(set, /; SameSite=Strict/i);
  assert.match(set, /; Path=\//);
  assert.doesNotMatch(set, /Domain=/i);
  const b = await w.login("u@a.test");
  assert.notEqual(a.cookie, b.cookie);
  const me = await w.req("GET", "/api/v1/session", { cookie: b.cookie });
  assert.equal(me.status, 200);
  assert.equal(me.json.address, "u@a.test");
});

test("one error text for every failed login; problem+json", async () => {
  const cases = [
    { address: "u@a.test", password: "wrong password!" },
    { address: "nobody@a.test", password: "a long test password" },
    { address: "nobody@nowhere.test", password: "whatever pass" },
  ];
  const seen = new Set<string>();
  for (const c of cases) {
    const r = await w.req("POST", "/api/v1/session", { body: c });
    assert.equal(r.status, 401);
    assert.match(String(r.headers["content-type"]), /^application\/problem\+json/);
    assert.equal(r.json.status, 401);
    assert.equal(r.json.type, "https://freehold.invalid/problems/login-failed");
    seen.add(JSON.stringify(r.json));
    assert.equal(r.headers["set-cookie"], undefined);
  }
  assert.equal(seen.size, 1, [...seen].join("\n"));
});

test("logout ends the session on the server; an idle or too old session is refused", async () => {
  const s = await w.login("u@a.test");
  const out = await w.req("DELETE", "/api/v1/session", { cookie: s.cookie, csrf: s.csrf });
  assert.equal(out.status, 204);
  assert.equal((await w.req("GET", "/api/v1/session", { cookie: s.cookie })).status, 401, "old cookie after logout");

  const idle = await w.login("u@a.test");
  w.clock.skew += 31 * 60_000;
  try {
    assert.equal((await w.req("GET", "/api/v1/session", { cookie: idle.cookie })).status, 401, "idle timeout");
  } finally {
    w.clock.skew -= 31 * 60_000;
  }
  // Absolute: active every 20 minutes, still gone after 12 hours.
  const busy = await w.login("u@a.test");
  try {
    for (let i = 0; i < 36; i++) {
      w.clock.skew += 20 * 60_000;
      const r = await w.req("GET", "/api/v1/session", { cookie: busy.cookie });
      if (i < 35) assert.equal(r.status, 200, `round ${i}`);
      else assert.equal(r.status, 401, "absolute timeout");
    }
  } finally {
    w.clock.skew = 0;
  }
  // A password change made elsewhere (here: the service layer, as the CLI does) ends sessions.
  const victim = await w.login("u@a.test");
  await w.services.accounts.setPassword(SYSTEM, "u@a.test", "a changed password");
  assert.equal((await w.req("GET", "/api/v1/session", { cookie: victim.cookie })).status, 401, "after a password change");
  await w.services.accounts.setPassword(SYSTEM, "u@a.test", PASSWORD);
  // An expired session changes nothing either.
  const snap = snapshot(w.db);
  const r = await w.req("POST", "/api/v1/domains", { cookie: busy.cookie, csrf: busy.csrf, body: { name: "expired.test" } });
  assert.equal(r.status, 401);
  assert.equal(snapshot(w.db), snap);
});

test("CSRF: a session's state change needs its token and our Origin; nothing is written otherwise", async () => {
  const snap = snapshot(w.db);
  const cases: Array<{ name: string; csrf?: string; headers?: Record<string, string> }> = [
    { name: "no token" },
    { name: "wrong token", csrf: "x".repeat(43) },
    { name: "other session's token", csrf: (await w.login("da@a.test")).csrf },
    { name: "foreign Origin", csrf: admin.csrf, headers: { origin: "https://evil.test" } },
    { name: "cross-site fetch", csrf: admin.csrf, headers: { "sec-fetch-site": "cross-site" } },
  ];
  for (const c of cases) {
    const r = await w.req("POST", "/api/v1/domains", { cookie: admin.cookie, csrf: c.csrf, headers: c.headers, body: { name: "csrf.test" } });
    assert.equal(r.status, 403, c.name);
    assert.equal(r.json.type, "https://freehold.invalid/problems/csrf", c.name);
  }
  assert.equal(snapshot(w.db), snap);
  const ok = await w.req("POST", "/api/v1/domains", { cookie: admin.cookie, csrf: admin.csrf, headers: { origin: w.origin }, body: { name: "csrf.test" } });
  assert.equal(ok.status, 201, ok.text);
  const del = await w.req("DELETE", "/api/v1/domains/csrf.test", { cookie: admin.cookie, csrf: admin.csrf });
  assert.equal(del.status, 204, del.text);
});

test("tokens: shown once, hashed at rest, scoped, last-used stamped, revoked ones refused", async () => {
  const s = await w.login("da@a.test");
  const made = await w.req("POST", "/api/v1/tokens", { cookie: s.cookie, csrf: s.csrf, body: { name: "ci", scope: "domain" } });
  assert.equal(made.status, 201);
  const token = made.json.token as string;
  assert.match(token, /^fh_[A-Za-z0-9_-]{43}$/);
  const listed = await w.req("GET", "/api/v1/tokens", { cookie: s.cookie });
  assert.ok(!listed.text.includes(token), "the list never shows the secret");
  const rows = w.db.prepare("SELECT hash FROM api_tokens").all() as Array<{ hash: string }>;
  assert.ok(rows.every((r) => r.hash.length === 64 && r.hash !== token), "stored as sha256 hex");
  assert.ok(!JSON.stringify(w.db.prepare("SELECT * FROM audit_log").all()).includes(token.slice(3)), "not in the audit log");

  const use = await w.req("GET", "/api/v1/users", { token });
  assert.equal(use.status, 200);
  assert.ok(use.json.items.every((u: { address: string }) => u.address.endsWith("@a.test")));
  const after1 = await w.req("GET", "/api/v1/tokens", { cookie: s.cookie });
  assert.ok(after1.json.items.find((t: { id: number }) => t.id === made.json.item.id).lastUsedAt > 0);

  // Scope above the owner's role: refused. A user-scope token of an admin is self-service only.
  const over = await w.req("POST", "/api/v1/tokens", { cookie: s.cookie, csrf: s.csrf, body: { name: "x", scope: "server" } });
  assert.equal(over.status, 403);
  const selfOnly = await w.token("admin@a.test", "user");
  assert.equal((await w.req("GET", "/api/v1/domains", { token: selfOnly })).status, 403);
  assert.equal((await w.req("GET", "/api/v1/users/admin@a.test", { token: selfOnly })).status, 200);

  // Tokens need no CSRF header (no ambient credential), and a bad token is a 401, not a fallback.
  assert.equal((await w.req("GET", "/api/v1/users", { token: token + "x" })).status, 401);
  const rev = await w.req("DELETE", `/api/v1/tokens/${made.json.item.id}`, { cookie: s.cookie, csrf: s.csrf });
  assert.equal(rev.status, 204);
  assert.equal((await w.req("GET", "/api/v1/users", { token })).status, 401, "revoked");
});

test("bad input → 4xx problem and nothing written (database and audit log)", async () => {
  const long = "a".repeat(300);
  const cases: Array<[string, string, unknown, number?]> = [
    ["POST", "/api/v1/domains", { name: 42 }],
    ["POST", "/api/v1/domains", { name: "ok.test", extra: 1 }],
    ["POST", "/api/v1/domains", { name: long + ".test" }],
    ["POST", "/api/v1/domains", { name: "not a domain" }],
    ["POST", "/api/v1/domains", {}],
    ["POST", "/api/v1/users", { address: "n@a.test", password: "short" }],
    ["POST", "/api/v1/users", { address: "n@a.test", password: PASSWORDX(), role: "root" }],
    ["POST", "/api/v1/users", { address: "n@a.test", password: PASSWORDX(), quotaBytes: -1 }],
    ["POST", "/api/v1/users", { address: "n@a.test", password: PASSWORDX(), isAdmin: true }],
    ["POST", "/api/v1/users", { address: long + "@a.test", password: PASSWORDX() }],
    ["POST", "/api/v1/users", { address: "n@nodomain.test", password: PASSWORDX() }, 404],
    ["POST", "/api/v1/users", { address: "u@a.test", password: PASSWORDX() }, 409],
    ["PATCH", "/api/v1/users/u@a.test", {}],
    ["PATCH", "/api/v1/users/u@a.test", { disabled: "yes" }],
    ["PATCH", "/api/v1/users/u@a.test", { quotaBytes: 1.5 }],
    ["PATCH", "/api/v1/users/u@a.test", { password: "a long password\n" }],
    ["PATCH", "/api/v1/users/u@a.test", { role: "user", colour: "red" }],
    ["PATCH", "/api/v1/users/nobody@a.test", { disabled: true }, 404],
    ["DELETE", "/api/v1/users/nobody@a.test", undefined, 404],
    ["POST", "/api/v1/aliases", { address: "x@a.test", targets: [] }],
    ["POST", "/api/v1/aliases", { address: "x@a.test", targets: "u@a.test" }],
    ["POST", "/api/v1/aliases", { address: "x@a.test", targets: ["x@a.test"] }],
    ["DELETE", "/api/v1/aliases/none@a.test", undefined, 404],
    ["DELETE", "/api/v1/domains/a.test", undefined, 409],
    ["POST", "/api/v1/queue/abc/retry", undefined],
    ["POST", "/api/v1/queue/999999/retry", undefined, 404],
    ["DELETE", "/api/v1/queue/0", undefined],
    ["POST", "/api/v1/domains/nodomain.test/dkim/rotate", undefined, 404],
    ["POST", "/api/v1/tokens", { name: "", scope: "server" }],
    ["POST", "/api/v1/tokens", { name: "x", scope: "galaxy" }],
    ["DELETE", "/api/v1/tokens/99999", undefined, 404],
  ];
  for (const [method, p, body, want] of cases) {
    const snap = snapshot(w.db);
    const r = await w.req(method, p, { token: adminToken, body });
    const label = `${method} ${p} ${JSON.stringify(body)}`;
    assert.equal(r.status, want ?? 400, `${label}: ${r.text}`);
    assert.match(String(r.headers["content-type"]), /^application\/problem\+json/, label);
    assert.equal(r.json.status, r.status, label);
    assert.equal(snapshot(w.db), snap, `${label} changed something`);
  }
  // Not JSON, too large, wrong media type.
  const snap = snapshot(w.db);
  const raw = [
    { raw: "{not json", headers: { "content-type": "application/json" }, want: 400 },
    { raw: JSON.stringify({ name: "x".repeat(70_000) }), headers: { "content-type": "application/json" }, want: 413 },
    { raw: "name=x.test", headers: { "content-type": "application/x-www-form-urlencoded" }, want: 415 },
  ];
  for (const c of raw) {
    const r = await w.req("POST", "/api/v1/domains", { token: adminToken, raw: c.raw, headers: c.headers });
    assert.equal(r.status, c.want, r.text);
    assert.match(String(r.headers["content-type"]), /^application\/problem\+json/);
  }
  // Unknown query parameters and out-of-range pages are refused too.
  for (const q of ["/api/v1/users?limit=0", "/api/v1/users?limit=501", "/api/v1/users?colour=red", "/api/v1/queue?state=lost", "/api/v1/audit?before=x"]) {
    assert.equal((await w.req("GET", q, { token: adminToken })).status, 400, q);
  }
  assert.equal(snapshot(w.db), snap);
});

function PASSWORDX(): string {
  return "another long password";
}

test("the OpenAPI document and the routes agree both ways", async () => {
  const doc = (await w.req("GET", "/api/v1/openapi.json")).json;
  assert.equal(doc.openapi, "3.1.0");
  const inDoc = new Set<string>();
  for (const [p, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
    for (const m of Object.keys(ops)) inDoc.add(`${m.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ":$1")}`);
  }
  const routes = new Set(w.app.apiRoutes.filter((r) => r !== "GET /api/v1/openapi.json"));
  assert.deepEqual([...routes].filter((r) => !inDoc.has(r)), [], "routes missing from the document");
  assert.deepEqual([...inDoc].filter((r) => !routes.has(r)), [], "documented routes that do not exist");
  assert.ok(routes.size >= 20, `only ${routes.size} routes`);
  // Every documented route answers (not the "no route" 404) over the wire.
  for (const r of inDoc) {
    const [method, path] = r.split(" ");
    const res = await w.req(method, path.replace(/:(\w+)/g, "nothing"), { token: "fh_" + "0".repeat(43) });
    assert.equal(res.status, 401, `${r}: ${res.text}`);
  }
  // Request bodies in the document are closed (unknown fields rejected).
  for (const ops of Object.values(doc.paths as Record<string, Record<string, any>>)) {
    for (const op of Object.values(ops)) {
      const schema = op.requestBody?.content?.["application/json"]?.schema;
      if (schema) assert.equal(schema.additionalProperties, false, JSON.stringify(schema));
    }
  }
});

test("tenant isolation: a domain admin's token gets 404 for another domain's objects on every route", async () => {
  const doc = (await w.req("GET", "/api/v1/openapi.json")).json;
  // Another tenant's object for each path parameter.
  const otherToken = w.db.prepare("SELECT t.id FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE u.address = 'admin@a.test' LIMIT 1").get() as { id: number };
  const values: Record<string, (path: string) => string> = {
    domain: () => "b.test",
    address: (p) => (p.startsWith("/api/v1/aliases") ? "info@b.test" : "ub@b.test"),
    id: (p) => (p.startsWith("/api/v1/queue") ? String(queueB) : String(otherToken.id)),
    name: () => "smarthost",
    kind: () => "recipient-domain",
  };
  const bodies: Record<string, unknown> = {
    "PATCH /api/v1/users/:address": { disabled: true },
    "POST /api/v1/users": { address: "new@b.test", password: "a long password 2" },
    "POST /api/v1/aliases": { address: "new@b.test", targets: ["ub@b.test"] },
    "PUT /api/v1/relays/:name": { host: "relay.test", port: 587, tls: "starttls" },
    "PUT /api/v1/routes/:kind/:domain": { routes: ["direct"] },
    "POST /api/v1/jobs": { kind: "dkim-rotate", domain: "b.test" },
    "POST /api/v1/users/:address/app-passwords": { name: "phone" },
    "POST /api/v1/users/:address/password": { current: PASSWORD, password: "a long password 4" },
    "PUT /api/v1/suppressions/:domain/:address": { reason: "tenant test" },
  };
  // Routes whose query has a required field.
  const queries: Record<string, string> = { "GET /api/v1/users/:address/export": "?format=mbox" };
  let checked = 0;
  for (const [p, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
    const route = p.replace(/\{(\w+)\}/g, ":$1");
    for (const m of Object.keys(ops)) {
      const method = m.toUpperCase();
      const key = `${method} ${route}`;
      const hasParam = /\{\w+\}/.test(p);
      if (!hasParam && !(key in bodies)) continue;
      const url = p.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(values[name](p)));
      const snap = snapshot(w.db);
      const r = await w.req(method, url + (queries[key] ?? ""), { token: daToken, body: bodies[key] });
      // Relays are server-wide, not a tenant's: a domain admin is refused outright.
      if (route.startsWith("/api/v1/relays/")) assert.equal(r.status, 403, `${key}: ${r.text}`);
      else assert.equal(r.status, 404, `${key}: ${r.text}`);
      assert.equal(snapshot(w.db), snap, `${key} changed something`);
      // The same route on one's own objects works (not a blanket 404).
      checked++;
    }
  }
  assert.ok(checked >= 12, `only ${checked} routes checked`);
  // Lists filtered by another domain are 404; unfiltered lists show only one's own.
  for (const q of [
    "/api/v1/users?domain=b.test",
    "/api/v1/aliases?domain=b.test",
    "/api/v1/audit?domain=b.test",
    "/api/v1/suppressions?domain=b.test",
    "/api/v1/spam/stats?domain=b.test",
    "/api/v1/spam/stats?user=ub@b.test",
    "/api/v1/trace?q=ub@b.test",
  ]) {
    assert.equal((await w.req("GET", q, { token: daToken })).status, 404, q);
  }
  const lists: Array<[string, (x: any) => string]> = [
    ["/api/v1/users", (u) => u.address],
    ["/api/v1/aliases", (a) => a.address],
    ["/api/v1/domains", (d) => "x@" + d.name],
    ["/api/v1/queue", (q) => q.mailFrom],
    ["/api/v1/audit", (e) => "x@" + e.domain],
    ["/api/v1/spam/stats", (r) => r.address],
  ];
  for (const [p, key] of lists) {
    const r = await w.req("GET", p, { token: daToken });
    assert.equal(r.status, 200, p);
    assert.ok(r.json.items.length > 0, `${p} is empty`);
    assert.ok(r.json.items.every((x: unknown) => key(x).endsWith("@a.test")), `${p}: ${r.text}`);
  }
  // A refusal inside one's own domain stays 403 (granting a role above one's own).
  const grant = await w.req("POST", "/api/v1/users", { token: daToken, body: { address: "boss@a.test", password: "a long password 3", role: "admin" } });
  assert.equal(grant.status, 403, grant.text);
  // Own objects work with the same token.
  assert.equal((await w.req("GET", "/api/v1/users/u@a.test", { token: daToken })).status, 200);
  assert.equal((await w.req("GET", `/api/v1/queue/${queueA}`, { token: daToken })).status, 200);
  assert.equal((await w.req("GET", "/api/v1/domains/a.test/dkim", { token: daToken })).status, 200);
  // A plain user is self-service only.
  const user = await w.token("u@a.test", "user");
  assert.equal((await w.req("GET", "/api/v1/users/u@a.test", { token: user })).status, 200);
  assert.equal((await w.req("GET", "/api/v1/users/da@a.test", { token: user })).status, 404);
  assert.equal((await w.req("GET", "/api/v1/users", { token: user })).status, 403);
  // Their own account: the password yes, a disable no (403: it is theirs, so nothing is hidden).
  assert.equal((await w.req("PATCH", "/api/v1/users/u@a.test", { token: user, body: { disabled: true } })).status, 403);
  assert.equal((await w.req("GET", "/api/v1/audit", { token: user })).status, 403);
});

test("changes through the API are audited with actor, source and before/after, secrets redacted", async () => {
  const s = await w.login("admin@a.test");
  const made = await w.req("POST", "/api/v1/users", { cookie: s.cookie, csrf: s.csrf, body: { address: "audit@a.test", password: "secret password 1" } });
  assert.equal(made.status, 201, made.text);
  const patched = await w.req("PATCH", "/api/v1/users/audit@a.test", { token: adminToken, body: { quotaBytes: 1000, password: "secret password 2" } });
  assert.equal(patched.status, 200, patched.text);
  const r = await w.req("GET", "/api/v1/audit?limit=5", { token: adminToken });
  const entries = r.json.items as Array<Record<string, any>>;
  const add = entries.find((e) => e.action === "user.add" && e.target === "audit@a.test")!;
  assert.equal(add.actor, "admin@a.test");
  assert.equal(add.source, "session");
  assert.equal(add.domain, "a.test");
  const quota = entries.find((e) => e.action === "user.quota" && e.target === "audit@a.test")!;
  assert.equal(quota.source, "token");
  assert.deepEqual(quota.before, { quotaBytes: null });
  assert.deepEqual(quota.after, { quotaBytes: 1000 });
  assert.ok(!r.text.includes("secret password"), "no password in the log");
  // Cursor pages walk back without repeats.
  const p1 = await w.req("GET", "/api/v1/audit?limit=2", { token: adminToken });
  const p2 = await w.req("GET", `/api/v1/audit?limit=2&before=${p1.json.next}`, { token: adminToken });
  assert.ok(p2.json.items[0].id < p1.json.items[1].id + 0 || p2.json.items[0].id === p1.json.items[1].id - 1);
  // The log is append-only, in SQL too.
  assert.throws(() => w.db.exec("DELETE FROM audit_log"), /append-only/);
  assert.throws(() => w.db.exec("UPDATE audit_log SET actor = 'x'"), /append-only/);
});

test("queue: list with recipients and last replies, retry, remove (audited)", async () => {
  const list = await w.req("GET", "/api/v1/queue?state=pending", { token: adminToken });
  assert.equal(list.status, 200);
  const e = list.json.items.find((x: { id: number }) => x.id === queueA);
  assert.equal(e.recipients[0].lastReply, "451 4.7.1 try later");
  const retry = await w.req("POST", `/api/v1/queue/${queueA}/retry`, { token: daToken });
  assert.deepEqual(retry.json, { due: 1 });
  const del = await w.req("DELETE", `/api/v1/queue/${queueA}`, { token: daToken });
  assert.equal(del.status, 204);
  assert.equal((await w.req("GET", `/api/v1/queue/${queueA}`, { token: adminToken })).status, 404);
  const audit = await w.req("GET", "/api/v1/audit?action=queue.", { token: daToken });
  assert.deepEqual(audit.json.items.map((x: { action: string }) => x.action).slice(0, 2), ["queue.remove", "queue.retry"]);
});

test("relays and routes: server admins change them (validated, audited, no secret answered or logged)", async () => {
  const files = async () => {
    const read = (f: string) => readFile(path.join(w.data.dir, f), "utf8").catch(() => "");
    return (await read("relays.yaml")) + "\n--\n" + (await read("secrets/relays.yaml"));
  };
  const r0 = await w.req("GET", "/api/v1/relays", { token: adminToken });
  assert.equal(r0.status, 200, r0.text);
  assert.deepEqual(r0.json.routes.default, ["direct"]);
  assert.equal((await w.req("GET", "/api/v1/relays", { token: daToken })).status, 403);

  const put = await w.req("PUT", "/api/v1/relays/smarthost", { token: adminToken, body: { host: "relay.example", port: 587, tls: "starttls", username: "me", password: "relay secret 1" } });
  assert.equal(put.status, 201, put.text);
  assert.equal((await w.req("PUT", "/api/v1/routes/default", { token: adminToken, body: { routes: ["smarthost", "direct"] } })).status, 200);
  assert.equal((await w.req("PUT", "/api/v1/routes/recipient-domain/partner.test", { token: adminToken, body: { routes: ["direct"] } })).status, 200);
  const view = await w.req("GET", "/api/v1/relays", { token: adminToken });
  assert.equal(view.json.relays[0].username, "me");
  assert.deepEqual(view.json.routes.default, ["smarthost", "direct"]);
  assert.deepEqual(view.json.routes.recipientDomains, { "partner.test": ["direct"] });
  assert.ok(!view.text.includes("relay secret"));

  // Refusals change neither the files nor the database.
  const beforeFiles = await files();
  const snap = snapshot(w.db);
  const bad: Array<[string, string, unknown, number]> = [
    ["PUT", "/api/v1/relays/clear", { host: "relay.example", port: 25, tls: "none" }, 400],
    ["PUT", "/api/v1/relays/direct", { host: "relay.example", port: 25, tls: "starttls" }, 400],
    ["PUT", "/api/v1/relays/Bad%20Name", { host: "relay.example", port: 25, tls: "starttls" }, 400],
    ["PUT", "/api/v1/relays/x", { host: "relay.example", port: 25, tls: "starttls", username: "only" }, 400],
    ["PUT", "/api/v1/relays/x", { host: "relay.example", port: 70000, tls: "starttls" }, 400],
    ["PUT", "/api/v1/routes/default", { routes: ["nowhere"] }, 400],
    ["PUT", "/api/v1/routes/default", { routes: [] }, 400],
    ["PUT", "/api/v1/routes/any-domain/x.test", { routes: ["direct"] }, 400],
    ["DELETE", "/api/v1/relays/smarthost", undefined, 409],
    ["DELETE", "/api/v1/relays/none", undefined, 404],
    ["DELETE", "/api/v1/routes/sender-domain/none.test", undefined, 404],
  ];
  for (const [method, p, body, want] of bad) {
    const r = await w.req(method, p, { token: adminToken, body });
    assert.equal(r.status, want, `${method} ${p}: ${r.text}`);
  }
  assert.equal(await files(), beforeFiles);
  assert.equal(snapshot(w.db), snap);

  assert.equal((await w.req("PUT", "/api/v1/routes/default", { token: adminToken, body: { routes: ["direct"] } })).status, 200);
  assert.equal((await w.req("DELETE", "/api/v1/routes/recipient-domain/partner.test", { token: adminToken })).status, 204);
  assert.equal((await w.req("DELETE", "/api/v1/relays/smarthost", { token: adminToken })).status, 204);
  const audit = await w.req("GET", "/api/v1/audit?limit=10", { token: adminToken });
  const actions = audit.json.items.map((e: { action: string }) => e.action);
  for (const a of ["relay.put", "route.set", "route.remove", "relay.remove"]) assert.ok(actions.includes(a), a);
  assert.ok(!audit.text.includes("relay secret"), "no relay password in the audit log");
});

test("DKIM rotation and DNS records through the API", async () => {
  const before = await w.req("GET", "/api/v1/domains/a.test/dkim", { token: daToken });
  const rot = await w.req("POST", "/api/v1/domains/a.test/dkim/rotate", { token: daToken });
  assert.equal(rot.status, 201, rot.text);
  assert.equal(rot.json.items.length, 2);
  assert.ok(!rot.text.includes("PRIVATE"), "no private key material");
  const afterRot = await w.req("GET", "/api/v1/domains/a.test/dkim", { token: daToken });
  assert.equal(afterRot.json.items.length, before.json.items.length + 2);
  const rec = await w.req("GET", "/api/v1/domains/a.test/dns-records?ip=192.0.2.1", { token: daToken });
  assert.equal(rec.status, 200, rec.text);
  assert.ok(rec.json.items.some((r: { type: string }) => r.type === "MX"));
  assert.equal((await w.req("GET", "/api/v1/domains/a.test/dns-records?ip=nope", { token: daToken })).status, 400);
});

test("dev http (npm start's 8080): API served, cookie without Secure/__Host-, no HSTS, CSRF still required", async () => {
  const app = await createWebApp({ ...w.deps, config: { ...w.deps.config, dev: true } }, { role: "http", address: HOST, port: 0 });
  await app.listen({ host: HOST, port: 0 });
  const port = (app.server.address() as { port: number }).port;
  const origin = `http://${HOST}:${port}`;
  const send = (method: string, p: string, headers: Record<string, string> = {}, body?: unknown) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }>((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const h: Record<string, string> = { ...headers, ...(payload ? { "content-type": "application/json", "content-length": String(Buffer.byteLength(payload)) } : {}) };
      const r = http.request({ host: HOST, port, method, path: p, headers: h, agent: false }, (res) => {
        let t = "";
        res.on("data", (c) => (t += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: t }));
      });
      r.on("error", reject);
      r.end(payload);
    });
  try {
    const doc = await send("GET", "/api/v1/openapi.json");
    assert.equal(doc.status, 200);
    assert.equal(doc.headers["strict-transport-security"], undefined);
    assert.match(String(doc.headers["content-security-policy"]), /frame-ancestors 'none'/);
    const login = await send("POST", "/api/v1/session", {}, { address: "admin@a.test", password: PASSWORD });
    assert.equal(login.status, 200, login.text);
    const set = String([login.headers["set-cookie"]].flat()[0]);
    assert.match(set, /^freehold-session=/);
    assert.doesNotMatch(set, /; Secure/i);
    assert.match(set, /; HttpOnly/i);
    assert.match(set, /; SameSite=Strict/i);
    const cookie = set.split(";")[0];
    const csrf = JSON.parse(login.text).csrfToken as string;
    assert.equal((await send("POST", "/api/v1/domains", { cookie }, { name: "dev.test" })).status, 403);
    const ok = await send("POST", "/api/v1/domains", { cookie, "x-csrf-token": csrf, origin }, { name: "dev.test" });
    assert.equal(ok.status, 201, ok.text);
    const page = await send("GET", "/");
    assert.equal(page.status, 200);
    assert.match(page.text, /api\/v1\/openapi\.json/);
  } finally {
    await app.close();
  }
});

test("plugins (autoconfig, MTA-STS) are served on production http, where everything else redirects", async () => {
  const plugin = async (app: import("fastify").FastifyInstance) => {
    app.get("/.well-known/mta-sts.txt", async (_req, reply) => reply.type("text/plain").send("version: STSv1\n"));
  };
  const app = await createWebApp({ ...w.deps, plugins: [plugin] }, { role: "http", address: HOST, port: 0 });
  await app.listen({ host: HOST, port: 0 });
  const port = (app.server.address() as { port: number }).port;
  const get = (p: string) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }>((resolve, reject) => {
      const r = http.request({ host: HOST, port, path: p, headers: { host: "mta-sts.a.test" }, agent: false }, (res) => {
        let t = "";
        res.on("data", (c) => (t += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: t }));
      });
      r.on("error", reject);
      r.end();
    });
  try {
    const policy = await get("/.well-known/mta-sts.txt");
    assert.equal(policy.status, 200);
    assert.equal(policy.text, "version: STSv1\n");
    assert.equal(policy.headers["strict-transport-security"], undefined);
    for (const p of ["/api/v1/openapi.json", "/api/v1/session", "/"]) {
      const r = await get(p);
      assert.equal(r.status, 308, p);
      assert.equal(r.headers.location, `https://mta-sts.a.test${p}`);
    }
  } finally {
    await app.close();
  }
});

// Last in the file: it exhausts the login limits of this client address.
test("failed logins are limited (the IMAP/SMTP limiter): 429 with Retry-After, even for the right password", async () => {
  let limited: Awaited<ReturnType<Web["req"]>> | null = null;
  for (let i = 0; i < 12 && !limited; i++) {
    const r = await w.req("POST", "/api/v1/session", { body: { address: "ub@b.test", password: "not the password" } });
    if (r.status === 429) limited = r;
    else assert.equal(r.status, 401);
  }
  assert.ok(limited, "never limited");
  assert.equal(limited.json.type, "https://freehold.invalid/problems/rate-limited");
  assert.match(String(limited.headers["retry-after"]), /^\d+$/);
  const right = await w.req("POST", "/api/v1/session", { body: { address: "ub@b.test", password: PASSWORD } });
  assert.equal(right.status, 429);
  assert.equal(right.headers["set-cookie"], undefined);
});
