// /api/v1/spam/stats, /api/v1/trace, /api/v1/suppressions: the operator views of issues 15 and 19
// on their services (src/spam/service.ts statsFor, src/trace/access.ts traceFor,
// src/suppression/admin.ts), which apply the roles; these routes only validate and shape. The
// figures and timelines are the ones `freehold spam stats`, `freehold trace --json` and
// `freehold suppress list` print.
import { z } from "zod";
import { SuppressionAdmin } from "../../suppression/admin.ts";
import { traceFor } from "../../trace/access.ts";
import { parseSince, TraceReportSchema } from "../../trace/trace.ts";
import { ApiProblem } from "../problem.ts";
import type { ApiContext } from "../server.ts";
import { actorOf, Address, DomainName, requireServerAdmin } from "./common.ts";
import { serverStatus, ServerStatusSchema } from "../../status/status.ts";
import type { Api } from "./common.ts";

const SpamRow = z.strictObject({
  address: z.string(),
  inbox: z.number().int(),
  junk: z.number().int(),
  reject: z.number().int(),
  trainedSpam: z.number().int(),
  trainedHam: z.number().int(),
  modelSpam: z.number().int(),
  modelHam: z.number().int(),
  tokens: z.number().int(),
});

const SuppressionView = z.strictObject({
  senderDomain: z.string(),
  address: z.string(),
  bounces: z.number().int(),
  source: z.string(),
  reason: z.string(),
  firstAt: z.number(),
  lastAt: z.number(),
  suppressedAt: z.number().nullable(),
  expiresAt: z.number().nullable(),
});

function unavailable(what: string): never {
  throw new ApiProblem("conflict", `${what} is not available on this listener`);
}

export function registerOpsRoutes(api: Api, ctx: ApiContext): void {
  const { deps } = ctx;

  api.get(
    "/spam/stats",
    {
      schema: {
        summary: "Spam filter figures per account (as `freehold spam stats`): all, one domain or one user, as the role allows",
        tags: ["spam"],
        querystring: z.strictObject({ user: Address.optional(), domain: DomainName.optional() }),
        response: { 200: z.strictObject({ items: z.array(SpamRow) }) },
      },
    },
    async (req) => {
      if (!deps.spam) unavailable("the spam service");
      return { items: await deps.spam.statsFor(actorOf(req), req.query) };
    },
  );

  api.get(
    "/status",
    {
      schema: {
        summary: "Certificates loaded (names, notAfter, issuer, days left) and the data folder's disk (size, free, databases) (server admins)",
        tags: ["status"],
        response: { 200: ServerStatusSchema },
      },
    },
    async (req) => {
      requireServerAdmin(actorOf(req));
      const dataDir = deps.config.dataDir;
      if (!dataDir) unavailable("the status");
      return serverStatus({ main: deps.certificates?.main ?? deps.tls, sni: deps.certificates?.sni, dataDir, now: () => deps.clock.now(), acme: deps.config.acme?.enabled === true });
    },
  );

  api.get(
    "/trace",
    {
      schema: {
        summary: "One message's path as a timeline (as `freehold trace --json`): q = <Message-ID>, queue id or address",
        tags: ["trace"],
        querystring: z.strictObject({ q: z.string().min(1).max(998), since: z.string().min(1).max(64).default("2d") }),
        response: { 200: TraceReportSchema },
      },
    },
    async (req) => {
      if (!deps.traceLogFile) unavailable("the trace");
      let since: number;
      try {
        since = parseSince(req.query.since, deps.clock.now());
      } catch (e) {
        throw new ApiProblem("invalid-request", (e as Error).message.replace(/^--since/, "since"));
      }
      return traceFor(actorOf(req), { logFile: deps.traceLogFile, store: deps.store, query: req.query.q, since });
    },
  );

  const admin = deps.suppression ? new SuppressionAdmin({ suppression: deps.suppression, store: deps.store }) : null;
  const need = (): SuppressionAdmin => admin ?? unavailable("the suppression list");
  const params = z.strictObject({ domain: DomainName, address: Address });
  api.get(
    "/suppressions",
    {
      schema: {
        summary: "The suppression list (as `freehold suppress list`), newest first; a domain admin sees their sending domain's",
        tags: ["suppressions"],
        querystring: z.strictObject({ domain: DomainName.optional() }),
        response: { 200: z.strictObject({ items: z.array(SuppressionView) }) },
      },
    },
    async (req) => ({ items: await need().list(actorOf(req), req.query.domain) }),
  );
  api.put(
    "/suppressions/:domain/:address",
    {
      schema: {
        summary: "Suppress a recipient for a sending domain (as `freehold suppress add`)",
        tags: ["suppressions"],
        params,
        body: z.strictObject({ reason: z.string().min(1).max(500).default("added by the administrator"), days: z.number().int().min(1).max(3650).optional() }),
        response: { 200: SuppressionView },
      },
    },
    async (req) => {
      if (!/^[^\s@<>]+@[^\s@<>]+$/.test(req.params.address)) throw new ApiProblem("invalid-request", `not an address: ${req.params.address}`);
      return need().add(actorOf(req), req.params.domain, req.params.address, req.body.reason, req.body.days);
    },
  );
  api.delete(
    "/suppressions/:domain/:address",
    { schema: { summary: "Lift a suppression (as `freehold suppress remove`)", tags: ["suppressions"], params, response: { 204: z.null() } } },
    async (req, reply) => {
      await need().remove(actorOf(req), req.params.domain, req.params.address);
      return reply.code(204).send(null);
    },
  );
}
