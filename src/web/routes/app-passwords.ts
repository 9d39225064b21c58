// Account self-service (issue 9 item 4, docs/web.md "Account self-service"): app passwords for
// IMAP and SMTP (shown once; never valid for the web login) and the manual client settings (the
// password change is POST /account/password in account.ts, under the shared login limits). The rights are the service's (AccountsService): a user their own, a
// domain admin their domain's users', a server admin everyone's; another tenant's → 404.
import { z } from "zod";
import { clientSettings } from "../autoconfig/settings.ts";
import type { ApiContext } from "../server.ts";
import { actorOf, Address, Password } from "./common.ts";
import type { Api } from "./common.ts";

const AppPasswordView = z.strictObject({ id: z.number().int(), name: z.string(), createdAt: z.number(), lastUsedAt: z.number().nullable() });
const addressParam = z.strictObject({ address: Address });

const Endpoint = z.strictObject({ host: z.string(), port: z.number().int(), security: z.enum(["tls", "starttls"]) });

export function registerAppPasswordRoutes(api: Api, ctx: ApiContext): void {
  const { accounts } = ctx.deps;
  api.get(
    "/client-settings",
    {
      schema: {
        summary: "The settings to configure a mail client by hand (as autoconfig gives them; implicit TLS first)",
        tags: ["account"],
        response: { 200: z.strictObject({ host: z.string(), imap: z.array(Endpoint), smtp: z.array(Endpoint) }) },
      },
    },
    async (req) => {
      actorOf(req);
      return clientSettings(ctx.deps.config);
    },
  );
  api.get(
    "/users/:address/app-passwords",
    { schema: { summary: "App passwords (names and dates, never the secrets)", tags: ["account"], params: addressParam, response: { 200: z.strictObject({ items: z.array(AppPasswordView) }) } } },
    async (req) => ({ items: (await accounts.listAppPasswords(actorOf(req), req.params.address)).map((a) => ({ ...a, id: Number(a.id) })) }),
  );
  api.post(
    "/users/:address/app-passwords",
    {
      schema: {
        summary: "Add an app password for IMAP/SMTP; the secret is in this answer only",
        tags: ["account"],
        params: addressParam,
        body: z.strictObject({ name: z.string().min(1).max(100) }),
        response: { 201: z.strictObject({ secret: z.string(), item: AppPasswordView }) },
      },
    },
    async (req, reply) => {
      const r = await accounts.addAppPassword(actorOf(req), req.params.address, req.body.name);
      return reply.code(201).send({ secret: r.secret, item: { ...r.appPassword, id: Number(r.appPassword.id) } });
    },
  );
  api.delete(
    "/users/:address/app-passwords/:id",
    {
      schema: {
        summary: "Revoke an app password (refused from the next login on, cached logins included)",
        tags: ["account"],
        params: z.strictObject({ address: Address, id: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER) }),
        response: { 204: z.null() },
      },
    },
    async (req, reply) => {
      await accounts.revokeAppPassword(actorOf(req), req.params.address, req.params.id);
      return reply.code(204).send(null);
    },
  );
}
