// CardDAV and CalDAV on the web listeners (issue 11): adapts Fastify to the pure handler.
//
// Authentication (RFC 7617 Basic): the account password or an app password, through the same
// Authenticate as IMAP and SMTP AUTH, so the login limits and back-off are shared. Credentials are
// accepted only over TLS or from loopback (RFC 6352 §13 / RFC 4791 §8: servers must support TLS;
// a password in clear over the network is refused). Every failure is 401 with WWW-Authenticate.
//
// Discovery (RFC 6764 §5): /.well-known/carddav and /.well-known/caldav redirect to /dav/, where
// a PROPFIND answers current-user-principal (RFC 5397) and the principal names the homes.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Authenticate } from "../login/authenticator.ts";
import { DAV_ROOT, MAX_RESOURCE_BYTES, handleDav } from "./handler.ts";
import type { DavContext, DavUser } from "./handler.ts";
import { CARDDAV, el, document, DAV } from "./xml.ts";

export interface DavPluginDeps {
  ctx: DavContext;
  authenticate: Authenticate;
  /** True on the https listener. */
  secure: boolean;
}

export const DAV_METHODS = ["PROPFIND", "PROPPATCH", "MKCOL", "MKCALENDAR", "REPORT"] as const;
const REALM = 'Basic realm="Freehold", charset="UTF-8"';
const XML_TYPE = "application/xml; charset=utf-8";

const isLoopback = (ip: string) => ip === "::1" || ip.startsWith("127.") || ip.startsWith("::ffff:127.");

function davError(reply: FastifyReply, status: number, message: string, condition?: ReturnType<typeof el>): FastifyReply {
  const body = document(el(DAV, "error", [...(condition ? [condition] : []), el("http://freehold.invalid/ns", "message", message)]));
  return reply.code(status).type(XML_TYPE).send(body);
}

/** Basic credentials from the header, or null. */
function basic(h: string | undefined): { user: string; password: string } | null {
  const m = /^Basic ([A-Za-z0-9+/=]{1,1400})$/i.exec(h ?? "");
  if (!m) return null;
  const s = Buffer.from(m[1], "base64").toString("utf8");
  const i = s.indexOf(":");
  if (i <= 0) return null;
  return { user: s.slice(0, i).toLowerCase(), password: s.slice(i + 1) };
}

export async function davPlugin(app: FastifyInstance, deps: DavPluginDeps): Promise<void> {
  for (const m of DAV_METHODS) if (!app.supportedMethods.includes(m)) app.addHttpMethod(m, { hasBody: true });

  await app.register(async (dav) => {
    // Bodies of every type arrive as bytes; a body over the limit is 413 with a DAV error body.
    dav.removeAllContentTypeParsers();
    dav.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: MAX_RESOURCE_BYTES }, (_req, body, done) => done(null, body));
    dav.setErrorHandler((err: { code?: string; statusCode?: number }, _req, reply) => {
      if (err.code === "FST_ERR_CTP_BODY_TOO_LARGE") return davError(reply, 413, `at most ${MAX_RESOURCE_BYTES} bytes`, el(CARDDAV, "max-resource-size"));
      if (typeof err.statusCode === "number" && err.statusCode >= 400 && err.statusCode < 500) return davError(reply, err.statusCode, "bad request");
      throw err;
    });
    // RFC 6764 §5: the well-known URIs redirect to the context path (a body, if any, is ignored).
    for (const wk of ["/.well-known/carddav", "/.well-known/caldav"]) {
      dav.route({ method: ["GET", "HEAD", "PROPFIND", "OPTIONS"], url: wk, handler: async (_req, reply) => reply.code(301).header("location", `${DAV_ROOT}/`).send() });
    }
    const handler = async (req: FastifyRequest, reply: FastifyReply) => {
      if (!deps.secure && !isLoopback(req.ip)) return davError(reply, 403, "use https: passwords are not accepted in clear");
      const cred = basic(req.headers.authorization);
      if (!cred) return davError(reply.header("www-authenticate", REALM), 401, "authentication required");
      const login = await deps.authenticate(cred.user, cred.password, req.ip);
      if (!login.ok) {
        if (login.reason === "limited") reply.header("retry-after", String(Math.ceil(login.retryAfterMs / 1000)));
        return davError(reply.header("www-authenticate", REALM), 401, login.reason === "limited" ? "too many failed logins; try later" : "authentication failed");
      }
      const user: DavUser = { address: login.user.address, displayName: login.user.displayName };
      let path: string;
      try {
        path = decodeURIComponent(req.url.split("?")[0]);
      } catch {
        return davError(reply, 400, "the path is not valid percent-encoding");
      }
      const headers: Record<string, string | undefined> = {};
      for (const h of ["depth", "if-match", "if-none-match", "content-type"]) {
        const v = req.headers[h];
        headers[h] = Array.isArray(v) ? v[0] : v;
      }
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const res = await handleDav(deps.ctx, user, { method: req.method, path, headers, body });
      reply.code(res.status).header("cache-control", "no-store");
      for (const [k, v] of Object.entries(res.headers)) reply.header(k, v);
      return reply.send(res.body);
    };
    const methods = ["GET", "HEAD", "PUT", "DELETE", "OPTIONS", ...DAV_METHODS];
    dav.route({ method: methods, url: DAV_ROOT, handler });
    dav.route({ method: methods, url: `${DAV_ROOT}/*`, handler });
  });
}
