// The http and https listeners (server/starters.ts registers this for both roles). State shared
// by every web listener of the process is built once: the session table (a login on one
// listener holds on another of the same process), the token repo on its own connection.
import path from "node:path";
import type { FastifyInstance } from "fastify";
import type { ProtocolStarter } from "../server/run.ts";
import type { Services } from "../server/services.ts";
import type { Authenticate } from "../login/authenticator.ts";
import { openSideDb } from "../store/sqlite/dkim.ts";
import { SqliteApiTokens } from "../store/sqlite/tokens.ts";
import type { SqliteDb } from "../store/sqlite/db.ts";
import { createWebApp } from "./server.ts";
import { autoconfigPlugin } from "./autoconfig/plugin.ts";
import { SessionStore } from "./sessions.ts";
import { ApiTokenService } from "./tokens.ts";
import { openSniCertificates } from "./sni.ts";
import type { SniCertificates } from "./sni.ts";
import { JobService } from "../jobs/jobs.ts";
import { serverChecks } from "../health/server-checks.ts";
import { WatchStore } from "../health/watch/history.ts";
import { davPlugin } from "../dav/plugin.ts";
import { davContext } from "../dav/service.ts";
import type { DavContext } from "../dav/handler.ts";

export interface WebStarterOptions {
  authenticate: (services: Services) => Authenticate;
  /** Extra routes for every listener (autoconfig, MTA-STS), e.g. from src/web/autoconfig/. */
  plugins?: Array<(app: FastifyInstance) => Promise<void>>;
}

export function webStarter(opts: WebStarterOptions): ProtocolStarter {
  let shared: { db: SqliteDb; dav: { db: SqliteDb; ctx: DavContext }; tokens: ApiTokenService; sessions: SessionStore; sni: SniCertificates; jobs: JobService; open: number } | null = null;
  return async (services, listener) => {
    if (!shared) {
      const sni = await openSniCertificates(services.config.tls.sni, services.logger);
      const db = openSideDb(services.config.dataDir, { clock: services.clock });
      shared = {
        sni,
        db,
        dav: davContext(services),
        tokens: new ApiTokenService({ repo: new SqliteApiTokens(db), store: services.storage.store, clock: services.clock }),
        sessions: new SessionStore(services.clock),
        jobs: new JobService({ clock: services.clock, onError: (err, kind) => services.logger.warn({ err, kind }, "job failed") }),
        open: 0,
      };
    }
    const s = shared;
    const authenticate = opts.authenticate(services);
    const app = await createWebApp(
      {
        config: services.config,
        store: services.storage.store,
        accounts: services.accounts,
        dkim: services.dkim,
        tokens: s.tokens,
        sessions: s.sessions,
        authenticate,
        dav: s.dav.ctx,
        clock: services.clock,
        logger: services.logger,
        clientConfig: () => services.config,
        spam: services.spam,
        blobs: services.storage.blobs,
        suppression: services.suppression,
        traceLogFile: path.resolve(services.config.dataDir, services.config.log.file),
        tls: listener.role === "https" ? services.tls : undefined,
        sni: (name) => s.sni.pick(name),
        // GET /api/v1/status reports them on every listener (the http one too).
        certificates: { main: services.tls, sni: () => s.sni.loaded() },
        jobs: s.jobs,
        // The checks job runs what serve's watcher runs (src/health/server-checks.ts).
        runChecks: serverChecks(services),
        checkHistory: (limit) => new WatchStore(s.db).history(undefined, limit),
        // Thunderbird autoconfig, Outlook autodiscover and the MTA-STS policy, chosen by Host
        // (src/web/autoconfig/), on every listener; then any extra plugins.
        plugins: [
          (app) => autoconfigPlugin(app, { config: () => services.config, accounts: services.accounts }),
          // CardDAV and CalDAV (src/dav/, issue 11), with the same login as IMAP.
          (app) => davPlugin(app, { ctx: s.dav.ctx, authenticate, secure: listener.role === "https" }),
          ...(opts.plugins ?? []),
        ],
      },
      listener,
    );
    await app.listen({ host: listener.address, port: listener.port });
    const addr = app.server.address();
    s.open++;
    return {
      port: typeof addr === "object" && addr ? addr.port : listener.port,
      async close() {
        await app.close();
        if (--s.open === 0) {
          s.db.close();
          s.dav.db.close();
          s.sni.stop();
          shared = null;
        }
      },
    };
  };
}
