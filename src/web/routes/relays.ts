// /api/v1/relays and /api/v1/routes: smarthost relays and routing rules (server admins), through
// src/delivery/relay-admin.ts (validation by relays.ts, audit, secrets never answered or logged).
import { z } from "zod";
import { RelayAdmin } from "../../delivery/relay-admin.ts";
import { ApiProblem } from "../problem.ts";
import type { ApiContext } from "../server.ts";
import { actorOf, DomainName } from "./common.ts";
import type { Api } from "./common.ts";

const Tls = z.enum(["starttls", "implicit", "none"]);
const RelayView = z.strictObject({
  name: z.string(),
  host: z.string(),
  port: z.number().int(),
  tls: Tls,
  maxConnections: z.number().int(),
  /** The AUTH user name, if any (the password is never answered). */
  username: z.string().nullable(),
});
const Routes = z.strictObject({
  recipientDomains: z.record(z.string(), z.array(z.string())),
  senderDomains: z.record(z.string(), z.array(z.string())),
  default: z.array(z.string()),
});
const RelayName = z.strictObject({ name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/) });
const RouteList = z.strictObject({ routes: z.array(z.string().min(1).max(63)).min(1).max(10) });
const RuleParams = z.strictObject({ kind: z.enum(["recipient-domain", "sender-domain"]), domain: DomainName });

export function registerRelayRoutes(api: Api, ctx: ApiContext): void {
  const admin = (): RelayAdmin => {
    const dataDir = ctx.deps.config.dataDir;
    if (dataDir === undefined) throw new ApiProblem("not-found", "no relay configuration");
    return new RelayAdmin({ dataDir, store: ctx.deps.store });
  };
  api.get(
    "/relays",
    { schema: { summary: "Relays and the routes that use them (server admins)", tags: ["relays"], response: { 200: z.strictObject({ relays: z.array(RelayView), routes: Routes }) } } },
    async (req) => admin().view(actorOf(req)),
  );
  api.put(
    "/relays/:name",
    {
      schema: {
        summary: "Add or replace a relay (tls none only on loopback)",
        tags: ["relays"],
        params: RelayName,
        body: z
          .strictObject({
            host: z.string().min(1).max(253),
            port: z.number().int().min(1).max(65535),
            tls: Tls,
            maxConnections: z.number().int().min(1).max(1000).optional(),
            username: z.string().min(1).max(256).optional(),
            password: z.string().min(1).max(1024).optional(),
          })
          .refine((b) => (b.username === undefined) === (b.password === undefined), { message: "username and password go together" }),
        response: { 200: z.strictObject({ created: z.boolean() }), 201: z.strictObject({ created: z.boolean() }) },
      },
    },
    async (req, reply) => {
      const r = await admin().put(actorOf(req), req.params.name, req.body);
      return reply.code(r.created ? 201 : 200).send(r);
    },
  );
  api.delete(
    "/relays/:name",
    { schema: { summary: "Remove a relay (refused while a route uses it)", tags: ["relays"], params: RelayName, response: { 204: z.null() } } },
    async (req, reply) => {
      await admin().remove(actorOf(req), req.params.name);
      return reply.code(204).send(null);
    },
  );
  api.put(
    "/routes/default",
    { schema: { summary: "The default routes, in failover order (direct or relay names)", tags: ["relays"], body: RouteList, response: { 200: z.strictObject({ ok: z.literal(true) }) } } },
    async (req) => {
      await admin().setRoute(actorOf(req), "default", null, req.body.routes);
      return { ok: true as const };
    },
  );
  api.put(
    "/routes/:kind/:domain",
    { schema: { summary: "A recipient- or sender-domain rule", tags: ["relays"], params: RuleParams, body: RouteList, response: { 200: z.strictObject({ ok: z.literal(true) }) } } },
    async (req) => {
      await admin().setRoute(actorOf(req), req.params.kind, req.params.domain, req.body.routes);
      return { ok: true as const };
    },
  );
  api.delete(
    "/routes/:kind/:domain",
    { schema: { summary: "Remove a recipient- or sender-domain rule", tags: ["relays"], params: RuleParams, response: { 204: z.null() } } },
    async (req, reply) => {
      await admin().removeRoute(actorOf(req), req.params.kind, req.params.domain);
      return reply.code(204).send(null);
    },
  );
}
