// The HTTP API fuzzer (issue 13 §4 "the HTTP API schemas", issue 9): fast-check builds requests
// from the API's own OpenAPI document (/api/v1/openapi.json) — every documented operation, its
// path parameters, query and body filled with wrong types, huge strings, unknown fields, bad
// JSON, odd methods and content types, no/bad/foreign cookies and tokens, sessions without their
// CSRF token — and sends them over real sockets to the web app (the dev http listener, on
// loopback). Asserted for every request: never a 5xx (nor a dropped connection); every 4xx is
// application/problem+json whose `status` is the HTTP status; and a 4xx writes nothing (the
// rows the API can change, the audit log and the suppression list are unchanged).
// The registry (registry.ts), the CI test (fuzz.test.ts), `npm run fuzz` and the soak rows pick
// the fuzzers of HTTP_API_FUZZERS up.
import fc from "fast-check";
import http from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { FastifyInstance } from "fastify";
import { SYSTEM } from "../accounts/authz.ts";
import { initDataDir } from "../cli/init.ts";
import { loadConfig } from "../config/load.ts";
import { silentLogger } from "../log/logger.ts";
import { createAuthenticator } from "../login/authenticator.ts";
import { LoginLimiter } from "../login/limiter.ts";
import { openServices } from "../server/services.ts";
import type { Services } from "../server/services.ts";
import { openSideDb } from "../store/sqlite/dkim.ts";
import type { SqliteDb } from "../store/sqlite/db.ts";
import { SqliteApiTokens } from "../store/sqlite/tokens.ts";
import { createWebApp } from "../web/server.ts";
import { SessionStore } from "../web/sessions.ts";
import { ApiTokenService } from "../web/tokens.ts";
import { systemClock } from "../clock.ts";
import type { Fixture, Fuzzer } from "./support.ts";
import { timedAsync } from "./support.ts";

/** This fuzzer's loopback address (the h-api2 block; the session fuzzers use FUZZ_HOST). */
export const HTTP_FUZZ_HOST = "127.0.21.2";
const PASSWORD = "a long fuzz password";

interface Op {
  method: string;
  /** OpenAPI path, {param} form. */
  path: string;
  params: string[];
  query: string[];
  body: Record<string, unknown> | null;
}

interface HttpEnv {
  port: number;
  ops: Op[];
  tokens: string[];
  session: { cookie: string; csrf: string };
  /** Everything a 4xx must leave as it was. */
  snapshot(): Promise<string>;
  close(): Promise<void>;
}

interface Res {
  status: number;
  type: string;
  text: string;
  /** The first Set-Cookie's `name=value`. */
  cookie: string;
}

function send(port: number, method: string, p: string, headers: Record<string, string>, body?: string): Promise<Res> {
  return new Promise((resolve, reject) => {
    const h: Record<string, string> = { host: `mail.fuzz.test:${port}`, ...headers };
    if (body !== undefined) h["content-length"] = String(Buffer.byteLength(body));
    const r = http.request({ host: HTTP_FUZZ_HOST, port, method, path: p, headers: h, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"] ?? ""), text: Buffer.concat(chunks).toString("utf8"), cookie: String([res.headers["set-cookie"] ?? []].flat()[0] ?? "").split(";")[0] }));
      res.on("error", reject);
    });
    r.on("error", reject);
    r.end(body);
  });
}

const httpFixture: Fixture<HttpEnv> = {
  async open() {
    const parent = await mkdtemp(path.join(os.tmpdir(), "freehold-fuzz-http-"));
    const dir = path.join(parent, "data");
    await initDataDir(dir, { hostname: "mail.fuzz.test" }, { clock: systemClock, warn: () => undefined });
    const config = { ...(await loadConfig(dir)), dev: true };
    const services: Services = await openServices(config, { logger: silentLogger(), clock: systemClock });
    const a = services.accounts;
    await a.addDomain(SYSTEM, "fuzz.test");
    await a.addDomain(SYSTEM, "other.test");
    for (const [address, role] of [["admin@fuzz.test", "admin"], ["da@fuzz.test", "domain-admin"], ["u@fuzz.test", "user"], ["x@other.test", "user"]] as const) {
      await a.addUser(SYSTEM, { address, password: PASSWORD, role });
    }
    await a.addAlias(SYSTEM, "info@other.test", ["x@other.test"]);
    const side: SqliteDb = openSideDb(dir, { clock: systemClock });
    // Wrong passwords are part of the inputs: a limiter that never locks the fuzzer out.
    const limiter = new LoginLimiter({ clock: systemClock, perIp: { max: 1e9, windowMs: 1000 }, perPrefix: { max: 1e9, windowMs: 1000 }, perAccount: { max: 1e9, windowMs: 1000 } });
    const tokens = new ApiTokenService({ repo: new SqliteApiTokens(side), store: services.storage.store, clock: systemClock });
    const app: FastifyInstance = await createWebApp(
      {
        config,
        store: services.storage.store,
        accounts: a,
        dkim: services.dkim,
        tokens,
        sessions: new SessionStore(systemClock),
        authenticate: createAuthenticator({ accounts: a, store: services.storage.store, limiter, cache: null, delay: async () => undefined }),
        clock: systemClock,
        logger: silentLogger(),
        clientConfig: () => config,
        spam: services.spam,
        suppression: services.suppression,
        blobs: services.storage.blobs,
        traceLogFile: path.resolve(dir, config.log.file),
      },
      { role: "http", address: HTTP_FUZZ_HOST, port: 0 },
    );
    await app.listen({ host: HTTP_FUZZ_HOST, port: 0 });
    const port = (app.server.address() as { port: number }).port;
    const user = async (address: string) => (await services.storage.store.accounts.getUserByAddress(address))!;
    const tokenList = [
      (await tokens.create({ kind: "user", user: await user("admin@fuzz.test") }, "fuzz", "server")).token,
      (await tokens.create({ kind: "user", user: await user("da@fuzz.test") }, "fuzz", "domain")).token,
      (await tokens.create({ kind: "user", user: await user("u@fuzz.test") }, "fuzz", "user")).token,
    ];
    const login = await send(port, "POST", "/api/v1/session", { "content-type": "application/json" }, JSON.stringify({ address: "da@fuzz.test", password: PASSWORD }));
    if (login.status !== 200) throw new Error(`fuzz fixture login: ${login.status} ${login.text}`);
    const doc = JSON.parse((await send(port, "GET", "/api/v1/openapi.json", {})).text) as { paths: Record<string, Record<string, any>> };
    const ops: Op[] = [];
    for (const [p, byMethod] of Object.entries(doc.paths)) {
      for (const [m, op] of Object.entries(byMethod)) {
        const params = ((op.parameters ?? []) as Array<{ in: string; name: string }>).filter((x) => x.in === "path").map((x) => x.name);
        const query = ((op.parameters ?? []) as Array<{ in: string; name: string }>).filter((x) => x.in === "query").map((x) => x.name);
        const body = (op.requestBody?.content?.["application/json"]?.schema?.properties ?? null) as Record<string, unknown> | null;
        ops.push({ method: m.toUpperCase(), path: p, params, query, body });
      }
    }
    const db = new DatabaseSync(path.join(dir, "meta.sqlite"));
    db.exec("PRAGMA busy_timeout = 5000");
    return {
      port,
      ops,
      tokens: tokenList,
      session: { cookie: login.cookie, csrf: JSON.parse(login.text).csrfToken as string },
      async snapshot() {
        return apiTablesSnapshot(db) + "\n" + JSON.stringify(await services.suppression.list());
      },
      async close() {
        await app.close();
        db.close();
        side.close();
        await services.storage.close();
        services.closeSideDb?.();
        services.resolver.cancel();
        await services.dataLock?.release();
        await rm(parent, { recursive: true, force: true });
      },
    };
  },
  async close(env) {
    await env.close();
  },
};

// ---- the requests ----------------------------------------------------------------------------

/** Any JSON value, biased to the shapes schemas trip on. */
const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom("", "admin", "a.test", "x@other.test", "info@other.test", "da@fuzz.test", "fuzz.test", "other.test", "direct", "starttls", "mbox", "\u0000", "é@ü.test", "../../etc"),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 10 }), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 3 }),
  fc.integer({ min: 1, max: 2000 }).map((n) => "x".repeat(n * 100)),
);
const segment = fc.oneof(
  fc.constantFrom("fuzz.test", "other.test", "x@other.test", "info@other.test", "u@fuzz.test", "1", "0", "-1", "99999999999999999999", "nothing", "smarthost", "recipient-domain", "%00", "%2e%2e", "a%40b", "%C3%A9", "%ZZ"),
  fc.stringMatching(/^[A-Za-z0-9._@-]{1,30}$/),
  fc.integer({ min: 1, max: 3000 }).map((n) => "y".repeat(n)),
);
const queryValue = fc.oneof(anyJson.map((v) => (typeof v === "string" ? v : JSON.stringify(v))), fc.constantFrom("1", "0", "-5", "abc", "true", "2d", "1w", "mbox", "maildir", "eml-zip", "b.test", "<a@b>"));
const ODD_METHODS = ["PROPFIND", "TRACE", "OPTIONS", "HEAD", "PATCH", "PUT", "DELETE", "POST", "GET", "MKCOL"];

type Auth = "none" | "badToken" | "badCookie" | "token0" | "token1" | "token2" | "sessionNoCsrf" | "sessionWrongCsrf" | "session";
type BodyKind = "none" | "fields" | "unknownField" | "badJson" | "huge" | "notObject" | "wrongType";

interface Req {
  opIndex: number;
  method: string | null;
  params: string[];
  query: Array<[string, string]>;
  extraQuery: boolean;
  auth: Auth;
  bodyKind: BodyKind;
  values: unknown[];
  contentType: string;
}

const request: fc.Arbitrary<Req> = fc.record({
  opIndex: fc.nat(),
  method: fc.option(fc.constantFrom(...ODD_METHODS), { freq: 5 }),
  params: fc.array(segment, { minLength: 4, maxLength: 4 }),
  query: fc.array(fc.tuple(fc.nat(), queryValue).map(([i, v]) => [String(i), v] as [string, string]), { maxLength: 3 }),
  extraQuery: fc.boolean(),
  auth: fc.constantFrom<Auth>("none", "badToken", "badCookie", "token0", "token1", "token2", "sessionNoCsrf", "sessionWrongCsrf", "session"),
  bodyKind: fc.constantFrom<BodyKind>("none", "fields", "unknownField", "badJson", "huge", "notObject", "wrongType"),
  values: fc.array(anyJson, { minLength: 6, maxLength: 6 }),
  contentType: fc.constantFrom("application/json", "application/json", "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1"),
});

function build(env: HttpEnv, r: Req): { method: string; url: string; headers: Record<string, string>; body?: string } {
  const op = env.ops[r.opIndex % env.ops.length];
  let i = 0;
  const url0 = op.path.replace(/\{(\w+)\}/g, () => encodeURIComponent(r.params[i++ % r.params.length]).replace(/%25/g, "%"));
  const qs: string[] = r.query.map(([k, v]) => `${encodeURIComponent(op.query.length ? op.query[Number(k) % op.query.length] : k)}=${encodeURIComponent(v)}`);
  if (r.extraQuery) qs.push("unknownField=1");
  const url = qs.length ? `${url0}?${qs.join("&")}` : url0;
  const headers: Record<string, string> = {};
  switch (r.auth) {
    case "badToken":
      headers.authorization = "Bearer fh_" + "A".repeat(43);
      break;
    case "badCookie":
      headers.cookie = "fh_session=" + "z".repeat(43) + "; other=\u00ff";
      break;
    case "token0":
    case "token1":
    case "token2":
      headers.authorization = `Bearer ${env.tokens[Number(r.auth.slice(5))]}`;
      break;
    case "sessionNoCsrf":
    case "sessionWrongCsrf":
    case "session":
      if (env.session.cookie) headers.cookie = env.session.cookie;
      if (r.auth === "session") headers["x-csrf-token"] = env.session.csrf;
      if (r.auth === "sessionWrongCsrf") headers["x-csrf-token"] = "w".repeat(43);
      break;
  }
  const names = Object.keys(op.body ?? {});
  let body: string | undefined;
  switch (r.bodyKind) {
    case "none":
      break;
    case "fields":
    case "unknownField":
    case "wrongType": {
      const o: Record<string, unknown> = {};
      names.forEach((n, j) => {
        if (r.bodyKind !== "wrongType" || j === 0) o[n] = r.values[j % r.values.length];
      });
      if (r.bodyKind === "unknownField") o["unknown" + names.length] = r.values[5];
      body = JSON.stringify(o);
      break;
    }
    case "badJson":
      body = `{"${names[0] ?? "a"}": ` + (JSON.stringify(r.values[0]) ?? "").slice(0, 20);
      break;
    case "huge":
      body = JSON.stringify({ [names[0] ?? "a"]: "h".repeat(70 * 1024) });
      break;
    case "notObject":
      body = JSON.stringify(r.values[1]);
      break;
  }
  if (body !== undefined) headers["content-type"] = r.contentType;
  return { method: r.method ?? op.method, url, headers, body };
}

export const HTTP_API_FUZZERS: Fuzzer<HttpEnv>[] = [
  {
    name: "http api: requests from the OpenAPI document",
    ciRuns: 300,
    fixture: httpFixture,
    property: (_seeds, env) =>
      fc.asyncProperty(request, async (r) => {
        const q = build(env, r);
        const before = await env.snapshot();
        const res = await timedAsync("http api", q, send(env.port, q.method, q.url, q.headers, q.body), 10_000);
        const where = `${q.method} ${q.url.slice(0, 200)} (${r.auth}, ${r.bodyKind}) → ${res.status} ${res.text.slice(0, 300)}`;
        if (res.status >= 500 || res.status < 100) throw new Error(`server error: ${where}`);
        if (res.status >= 400) {
          // HEAD answers carry no body; everything else is a problem document.
          if (q.method !== "HEAD") {
            if (!/^application\/problem\+json/.test(res.type)) throw new Error(`4xx without problem+json (${res.type}): ${where}`);
            const p = JSON.parse(res.text) as { status?: unknown; type?: unknown; title?: unknown };
            if (p.status !== res.status || typeof p.type !== "string" || typeof p.title !== "string") throw new Error(`malformed problem: ${where}`);
          }
          const after = await env.snapshot();
          if (after !== before) throw new Error(`a ${res.status} changed something: ${where}`);
        }
      }),
  },
];

/** Every row the API can change, as text: a request refused with a 4xx must leave it equal
 * (this fuzzer and the API tests, test/web/harness.ts, compare the same tables). */
export function apiTablesSnapshot(db: import("node:sqlite").DatabaseSync): string {
  const q = (sql: string) => JSON.stringify(db.prepare(sql).all());
  return [
    q("SELECT name, disabled FROM domains ORDER BY id"),
    q("SELECT address, role, quota_bytes, disabled, password_hash FROM users ORDER BY id"),
    q("SELECT address, targets FROM aliases ORDER BY id"),
    q("SELECT id FROM queue_messages ORDER BY id"),
    q("SELECT id, state, next_attempt_at FROM queue_recipients ORDER BY id"),
    q("SELECT domain, selector, state FROM dkim_keys ORDER BY id"),
    q("SELECT id, revoked_at FROM api_tokens ORDER BY id"),
    q("SELECT count(*) AS n, max(id) AS last FROM audit_log"),
  ].join("\n");
}
