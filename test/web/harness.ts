// A web API under test: a data folder (test/support/freehold.ts), the services opened in this
// process, and createWebApp listening on 127.0.26.1 (this suite's loopback block) over https
// with the folder's self-signed certificate. Requests go over real sockets (node:https).
import { apiTablesSnapshot } from "../../src/fuzz/http-api.ts";
import https from "node:https";
import http from "node:http";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { FastifyInstance } from "fastify";
import { createDataDir } from "../support/freehold.ts";
import type { DataDir } from "../support/freehold.ts";
import { loadConfig } from "../../src/config/load.ts";
import { openServices } from "../../src/server/services.ts";
import type { Services } from "../../src/server/services.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { createAuthenticator } from "../../src/login/authenticator.ts";
import { LoginLimiter } from "../../src/login/limiter.ts";
import { openSideDb } from "../../src/store/sqlite/dkim.ts";
import { SqliteApiTokens } from "../../src/store/sqlite/tokens.ts";
import type { SqliteDb } from "../../src/store/sqlite/db.ts";
import { createWebApp } from "../../src/web/server.ts";
import type { WebDeps } from "../../src/web/server.ts";
import { SessionStore } from "../../src/web/sessions.ts";
import { ApiTokenService } from "../../src/web/tokens.ts";
import { SYSTEM } from "../../src/accounts/authz.ts";
import type { Clock } from "../../src/clock.ts";
import { runChecks } from "../../src/health/check.ts";
import { checkDeps } from "../../src/health/service.ts";
import { loadRelayFile } from "../../src/delivery/relays.ts";

export const HOST = "127.0.26.1";
export const PASSWORD = "a long test password";

/** The system clock plus a skew the test moves (session timeouts). */
export class SkewClock implements Clock {
  skew = 0;
  now(): number {
    return Date.now() + this.skew;
  }
}

export interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: any;
  /** The body as received (downloads). */
  body: Buffer;
}

export interface Web {
  data: DataDir;
  services: Services;
  app: FastifyInstance;
  deps: WebDeps;
  clock: SkewClock;
  port: number;
  origin: string;
  ca: Buffer;
  /** A raw connection to meta.sqlite for seeding and snapshots. */
  db: DatabaseSync;
  req(method: string, p: string, opts?: { body?: unknown; raw?: string; headers?: Record<string, string>; cookie?: string; token?: string; csrf?: string }): Promise<Res>;
  /** Logs in; returns the cookie header value and the CSRF token. */
  login(address: string, password?: string): Promise<{ cookie: string; csrf: string; res: Res }>;
  token(address: string, scope: "server" | "domain" | "user"): Promise<string>;
  close(): Promise<void>;
}

/** `dev`: the dev-mode http listener (npm start's 8080) instead of https. */
/** `host`: the loopback address to listen on (a suite's own block; HOST by default). */
export async function startWeb(mode: { dev?: boolean; host?: string; extra?: (services: Services) => Partial<WebDeps> } = {}): Promise<Web> {
  const HOST_ = mode.host ?? HOST;
  // Only init runs as a CLI process; the rest goes through the same service in this process
  // (each CLI start costs seconds on a loaded machine).
  const data = await createDataDir({ hostname: "mail.a.test", admin: "admin@a.test" });
  const config = await loadConfig(data.dir);
  const clock = new SkewClock();
  const services = await openServices(config, { logger: silentLogger(), clock });
  // init --admin printed a generated password; the tests use the common one.
  await services.accounts.setPassword(SYSTEM, "admin@a.test", PASSWORD);
  await services.accounts.addDomain(SYSTEM, "b.test");
  for (const address of ["da@a.test", "u@a.test", "db@b.test", "ub@b.test"]) await services.accounts.addUser(SYSTEM, { address, password: PASSWORD });
  await services.accounts.addAlias(SYSTEM, "info@b.test", ["ub@b.test"]);
  await services.accounts.addAlias(SYSTEM, "info@a.test", ["u@a.test"]);
  await services.accounts.setRole(SYSTEM, "da@a.test", "domain-admin");
  await services.accounts.setRole(SYSTEM, "db@b.test", "domain-admin");
  const side: SqliteDb = openSideDb(config.dataDir, { clock });
  const limiter = new LoginLimiter({ clock });
  const deps: WebDeps = {
    config: mode.dev ? { ...config, dev: true } : config,
    store: services.storage.store,
    accounts: services.accounts,
    dkim: services.dkim,
    tokens: new ApiTokenService({ repo: new SqliteApiTokens(side), store: services.storage.store, clock }),
    sessions: new SessionStore(clock),
    authenticate: createAuthenticator({ accounts: services.accounts, store: services.storage.store, limiter, cache: null, delay: async () => undefined }),
    clock,
    logger: silentLogger(),
    tls: services.tls,
    clientConfig: () => config,
    spam: services.spam,
    blobs: services.storage.blobs,
    suppression: services.suppression,
    traceLogFile: path.resolve(config.dataDir, config.log.file),
    ...mode.extra?.(services),
  };
  const app = await createWebApp(deps, { role: mode.dev ? "http" : "https", address: HOST_, port: 0 });
  await app.listen({ host: HOST_, port: 0 });
  const port = (app.server.address() as { port: number }).port;
  const ca = await readFile(path.join(data.dir, "tls", "cert.pem"));
  const db = new DatabaseSync(path.join(data.dir, "meta.sqlite"));
  db.exec("PRAGMA busy_timeout = 5000");
  const scheme = mode.dev ? "http" : "https";
  const origin = `${scheme}://mail.a.test:${port}`;

  const req: Web["req"] = (method, p, opts = {}) =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string> = { host: `mail.a.test:${port}`, ...opts.headers };
      let payload: string | undefined = opts.raw;
      if (opts.body !== undefined) {
        payload = JSON.stringify(opts.body);
        headers["content-type"] ??= "application/json";
      }
      if (payload !== undefined) headers["content-length"] = String(Buffer.byteLength(payload));
      if (opts.cookie) headers.cookie = opts.cookie;
      if (opts.token) headers.authorization = `Bearer ${opts.token}`;
      if (opts.csrf) headers["x-csrf-token"] = opts.csrf;
      const onRes = (res: http.IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks);
          const text = body.toString("utf8");
          let json: unknown = undefined;
          try {
            json = text === "" ? undefined : JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json, body });
        });
      };
      const r = mode.dev
        ? http.request({ host: HOST_, port, method, path: p, headers, agent: false }, onRes)
        : https.request({ host: HOST_, port, method, path: p, headers, ca, servername: "mail.a.test", agent: false }, onRes);
      r.on("error", reject);
      r.end(payload);
    });

  const login: Web["login"] = async (address, password = PASSWORD) => {
    const res = await req("POST", "/api/v1/session", { body: { address, password } });
    if (res.status !== 200) throw new Error(`login ${address}: ${res.status} ${res.text}`);
    const set = [res.headers["set-cookie"] ?? []].flat()[0];
    return { cookie: set.split(";")[0], csrf: res.json.csrfToken as string, res };
  };
  const token: Web["token"] = async (address, scope) => {
    const { cookie, csrf } = await login(address);
    const res = await req("POST", "/api/v1/tokens", { body: { name: `t-${scope}`, scope }, cookie, csrf });
    if (res.status !== 201) throw new Error(`token ${address}: ${res.status} ${res.text}`);
    return res.json.token as string;
  };
  return {
    data,
    services,
    app,
    deps,
    clock,
    port,
    origin,
    ca,
    db,
    req,
    login,
    token,
    async close() {
      await app.close();
      db.close();
      side.close();
      await services.storage.close();
      services.closeSideDb?.();
      services.resolver.cancel();
      await services.dataLock?.release();
      await data.remove();
    },
  };
}

/** What a failed request must leave untouched: every row that the API can change (the same
 * tables the HTTP API fuzzer compares). */
export function snapshot(db: DatabaseSync): string {
  return apiTablesSnapshot(db);
}

/** Queue entries straight into SQL (no queue runner runs here), sharing one blob row. */
export function seedQueue(db: DatabaseSync, entries: Array<{ from: string; to: string }>): number[] {
  const now = Date.now();
  db.exec("BEGIN");
  let blob = db.prepare("SELECT id FROM blobs WHERE sha256 = 'seed'").get() as { id: number } | undefined;
  if (!blob) {
    db.prepare("INSERT INTO blobs (sha256, size, refcount, location, created_at) VALUES ('seed', 10, 0, 'seed', ?)").run(now);
    blob = db.prepare("SELECT id FROM blobs WHERE sha256 = 'seed'").get() as { id: number };
  }
  const insQ = db.prepare("INSERT INTO queue_messages (blob_id, mail_from, origin, created_at) VALUES (?, ?, 'submission', ?)");
  const insR = db.prepare("INSERT INTO queue_recipients (queue_id, recipient, next_attempt_at, updated_at, last_reply) VALUES (?, ?, ?, ?, '451 4.7.1 try later')");
  const ids: number[] = [];
  for (const e of entries) {
    const id = Number(insQ.run(blob.id, e.from, now).lastInsertRowid);
    insR.run(id, e.to, now + 3600_000, now);
    ids.push(id);
  }
  db.prepare("UPDATE blobs SET refcount = refcount + ? WHERE id = ?").run(entries.length, blob.id);
  db.exec("COMMIT");
  return ids;
}

/**
 * The real checks (health/check.ts, as `freehold check`) limited to the groups that need no
 * network (queue, disk): the tests' loopback guard refuses public DNS and blocklists.
 */
export function offlineChecks(services: Services): Partial<WebDeps> {
  return {
    runChecks: async (o) => {
      const only = (o.only ?? ["queue", "disk"]).filter((g) => g === "queue" || g === "disk");
      if (only.length === 0) return { startedAt: new Date().toISOString(), results: [] };
      const deps = checkDeps({
        config: services.config,
        store: services.storage.store,
        accounts: services.accounts,
        dkim: services.dkim,
        relays: await loadRelayFile(services.config.dataDir),
        secrets: {},
        clock: services.clock,
      });
      try {
        return await runChecks(deps, { ...o, only });
      } finally {
        deps.close();
      }
    },
  };
}
