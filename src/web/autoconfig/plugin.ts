// The HTTP side of client autoconfiguration and MTA-STS, as a Fastify plugin the web server
// registers (src/web/server.ts: `app.register(autoconfigPlugin, deps)`, or called directly on
// an instance). Which document is wanted is decided by the Host header and the path (host.ts);
// every answer names only domains this server serves, anything else is 404. The documents are
// built by the pure generators beside this file from the live configuration (read per request,
// so a config reload changes the next answer).
//
//   autoconfig.<d>/mail/config-v1.1.xml?emailaddress=…        Thunderbird (thunderbird.ts)
//   <d>/.well-known/autoconfig/mail/config-v1.1.xml?…         Thunderbird, the second URL it tries
//   POST autodiscover.<d>/autodiscover/autodiscover.xml        Outlook POX (autodiscover.ts)
//   autodiscover.<d>/autodiscover/autodiscover.json?Email=…    Outlook JSON v2
//   mta-sts.<d>/.well-known/mta-sts.txt                        RFC 8461 policy (mta-sts.ts)
//   /api/v1/account/mobileconfig                               Apple profile of the signed-in user
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { AccountsService } from "../../accounts/service.ts";
import type { Config } from "../../config/schema.ts";
import type { UserRecord } from "../../store/types.ts";
import { MAX_POX_REQUEST, jsonAutodiscover, parsePoxRequest, poxError, poxResponse } from "./autodiscover.ts";
import { hostTarget } from "./host.ts";
import type { HostKind } from "./host.ts";
import { MOBILECONFIG_CONTENT_TYPE, mobileconfig, mobileconfigFileName } from "./mobileconfig.ts";
import { MTA_STS_CONTENT_TYPE, MTA_STS_PATH, mtaStsFile } from "./mta-sts.ts";
import { clientSettings } from "./settings.ts";
import { thunderbirdConfig } from "./thunderbird.ts";
import { parseClientAddress } from "./xml.ts";

export type AutoconfigConfig = Pick<Config, "hostname" | "listeners" | "mtaSts">;

export interface AutoconfigDeps {
  /** The configuration, or a function returning the live one. */
  config: AutoconfigConfig | (() => AutoconfigConfig);
  accounts: Pick<AccountsService, "servesDomain">;
  /**
   * The signed-in user of a request (the web session), or null. Without it the mobileconfig
   * route is not registered.
   */
  authenticatedUser?: (req: FastifyRequest) => Promise<UserRecord | null> | UserRecord | null;
}

const XML = "application/xml; charset=utf-8";
const THUNDERBIRD_PATHS = [
  { path: "/mail/config-v1.1.xml", hosts: ["autoconfig"] as HostKind[] },
  { path: "/.well-known/autoconfig/mail/config-v1.1.xml", hosts: ["bare", "autoconfig"] as HostKind[] },
];
// Outlook writes the path in either case; the router is case-sensitive.
const POX_PATHS = ["/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml", "/AutoDiscover/AutoDiscover.xml"];
const JSON_PATHS = ["/autodiscover/autodiscover.json", "/Autodiscover/Autodiscover.json", "/AutoDiscover/AutoDiscover.json"];

function notFound(reply: FastifyReply): FastifyReply {
  return reply.code(404).type("text/plain; charset=utf-8").send("Not found\n");
}

export async function autoconfigPlugin(app: FastifyInstance, deps: AutoconfigDeps): Promise<void> {
  const config = (): AutoconfigConfig => (typeof deps.config === "function" ? deps.config() : deps.config);

  /** The served domain this request's Host names (for one of `kinds`), or null. */
  const servedDomain = async (req: FastifyRequest, kinds: HostKind[]): Promise<string | null> => {
    const t = hostTarget(req.headers.host);
    if (!t || !kinds.includes(t.kind)) return null;
    return (await deps.accounts.servesDomain(t.domain)) ? t.domain : null;
  };

  // Outlook posts text/xml; parsed here as a string, bounded (autodiscover.ts parses it).
  for (const type of ["text/xml", "application/xml"]) {
    if (!app.hasContentTypeParser(type)) {
      app.addContentTypeParser(type, { parseAs: "string", bodyLimit: MAX_POX_REQUEST }, (_req, body, done) => done(null, body));
    }
  }

  for (const { path, hosts } of THUNDERBIRD_PATHS) {
    app.get(path, async (req, reply) => {
      const domain = await servedDomain(req, hosts);
      if (!domain) return notFound(reply);
      const q = req.query as Record<string, unknown>;
      const given = q.emailaddress;
      if (given !== undefined) {
        const a = typeof given === "string" ? parseClientAddress(given) : null;
        if (!a) return reply.code(400).type("text/plain; charset=utf-8").send("emailaddress is not a valid address\n");
        if (a.domain !== domain) return notFound(reply);
      }
      return reply.type(XML).header("cache-control", "no-cache").send(thunderbirdConfig(domain, clientSettings(config())));
    });
  }

  for (const path of POX_PATHS) {
    app.post(path, { bodyLimit: MAX_POX_REQUEST }, async (req, reply) => {
      const host = await servedDomain(req, ["autodiscover", "bare"]);
      if (!host) return notFound(reply);
      const body = typeof req.body === "string" ? req.body : "";
      const r = parsePoxRequest(body);
      if (!r.ok) {
        // Exchange answers an unsupported AcceptableResponseSchema inside a 200 (error 601).
        if (r.reason === "schema") return reply.type(XML).send(poxError(601, "Provider is not available for the requested schema"));
        return reply.code(400).type(XML).send(poxError(600, "Invalid Request"));
      }
      if (r.domain !== host) return notFound(reply);
      return reply.type(XML).header("cache-control", "no-cache").send(poxResponse(r.address, clientSettings(config())));
    });
  }

  const jsonHandler = async (req: FastifyRequest, reply: FastifyReply, emailParam: unknown) => {
    const host = await servedDomain(req, ["autodiscover", "bare"]);
    if (!host) return notFound(reply);
    const a = typeof emailParam === "string" ? parseClientAddress(emailParam) : null;
    if (!a) return reply.code(400).send({ ErrorCode: "InvalidEmail", ErrorMessage: "The given SMTP address is invalid." });
    if (a.domain !== host) return notFound(reply);
    const q = req.query as Record<string, unknown>;
    const r = jsonAutodiscover(a.domain, typeof q.Protocol === "string" ? q.Protocol : undefined);
    return reply.code(r.status).send(r.body);
  };
  for (const path of JSON_PATHS) {
    app.get(path, (req, reply) => jsonHandler(req, reply, (req.query as Record<string, unknown>).Email));
    app.get(`${path}/v1.0/:email`, (req, reply) => jsonHandler(req, reply, (req.params as { email: string }).email));
  }

  app.get(MTA_STS_PATH, async (req, reply) => {
    if (!(await servedDomain(req, ["mta-sts"]))) return notFound(reply);
    return reply.type(MTA_STS_CONTENT_TYPE).send(mtaStsFile(config()));
  });

  const authenticatedUser = deps.authenticatedUser;
  if (authenticatedUser) {
    app.get("/api/v1/account/mobileconfig", async (req, reply) => {
      const user = await authenticatedUser(req);
      if (!user) {
        return reply.code(401).type("application/problem+json").send({ type: "about:blank", title: "Unauthorized", status: 401, detail: "sign in first" });
      }
      const doc = mobileconfig({ id: user.id, address: user.address, displayName: user.displayName }, clientSettings(config()));
      if (!doc) {
        return reply.code(409).type("application/problem+json").send({ type: "about:blank", title: "Conflict", status: 409, detail: "this server has no TLS IMAP and submission listeners to configure" });
      }
      return reply
        .type(MOBILECONFIG_CONTENT_TYPE)
        .header("content-disposition", `attachment; filename="${mobileconfigFileName(user.address)}"`)
        .header("cache-control", "no-store")
        .send(doc);
    });
  }
}
