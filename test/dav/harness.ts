// A CardDAV/CalDAV server under test: a data folder, the services in this process, and the web
// app in dev mode (http) on 127.0.22.1 (this suite's loopback block) with the DAV plugin the
// starter registers. Requests go over real sockets.
import http from "node:http";
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
import { createWebApp } from "../../src/web/server.ts";
import { SessionStore } from "../../src/web/sessions.ts";
import { ApiTokenService } from "../../src/web/tokens.ts";
import { SYSTEM } from "../../src/accounts/authz.ts";
import { davPlugin } from "../../src/dav/plugin.ts";
import { davContext } from "../../src/dav/service.ts";
import type { SqliteDb } from "../../src/store/sqlite/db.ts";

export const HOST = "127.0.22.1";
export const PASSWORD = "a long test password";

export interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

export interface DavServer {
  data: DataDir;
  services: Services;
  app: FastifyInstance;
  davDb: SqliteDb;
  port: number;
  base: string;
  req(method: string, path: string, opts?: { user?: string; password?: string; body?: string | Buffer; headers?: Record<string, string> }): Promise<Res>;
  close(): Promise<void>;
}

/** host: a loopback address in the caller's block (default HOST). */
export async function startDav(host = HOST): Promise<DavServer> {
  const data = await createDataDir({ hostname: "mail.a.test", admin: "admin@a.test" });
  const config = await loadConfig(data.dir);
  const services = await openServices(config, { logger: silentLogger() });
  await services.accounts.addDomain(SYSTEM, "b.test");
  for (const address of ["u@a.test", "v@a.test", "w@b.test"]) await services.accounts.addUser(SYSTEM, { address, password: PASSWORD });
  const side = openSideDb(config.dataDir, {});
  const authenticate = createAuthenticator({ accounts: services.accounts, store: services.storage.store, limiter: new LoginLimiter({ clock: services.clock }), cache: null, delay: async () => undefined });
  const dav = davContext(services);
  const app = await createWebApp(
    {
      config: { ...config, dev: true },
      store: services.storage.store,
      accounts: services.accounts,
      dkim: services.dkim,
      tokens: new ApiTokenService({ repo: new SqliteApiTokens(side), store: services.storage.store, clock: services.clock }),
      sessions: new SessionStore(services.clock),
      authenticate,
      clock: services.clock,
      logger: silentLogger(),
      dav: dav.ctx,
      plugins: [(a) => davPlugin(a, { ctx: dav.ctx, authenticate, secure: false })],
    },
    { role: "http", address: host, port: 0 },
  );
  await app.listen({ host, port: 0 });
  const port = (app.server.address() as { port: number }).port;
  const req: DavServer["req"] = (method, p, opts = {}) =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.user !== undefined) headers.authorization = `Basic ${Buffer.from(`${opts.user}:${opts.password ?? PASSWORD}`).toString("base64")}`;
      if (opts.body !== undefined) {
        headers["content-length"] = String(Buffer.byteLength(opts.body));
        headers["content-type"] ??= "application/xml; charset=utf-8";
      }
      const r = http.request({ host, port, method, path: p, headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") }));
      });
      r.on("error", reject);
      r.end(opts.body);
    });
  return {
    data,
    services,
    app,
    davDb: dav.db,
    port,
    base: `http://${host}:${port}`,
    req,
    async close() {
      await app.close();
      dav.db.close();
      side.close();
      await services.storage.close();
      services.closeSideDb?.();
      services.resolver.cancel();
      await services.dataLock?.release();
      await data.remove();
    },
  };
}
