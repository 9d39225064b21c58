// /api/v1/domains/:domain/dkim and /dns-records: keys with rotation, and the records to publish
// (src/health/service.ts domainRecords). Checks and their history come with the health work.
import { z } from "zod";
import { isIP } from "node:net";
import { domainRecords } from "../../health/service.ts";
import type { ApiContext } from "../server.ts";
import { actorOf, DomainName } from "./common.ts";
import type { Api } from "./common.ts";

const KeyView = z.strictObject({
  domain: z.string(),
  selector: z.string(),
  type: z.enum(["rsa", "ed25519"]),
  state: z.enum(["new", "published", "active", "retiring", "retired"]),
  createdAt: z.number(),
  name: z.string(),
  txt: z.string(),
});
const Record = z.strictObject({ name: z.string(), type: z.string(), value: z.string(), purpose: z.string() });
const domainParam = z.strictObject({ domain: DomainName });
const Ip = z.string().max(45).refine((s) => isIP(s) !== 0, { message: "expected an IPv4 or IPv6 address" });

export function registerDkimRoutes(api: Api, ctx: ApiContext): void {
  const { dkimAdmin } = ctx;
  api.get(
    "/domains/:domain/dkim",
    { schema: { summary: "DKIM keys with their state and the TXT record each needs", tags: ["dkim"], params: domainParam, response: { 200: z.strictObject({ items: z.array(KeyView) }) } } },
    async (req) => ({ items: await dkimAdmin.list(actorOf(req), req.params.domain) }),
  );
  api.post(
    "/domains/:domain/dkim/rotate",
    {
      schema: {
        summary: "Start a rotation: new keys to publish (the current ones sign until the new are live)",
        tags: ["dkim"],
        params: domainParam,
        response: { 201: z.strictObject({ items: z.array(KeyView) }) },
      },
    },
    async (req, reply) => reply.code(201).send({ items: await dkimAdmin.rotate(actorOf(req), req.params.domain) }),
  );
  api.get(
    "/domains/:domain/dns-records",
    {
      schema: {
        summary: "Every DNS record the domain needs (as `freehold dns records`)",
        tags: ["dns"],
        params: domainParam,
        querystring: z.strictObject({ ip: z.union([Ip, z.array(Ip).max(8)]).optional() }),
        response: { 200: z.strictObject({ items: z.array(Record) }) },
      },
    },
    async (req) => {
      const actor = actorOf(req);
      // The rights (and "not found" for another tenant) as for the keys.
      await dkimAdmin.list(actor, req.params.domain);
      const ip = req.query.ip;
      const ips = ip === undefined ? [] : Array.isArray(ip) ? ip : [ip];
      return { items: domainRecords(ctx.deps.config, ctx.deps.dkim, req.params.domain, { ips: ips.length ? ips : undefined }) };
    },
  );
}
