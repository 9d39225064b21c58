// The HTTP side (issue 9, docs/web.md, docs/api.md): one Fastify app per http/https listener.
//
// What a listener serves depends on its role and the mode:
//   - https (any mode) and http in dev: the JSON API under /api/v1, the admin at / (the UI is
//     built separately; until then / says where the API is), and the extra plugins;
//   - http in production: the extra plugins (autoconfig, MTA-STS: chosen by Host), ACME HTTP-01
//     challenges (src/acme/challenges.ts; every listener, any Host) and a redirect to https for
//     everything else. The admin and the API are never served in clear.
//
// Every request passes: security headers (security.ts); authentication (an API token in
// `Authorization: Bearer`, or the session cookie); for a session, the CSRF token on every
// state-changing method plus an Origin check. Routes call the service layer only (accounts,
// queue and DKIM admin, tokens); errors leave as RFC 9457 problems (problem.ts).
import Fastify from "fastify";
import { HTTP01_PREFIX, http01Answer, selectAlpn, takeAlpnContext } from "../acme/challenges.ts";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import cookie from "@fastify/cookie";
import swagger from "@fastify/swagger";
import { hasZodFastifySchemaValidationErrors, jsonSchemaTransform, serializerCompiler, validatorCompiler } from "fastify-type-provider-zod";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { Actor } from "../accounts/authz.ts";
import type { AccountsService } from "../accounts/service.ts";
import type { Clock } from "../clock.ts";
import type { Config, Listener } from "../config/schema.ts";
import type { DkimService } from "../emailauth/dkim-service.ts";
import { DkimAdmin } from "../emailauth/dkim-admin.ts";
import type { Logger } from "../log/logger.ts";
import type { Authenticate } from "../login/authenticator.ts";
import { QueueAdmin } from "../queue/admin.ts";
import { JobService } from "../jobs/jobs.ts";
import type { BlobStore, MetadataStore } from "../store/types.ts";
import type { SpamService } from "../spam/service.ts";
import type { SuppressionService } from "../suppression/service.ts";
import type { AutoconfigConfig } from "./autoconfig/plugin.ts";
import type { LoadedTls } from "../tls/context.ts";
import { ApiProblem, problemBody, problemOfServiceError } from "./problem.ts";
import type { ProblemKind } from "./problem.ts";
import { sessionCookieName, setSecurityHeaders } from "./security.ts";
import { credentialOf } from "./sessions.ts";
import type { SessionStore } from "./sessions.ts";
import type { ApiTokenService } from "./tokens.ts";
import { registerApiRoutes } from "./routes/index.ts";
import { registerUi } from "./ui.ts";

export interface WebDeps {
  config: Pick<Config, "dev" | "hostname" | "server" | "mtaSts" | "listeners"> & { dns?: Config["dns"] } & { dataDir?: string } & { acme?: Pick<Config["acme"], "enabled"> };
  store: MetadataStore;
  accounts: AccountsService;
  dkim: Pick<DkimService, "list" | "rotate">;
  tokens: ApiTokenService;
  sessions: SessionStore;
  /** The login shared with IMAP and SMTP AUTH (limits, back-off): server/starters.ts. */
  authenticate: Authenticate;
  clock: Clock;
  logger: Logger;
  /** The certificate for https listeners; read per handshake, so a reload (tls/reload.ts) applies. */
  tls?: LoadedTls;
  /** Every certificate the process has loaded, for GET /api/v1/status (else `tls` alone). */
  certificates?: { main?: LoadedTls; sni?: () => LoadedTls[] };
  /** Certificates by name (config tls.sni, sni.ts); names without one get `tls`. */
  sni?: (servername: string) => import("node:tls").SecureContext | undefined;
  /** The live configuration the client settings are built from (GET /api/v1/account/mobileconfig). */
  clientConfig?: () => AutoconfigConfig;
  /** Spam figures by role (GET /api/v1/spam/stats). */
  spam?: Pick<SpamService, "statsFor">;
  /** The suppression list (/api/v1/suppressions). */
  suppression?: Pick<SuppressionService, "list" | "add" | "remove">;
  /** The message bodies (the export download reads them). */
  blobs?: BlobStore;
  /** The current log file, absolute (GET /api/v1/trace reads it and its rotations). */
  traceLogFile?: string;
  /** Address books and calendars (src/dav/): the /api/v1/account/contacts… routes, when given. */
  dav?: import("../dav/handler.ts").DavContext;
  /** More routes (autoconfig, MTA-STS...), registered on every listener before the API. */
  plugins?: Array<(app: FastifyInstance) => Promise<void>>;
  /** Long operations (jobs/jobs.ts); one per listener when not given. */
  jobs?: JobService;
  /** The checks of `freehold check` (health/check.ts), for the checks job; absent: not offered. */
  runChecks?: (opts: import("../health/check.ts").CheckOptions) => Promise<import("../health/types.ts").CheckReport>;
  /** The watcher's stored check results (health/watch/history.ts), newest first. */
  checkHistory?: (limit: number) => import("../health/watch/history.ts").HistoryRow[];
}

/** Request state the hooks fill in. */
declare module "fastify" {
  interface FastifyInstance {
    /** Every /api/v1 route as "METHOD /path" (the test compares it with the OpenAPI document). */
    apiRoutes: string[];
  }
  interface FastifyRequest {
    actor: Actor | null;
    /** The session cookie value when the request came with a live session. */
    sessionId: string | null;
  }
}

/** What routes get besides the request. */
export interface ApiContext {
  deps: WebDeps;
  queue: QueueAdmin;
  dkimAdmin: DkimAdmin;
  jobs: JobService;
  secure: boolean;
}

const STATE_CHANGING = new Set(["POST", "PUT", "PATCH", "DELETE"]);
/** Routes that need no login: the login itself and the API description. */
const PUBLIC = new Set(["POST /api/v1/session", "GET /api/v1/openapi.json"]);

export const API_PREFIX = "/api/v1";
/** Request bodies are small JSON documents; anything bigger is refused before parsing. */
export const BODY_LIMIT = 64 * 1024;

export function sendProblem(reply: FastifyReply, kind: ProblemKind, detail?: string, errors?: Array<{ path: string; message: string }>): FastifyReply {
  const body = problemBody(kind, detail, errors);
  return reply.code(body.status).type("application/problem+json").send(JSON.stringify(body));
}

export async function createWebApp(deps: WebDeps, listener: Pick<Listener, "role" | "address" | "port">): Promise<FastifyInstance> {
  const secure = listener.role === "https";
  if (secure && !deps.tls) throw new Error("https listener without a certificate");
  const live = deps.tls;
  let served = live?.context;
  const app = Fastify({
    bodyLimit: BODY_LIMIT,
    // Our logger writes JSON lines of its own; Fastify's request log would double them.
    logger: false,
    trustProxy: false,
    // Connections are not kept open forever by idle clients (slowloris-style).
    requestTimeout: 30_000,
    // A path parameter holds at most an address (256 octets), percent-encoded; longer ones and
    // undecodable paths are refused by the router as problems like every other error (found by
    // the HTTP API fuzzer: Fastify answered them in its own JSON shape).
    routerOptions: { maxParamLength: 1024 },
    // Requests the HTTP parser refuses (a request line or headers past Node's limit, a timeout,
    // bytes that are not HTTP) get a problem document too, then the connection closes.
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: import("node:net").Socket) => {
      if (err.code === "ECONNRESET" || socket.destroyed || !socket.writable) return;
      const kind: ProblemKind = err.code === "HPE_HEADER_OVERFLOW" ? "headers-too-large" : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? "timeout" : "invalid-request";
      const p = problemBody(kind);
      // A HEAD request gets the headers only (RFC 9110 §9.3.2); the parser's raw bytes tell.
      const raw = (err as { rawPacket?: Buffer }).rawPacket;
      const body = raw && raw.subarray(0, 5).toString("latin1") === "HEAD " ? "" : JSON.stringify(p);
      socket.end(`HTTP/1.1 ${p.status} ${p.title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    },
    frameworkErrors: (err, _req, reply) => {
      const code = (err as { code?: string }).code;
      if (code === "FST_ERR_MAX_PARAM_LENGTH") return sendProblem(reply, "uri-too-long");
      return sendProblem(reply, "invalid-request", code === "FST_ERR_BAD_URL" ? "the path is not valid" : "the request is not valid");
    },
    ...(secure && live
      ? {
          https: {
            ...live.options,
            // SNI: the name's own certificate, else the main one (each current after a reload).
            // ACME TLS-ALPN-01 (RFC 8737; src/acme/challenges.ts): the ALPN callback runs first.
            ALPNCallback: ({ servername, protocols }: { servername: string; protocols: string[] }) => selectAlpn(servername, protocols),
            SNICallback: (name: string, cb: (err: Error | null, ctx?: import("node:tls").SecureContext) => void) =>
              cb(null, takeAlpnContext(name) ?? deps.sni?.(name) ?? live.context),
          },
        }
      : {}),
  });
  if (secure && live) {
    // Clients without SNI get the server's default context: bring it up to date at the TCP
    // connection, before the handshake, when the certificate was reloaded.
    app.server.on("connection", () => {
      if (live.context !== served) {
        served = live.context;
        (app.server as unknown as import("node:tls").Server).setSecureContext(live.options);
      }
    });
  }
  // ACME HTTP-01 (RFC 8555 §8.3; src/acme/challenges.ts): on every listener, for any Host.
  app.get(`${HTTP01_PREFIX}:token`, async (req, reply) => {
    const answer = http01Answer((req.params as { token: string }).token);
    if (answer === undefined) return reply.code(404).type("text/plain").send("not found\n");
    return reply.type("application/octet-stream").send(answer);
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorateRequest("actor", null);
  app.decorateRequest("sessionId", null);
  await app.register(cookie);

  app.addHook("onRequest", async (_req, reply) => {
    setSecurityHeaders(reply, secure);
  });

  app.setErrorHandler((err: unknown, req, reply) => {
    if (hasZodFastifySchemaValidationErrors(err)) {
      const errors = err.validation.map((v) => ({ path: `${err.validationContext ?? ""}${v.instancePath || ""}`, message: v.message ?? "invalid" }));
      return sendProblem(reply, "invalid-request", "the request does not match the schema", errors);
    }
    const code = (err as { code?: string }).code;
    if (code === "FST_ERR_CTP_BODY_TOO_LARGE") return sendProblem(reply, "too-large", `at most ${BODY_LIMIT} bytes`);
    if (code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") return sendProblem(reply, "unsupported-media-type");
    if (code === "FST_ERR_CTP_EMPTY_JSON_BODY" || code === "FST_ERR_CTP_INVALID_JSON_BODY" || (err instanceof SyntaxError && (err as { statusCode?: number }).statusCode === 400)) {
      return sendProblem(reply, "invalid-request", "the body is not valid JSON");
    }
    const p = problemOfServiceError(err);
    if (p) {
      for (const [k, v] of Object.entries(p.headers ?? {})) reply.header(k, v);
      // Another tenant's object is "not found", never "forbidden": ids and names leak nothing.
      if (p.kind === "forbidden" && namesAnObject(req)) return sendProblem(reply, "not-found", "not found");
      return sendProblem(reply, p.kind, p.message, p.errors);
    }
    const status = (err as { statusCode?: number }).statusCode;
    if (typeof status === "number" && status >= 400 && status < 500) return sendProblem(reply, "invalid-request", (err as Error).message);
    deps.logger.error({ err, method: req.method, url: req.routeOptions.url }, "http request failed");
    return sendProblem(reply, "internal");
  });
  app.setNotFoundHandler((req, reply) => sendProblem(reply, "not-found", `no route ${req.method} ${req.url.split("?")[0]}`));

  for (const plugin of deps.plugins ?? []) await plugin(app);

  if (!secure && !deps.config.dev) {
    // Production port 80: nothing but the plugins and a redirect to https.
    app.all("/*", async (req, reply) => {
      const host = hostOnly(req.headers.host) ?? deps.config.hostname;
      return reply.code(308).header("location", `https://${host}${req.url}`).send();
    });
    return app;
  }

  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: { title: "Freehold API", version: "1", description: "docs/api.md" },
      components: {
        securitySchemes: {
          token: { type: "http", scheme: "bearer", description: "An API token (fh_...)" },
          session: { type: "apiKey", in: "cookie", name: sessionCookieName(secure) },
        },
      },
      security: [{ token: [] }, { session: [] }],
    },
    transform: jsonSchemaTransform,
  });

  // preValidation: who is asking is settled before the body is checked, so a stranger learns
  // nothing from validation messages.
  app.addHook("preValidation", async (req, reply) => {
    if (!req.url.startsWith(API_PREFIX + "/")) return;
    const key = `${req.method} ${req.routeOptions.url}`;
    reply.header("cache-control", "no-store");
    await resolveActor(deps, req, secure);
    if (PUBLIC.has(key)) {
      if (STATE_CHANGING.has(req.method) && !sameOrigin(req, secure)) throw new ApiProblem("csrf", "cross-origin request refused");
      return;
    }
    if (!req.actor) throw new ApiProblem("unauthenticated");
    if (req.sessionId !== null && STATE_CHANGING.has(req.method)) {
      const s = deps.sessions.get(req.sessionId);
      const sent = req.headers["x-csrf-token"];
      if (!s || typeof sent !== "string" || sent !== s.csrf || !sameOrigin(req, secure)) throw new ApiProblem("csrf");
    }
  });

  app.decorate("apiRoutes", [] as string[]);
  app.addHook("onRoute", (r) => {
    if (!r.url.startsWith(API_PREFIX + "/")) return;
    for (const m of Array.isArray(r.method) ? r.method : [r.method]) if (m !== "HEAD") app.apiRoutes.push(`${m} ${r.url}`);
  });
  const ctx: ApiContext = {
    deps,
    secure,
    queue: new QueueAdmin({ store: deps.store, clock: deps.clock }),
    dkimAdmin: new DkimAdmin({ store: deps.store, dkim: deps.dkim }),
    jobs: deps.jobs ?? new JobService({ clock: deps.clock, onError: (err, kind) => deps.logger.warn({ err, kind }, "job failed") }),
  };
  await app.register(
    async (api) => {
      registerApiRoutes(api.withTypeProvider<ZodTypeProvider>(), ctx);
      api.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
    },
    { prefix: API_PREFIX },
  );

  // The admin UI (ui.ts): / and /assets/*.
  await registerUi(app);
  return app;
}

/** Token first (an explicit header), else the session cookie. A bad token is a 401, not a fallback. */
async function resolveActor(deps: WebDeps, req: FastifyRequest, secure: boolean): Promise<void> {
  const auth = req.headers.authorization;
  if (auth !== undefined) {
    const m = /^Bearer ([\x21-\x7e]{1,200})$/.exec(auth);
    const found = m ? await deps.tokens.authenticate(m[1]) : null;
    if (!found) throw new ApiProblem("unauthenticated", "the token is not valid");
    req.actor = found.actor;
    return;
  }
  const sid = req.cookies[sessionCookieName(secure)];
  if (!sid) return;
  const s = deps.sessions.get(sid);
  if (!s) return;
  const user = await deps.store.accounts.getUserById(s.userId);
  const domain = user ? await deps.store.accounts.getDomainById(user.domainId) : null;
  // Checked on every request: a disable or a password change (through the CLI too) ends it.
  if (!user || user.disabled || !domain || domain.disabled || credentialOf(user.passwordHash) !== s.credential) {
    deps.sessions.delete(sid);
    return;
  }
  req.actor = { kind: "user", user, source: "session" };
  req.sessionId = sid;
}

/**
 * The Origin check of the CSRF defence: a browser sends Origin on every state-changing fetch;
 * it must be this server as the browser reached it. Sec-Fetch-Site, where sent, must say so too.
 * Non-browser clients send neither and carry a token or the CSRF header instead.
 */
function sameOrigin(req: FastifyRequest, secure: boolean): boolean {
  const site = req.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin" && site !== "none") return false;
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  return origin === `${secure ? "https" : "http"}://${req.headers.host ?? ""}`;
}

function hostOnly(h: string | undefined): string | null {
  if (!h) return null;
  // A Host header is a name or [v6] with an optional port; anything else is not echoed back.
  const m = /^([a-z0-9.-]{1,253}|\[[0-9a-f:.]+\])(:\d{1,5})?$/i.exec(h);
  return m ? m[1] : null;
}

/**
 * Does the request name an object of another tenant than the caller's (a path parameter, a
 * domain filter, an address in the body)? Then a refusal is "not found": a domain admin cannot
 * tell another domain's existing objects from missing ones. A refusal about the caller's own
 * domain (a domain admin granting "admin") stays "forbidden". For a plain user every named
 * object not theirs is "not found".
 */
function namesAnObject(req: FastifyRequest): boolean {
  const actor = req.actor;
  if (!actor || actor.kind !== "user") return false;
  const own = actor.user.address.slice(actor.user.address.lastIndexOf("@") + 1);
  const domainOf = (v: unknown): string | null => {
    if (typeof v !== "string" || v === "") return null;
    return v.slice(v.lastIndexOf("@") + 1).toLowerCase().replace(/\.$/, "");
  };
  const params = (req.params ?? {}) as Record<string, unknown>;
  const q = (req.query ?? {}) as Record<string, unknown>;
  const b = (typeof req.body === "object" && req.body !== null ? req.body : {}) as Record<string, unknown>;
  const named = [params.domain, params.address, q.domain, b.address, req.routeOptions.url === `${API_PREFIX}/domains` ? b.name : undefined].map(domainOf).filter((d): d is string => d !== null);
  // Objects by id (queue entries, tokens) are checked by their services, which say "not found".
  // A plain user's tenant is their own account: any other named object is "not found".
  if (actor.user.role === "user") return named.length > 0 && String(params.address ?? "").toLowerCase() !== actor.user.address;
  return named.some((d) => d !== own);
}
