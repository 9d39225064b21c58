// /api/v1/domains, /users, /aliases: the accounts service (src/accounts/service.ts), which checks
// the rights and writes the audit log; these routes only validate and shape.
import { z } from "zod";
import { ApiProblem } from "../problem.ts";
import type { ApiContext } from "../server.ts";
import { actorOf, Address, DomainName, Limit, Role } from "./common.ts";
import type { Api } from "./common.ts";

const DomainView = z.strictObject({ name: z.string(), disabled: z.boolean(), createdAt: z.number() });
const UserView = z.strictObject({
  address: z.string(),
  displayName: z.string(),
  role: Role,
  disabled: z.boolean(),
  quotaBytes: z.number(),
  quotaIsDefault: z.boolean(),
  usedBytes: z.number(),
  messages: z.number(),
  createdAt: z.number(),
});
const AliasView = z.strictObject({ address: z.string(), targets: z.array(z.string()), createdAt: z.number() });
/** The cursor of the next page (pass as `after`), null on the last page. */
const Next = z.string().nullable();
const NewPassword = z.string().min(8).max(1024);
const Quota = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable();

/** One page out of a list already in memory (domains and aliases are few per server). */
function pageOf<T>(all: T[], key: (t: T) => string, after: string | undefined, limit: number): { items: T[]; next: string | null } {
  const rest = after === undefined ? all : all.filter((t) => key(t) > after);
  const items = rest.slice(0, limit);
  return { items, next: rest.length > limit ? key(items[items.length - 1]) : null };
}

export function registerAccountRoutes(api: Api, ctx: ApiContext): void {
  const { accounts, sessions } = ctx.deps;
  const addressParam = z.strictObject({ address: Address });
  const domainParam = z.strictObject({ domain: DomainName });

  // ---- domains --------------------------------------------------------------------------------
  api.get(
    "/domains",
    {
      schema: {
        summary: "Domains (a domain admin sees their own)",
        tags: ["domains"],
        querystring: z.strictObject({ after: DomainName.optional(), limit: Limit, q: z.string().max(253).optional() }),
        response: { 200: z.strictObject({ items: z.array(DomainView), next: Next }) },
      },
    },
    async (req) => {
      const all = (await accounts.listDomains(actorOf(req))).filter((d) => req.query.q === undefined || d.name.includes(req.query.q.toLowerCase()));
      all.sort((a, b) => (a.name < b.name ? -1 : 1));
      const p = pageOf(all, (d) => d.name, req.query.after, req.query.limit);
      return { items: p.items.map((d) => ({ name: d.name, disabled: d.disabled, createdAt: d.createdAt })), next: p.next };
    },
  );
  api.post(
    "/domains",
    { schema: { summary: "Add a domain (its DKIM keys are made with it)", tags: ["domains"], body: z.strictObject({ name: DomainName }), response: { 201: DomainView } } },
    async (req, reply) => {
      const d = await accounts.addDomain(actorOf(req), req.body.name);
      return reply.code(201).send({ name: d.name, disabled: d.disabled, createdAt: d.createdAt });
    },
  );
  api.get("/domains/:domain", { schema: { summary: "One domain", tags: ["domains"], params: domainParam, response: { 200: DomainView } } }, async (req) => {
    const name = req.params.domain.toLowerCase();
    const d = (await accounts.listDomains(actorOf(req))).find((x) => x.name === name);
    if (!d) throw new ApiProblem("not-found", `no domain ${name}`);
    return { name: d.name, disabled: d.disabled, createdAt: d.createdAt };
  });
  api.delete(
    "/domains/:domain",
    { schema: { summary: "Remove a domain and its aliases (refused while it has users)", tags: ["domains"], params: domainParam, response: { 204: z.null() } } },
    async (req, reply) => {
      await accounts.removeDomain(actorOf(req), req.params.domain);
      return reply.code(204).send(null);
    },
  );

  // ---- users ----------------------------------------------------------------------------------
  api.get(
    "/users",
    {
      schema: {
        summary: "Users, ordered by address (one indexed query per page)",
        tags: ["users"],
        querystring: z.strictObject({ domain: DomainName.optional(), after: Address.optional(), limit: Limit, q: z.string().max(256).optional() }),
        response: { 200: z.strictObject({ items: z.array(UserView), next: Next }) },
      },
    },
    async (req) => {
      const { domain, after, limit, q } = req.query;
      const rows = await accounts.listUsersPage(actorOf(req), { domain, after, limit: limit + 1, contains: q });
      const more = rows.length > limit;
      const items = rows.slice(0, limit).map(({ id: _id, ...u }) => u);
      return { items, next: more ? items[items.length - 1].address : null };
    },
  );
  api.post(
    "/users",
    {
      schema: {
        summary: "Add a user (with their default mailboxes)",
        tags: ["users"],
        body: z.strictObject({
          address: Address,
          password: NewPassword,
          displayName: z.string().max(200).optional(),
          role: Role.optional(),
          quotaBytes: Quota.optional(),
        }),
        response: { 201: z.strictObject({ address: z.string(), role: Role }) },
      },
    },
    async (req, reply) => {
      const u = await accounts.addUser(actorOf(req), req.body);
      return reply.code(201).send({ address: u.address, role: u.role });
    },
  );
  api.get("/users/:address", { schema: { summary: "One user (users may read their own)", tags: ["users"], params: addressParam, response: { 200: UserView } } }, async (req) => {
    const { id: _id, ...u } = await accounts.getUserView(actorOf(req), req.params.address);
    return u;
  });
  api.patch(
    "/users/:address",
    {
      schema: {
        summary: "Change a user: role, quota, disabled, password (users: their own password only)",
        tags: ["users"],
        params: addressParam,
        body: z
          .strictObject({ role: Role.optional(), quotaBytes: Quota.optional(), disabled: z.boolean().optional(), password: NewPassword.optional() })
          .refine((b) => Object.keys(b).length > 0, { message: "nothing to change" }),
        response: { 200: z.strictObject({ ok: z.literal(true) }) },
      },
    },
    async (req) => {
      const actor = actorOf(req);
      const { role, quotaBytes, disabled, password } = req.body;
      // Nothing written on any error: read and check everything first (getUser: rights and
      // existence); then the strictest change goes first, so a refusal comes before any write.
      const u = await accounts.getUser(actor, req.params.address);
      if (password !== undefined && /[\u0000-\u001f\u007f]/.test(password)) throw new ApiProblem("invalid-request", "password contains control characters");
      if (role !== undefined) await accounts.setRole(actor, u.address, role);
      if (quotaBytes !== undefined) await accounts.setQuota(actor, u.address, quotaBytes);
      if (disabled !== undefined) await accounts.setDisabled(actor, u.address, disabled);
      if (password !== undefined) await accounts.setPassword(actor, u.address, password);
      // A new password or a disable ends the user's web sessions (other than this one's owner's
      // own password change, which also ends theirs: log in again).
      if (password !== undefined || disabled === true) sessions.deleteUser(u.id);
      return { ok: true as const };
    },
  );
  api.delete(
    "/users/:address",
    { schema: { summary: "Remove a user with all their mail", tags: ["users"], params: addressParam, response: { 204: z.null() } } },
    async (req, reply) => {
      const actor = actorOf(req);
      const u = await accounts.getUser(actor, req.params.address);
      await accounts.removeUser(actor, u.address);
      sessions.deleteUser(u.id);
      return reply.code(204).send(null);
    },
  );

  // ---- aliases --------------------------------------------------------------------------------
  api.get(
    "/aliases",
    {
      schema: {
        summary: "Aliases, ordered by address",
        tags: ["aliases"],
        querystring: z.strictObject({ domain: DomainName.optional(), after: Address.optional(), limit: Limit, q: z.string().max(256).optional() }),
        response: { 200: z.strictObject({ items: z.array(AliasView), next: Next }) },
      },
    },
    async (req) => {
      const all = (await accounts.listAliases(actorOf(req), req.query.domain)).filter((a) => req.query.q === undefined || a.address.includes(req.query.q.toLowerCase()));
      all.sort((a, b) => (a.address < b.address ? -1 : 1));
      const p = pageOf(all, (a) => a.address, req.query.after, req.query.limit);
      return { items: p.items.map((a) => ({ address: a.address, targets: a.targets, createdAt: a.createdAt })), next: p.next };
    },
  );
  api.post(
    "/aliases",
    {
      schema: {
        summary: "Add an alias, or targets to an existing one (`@domain` is the catch-all)",
        tags: ["aliases"],
        body: z.strictObject({ address: Address, targets: z.array(Address).min(1).max(100) }),
        response: { 200: AliasView, 201: AliasView },
      },
    },
    async (req, reply) => {
      const { alias, created } = await accounts.addAlias(actorOf(req), req.body.address, req.body.targets);
      return reply.code(created ? 201 : 200).send({ address: alias.address, targets: alias.targets, createdAt: alias.createdAt });
    },
  );
  api.delete(
    "/aliases/:address",
    {
      schema: {
        summary: "Remove an alias, or some of its targets (?target=a&target=b)",
        tags: ["aliases"],
        params: addressParam,
        querystring: z.strictObject({ target: z.union([Address, z.array(Address).max(100)]).optional() }),
        response: { 204: z.null() },
      },
    },
    async (req, reply) => {
      const t = req.query.target;
      await accounts.removeAlias(actorOf(req), req.params.address, t === undefined ? [] : Array.isArray(t) ? t : [t]);
      return reply.code(204).send(null);
    },
  );
}
