// /api/v1/account/...: the signed-in user's own downloads (docs/web.md "Account").
//   GET /account/mobileconfig   the Apple configuration profile (src/web/autoconfig/mobileconfig.ts)
//                               of the caller's own account, with no password in it.
//   POST /account/password      self-service change: the current password is checked through the
//                               login shared with IMAP and SMTP (src/login: same limits, same
//                               back-off); every failure has one text, a limited one is a 429.
//   GET /account/export         the caller's own mail (src/migrate/download.ts): eml-zip as a ZIP,
//                               mbox and Maildir as a tar stream; GET /users/:address/export is
//                               the admin form (tenant rules of GET /users/:address; audited).
//   POST /users/:address/password  an admin's reset of another user's password, with the admin's
//                               own current password checked the same way.
import { z } from "zod";
import { MOBILECONFIG_CONTENT_TYPE, mobileconfig, mobileconfigFileName } from "../autoconfig/mobileconfig.ts";
import { clientSettings } from "../autoconfig/settings.ts";
import type { Actor } from "../../accounts/authz.ts";
import { isAccountError } from "../../accounts/errors.ts";
import { EXPORT_FORMATS } from "../../migrate/export.ts";
import type { ExportFormat } from "../../migrate/export.ts";
import { exportDownload } from "../../migrate/download.ts";
import type { UserRecord } from "../../store/types.ts";
import { ApiProblem } from "../problem.ts";
import type { ApiContext } from "../server.ts";
import { actorOf, Address, Password } from "./common.ts";
import type { Api } from "./common.ts";
import type { FastifyReply } from "fastify";

const NewPassword = z.string().min(8).max(1024);
const ExportQuery = z.strictObject({
  format: z.enum(EXPORT_FORMATS as [ExportFormat, ...ExportFormat[]]),
  /** Only messages with an internal date at or after this ISO 8601 date (incremental exports). */
  since: z.string().min(1).max(64).optional(),
});
const FAILED = "password change failed";

export function registerAccountSelfRoutes(api: Api, ctx: ApiContext): void {
  const { deps } = ctx;
  /** The caller's own current password, through the shared login limits; throws one text for every failure. */
  const reauthenticate = async (address: string, current: string, ip: string): Promise<void> => {
    const r = await deps.authenticate(address, current, ip);
    if (!r.ok) {
      if (r.reason === "limited") throw new ApiProblem("rate-limited", "too many attempts", { headers: { "retry-after": String(Math.ceil(r.retryAfterMs / 1000)) } });
      throw new ApiProblem("login-failed", FAILED);
    }
    // An app password is for IMAP and SMTP only: it never changes the account password.
    if (r.appPasswordId !== undefined || r.user.address !== address) throw new ApiProblem("login-failed", FAILED);
  };
  const checkNew = (pw: string) => {
    if (/[\u0000-\u001f\u007f]/.test(pw)) throw new ApiProblem("invalid-request", "password contains control characters");
  };
  const sendExport = async (reply: FastifyReply, actor: Actor, user: UserRecord, q: z.infer<typeof ExportQuery>) => {
    if (!deps.blobs) throw new ApiProblem("conflict", "the export is not available on this listener");
    let since: number | undefined;
    if (q.since !== undefined) {
      since = Date.parse(q.since);
      if (Number.isNaN(since)) throw new ApiProblem("invalid-request", `since: expected an ISO 8601 date, not ${q.since}`);
    }
    const d = await exportDownload({ store: deps.store, blobs: deps.blobs, user, format: q.format, since, dataDir: deps.config.dataDir, actor });
    return reply
      .type(d.contentType)
      .header("content-disposition", `attachment; filename="${d.fileName}"`)
      .header("x-freehold-messages", String(d.messages))
      .send(d.stream);
  };
  api.get(
    "/account/export",
    {
      schema: {
        summary: "Download one's own mail: format=eml-zip (a ZIP), mbox or maildir (a tar stream); since = ISO date for an incremental export",
        tags: ["account"],
        querystring: ExportQuery,
      },
    },
    async (req, reply) => {
      const actor = actorOf(req);
      if (actor.kind !== "user") throw new ApiProblem("forbidden", "an export is a user's");
      const user = (await deps.store.accounts.getUserById(actor.user.id)) ?? actor.user;
      return sendExport(reply, actor, user, req.query);
    },
  );
  api.get(
    "/users/:address/export",
    {
      schema: {
        summary: "Download a user's mail (admins; same formats as /account/export; audited)",
        tags: ["users"],
        params: z.strictObject({ address: Address }),
        querystring: ExportQuery,
      },
    },
    async (req, reply) => {
      const actor = actorOf(req);
      const user = await deps.accounts.getUser(actor, req.params.address);
      if (actor.kind === "user" && actor.user.role === "user" && actor.user.id !== user.id) throw new ApiProblem("not-found", "not found");
      return sendExport(reply, actor, user, req.query);
    },
  );
  api.post(
    "/account/password",
    {
      schema: {
        summary: "Change one's own password (the current one is checked with the IMAP/SMTP login limits); ends one's sessions",
        tags: ["account"],
        body: z.strictObject({ current: Password, password: NewPassword }),
        response: { 204: z.null() },
      },
    },
    async (req, reply) => {
      const actor = actorOf(req);
      if (actor.kind !== "user") throw new ApiProblem("forbidden", "a password is a user's");
      checkNew(req.body.password);
      await reauthenticate(actor.user.address, req.body.current, req.ip);
      try {
        await deps.accounts.changePassword(actor, actor.user.address, req.body.current, req.body.password);
      } catch (e) {
        // Checked above; a race (changed meanwhile) still gets the one text.
        if (isAccountError(e, "forbidden")) throw new ApiProblem("login-failed", FAILED);
        throw e;
      }
      deps.sessions.deleteUser(actor.user.id);
      return reply.code(204).send(null);
    },
  );
  api.post(
    "/users/:address/password",
    {
      schema: {
        summary: "Reset a user's password (admins; `current` is the admin's own password, checked with the login limits); ends the user's sessions",
        tags: ["users"],
        params: z.strictObject({ address: Address }),
        body: z.strictObject({ current: Password, password: NewPassword }),
        response: { 204: z.null() },
      },
    },
    async (req, reply) => {
      const actor = actorOf(req);
      if (actor.kind !== "user") throw new ApiProblem("forbidden", "a password reset is an admin's");
      checkNew(req.body.password);
      // Rights first (another tenant's user is "not found" before any password is checked).
      const target = await deps.accounts.getUser(actor, req.params.address);
      if (actor.user.role === "user") throw new ApiProblem("forbidden", "admins only");
      await reauthenticate(actor.user.address, req.body.current, req.ip);
      await deps.accounts.setPassword(actor, target.address, req.body.password);
      deps.sessions.deleteUser(target.id);
      return reply.code(204).send(null);
    },
  );
  api.get(
    "/account/mobileconfig",
    {
      schema: {
        summary: "The Apple .mobileconfig profile of the signed-in user (IMAP and submission over TLS; no password in it)",
        tags: ["account"],
        querystring: z.strictObject({}),
      },
    },
    async (req, reply) => {
      const actor = actorOf(req);
      if (actor.kind !== "user") throw new ApiProblem("forbidden", "a profile is for a user");
      const cfg = ctx.deps.clientConfig?.();
      if (!cfg) throw new ApiProblem("conflict", "client settings are not available on this listener");
      const u = actor.user;
      const doc = mobileconfig({ id: u.id, address: u.address, displayName: u.displayName }, clientSettings(cfg));
      if (!doc) throw new ApiProblem("conflict", "this server has no TLS IMAP and submission listeners to configure");
      return reply
        .type(MOBILECONFIG_CONTENT_TYPE)
        .header("content-disposition", `attachment; filename="${mobileconfigFileName(u.address)}"`)
        .send(doc);
    },
  );
}
