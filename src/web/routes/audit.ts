// /api/v1/audit: the audit log, newest first. Domain admins see their domain's entries only;
// plain users have no access.
import { z } from "zod";
import type { ApiContext } from "../server.ts";
import { actorOf, DomainName, Limit } from "./common.ts";
import type { Api } from "./common.ts";

const Entry = z.strictObject({
  id: z.number().int(),
  at: z.number(),
  actor: z.string(),
  source: z.enum(["cli", "api", "session", "token"]),
  action: z.string(),
  target: z.string(),
  domain: z.string().nullable(),
  detail: z.string().nullable(),
  before: z.unknown().nullable(),
  after: z.unknown().nullable(),
});

export function registerAuditRoutes(api: Api, ctx: ApiContext): void {
  api.get(
    "/audit",
    {
      schema: {
        summary: "Audit log entries, newest first (cursor: `before` = the last id seen)",
        tags: ["audit"],
        querystring: z.strictObject({ before: z.coerce.number().int().min(1).optional(), limit: Limit, domain: DomainName.optional(), action: z.string().max(64).optional() }),
        response: { 200: z.strictObject({ items: z.array(Entry), next: z.number().int().nullable() }) },
      },
    },
    async (req) => {
      // The service confines domain admins to their domain (another is "not found") and
      // refuses plain users.
      const actor = actorOf(req);
      const domain = req.query.domain?.toLowerCase();
      const rows = await ctx.deps.accounts.auditPage(actor, { beforeId: req.query.before, limit: req.query.limit + 1, domain, actionPrefix: req.query.action });
      const more = rows.length > req.query.limit;
      const items = rows.slice(0, req.query.limit).map((e) => ({ ...e, before: e.before === null ? null : JSON.parse(e.before), after: e.after === null ? null : JSON.parse(e.after) }));
      return { items, next: more ? items[items.length - 1].id : null };
    },
  );
}
