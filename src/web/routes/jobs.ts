// /api/v1/jobs: long operations run as jobs (src/jobs/jobs.ts). POST starts one and answers 202
// with its id at once; GET /jobs/:id gives state, progress and result (the UI polls it); GET /jobs
// lists the caller's own. Rights are checked before the job starts, so a refused start writes
// nothing and another tenant's domain is "not found", as everywhere else.
import { z } from "zod";
import { AccountError } from "../../accounts/errors.ts";
import { CHECK_GROUPS } from "../../health/types.ts";
import type { CheckResult } from "../../health/types.ts";
import { NoSuchRelayError, testRelay } from "../../delivery/relay-test.ts";
import { ApiProblem } from "../problem.ts";
import type { ApiContext } from "../server.ts";
import { actorOf, DomainName, Limit, requireServerAdmin } from "./common.ts";
import type { Api } from "./common.ts";

const JobView = z.strictObject({
  id: z.string(),
  kind: z.string(),
  state: z.enum(["running", "done", "failed"]),
  progress: z.number().int().min(0).max(100),
  message: z.string(),
  startedAt: z.number(),
  endedAt: z.number().nullable(),
  result: z.unknown(),
  error: z.string().nullable(),
});

// One closed object (not a union) so the document says "no unknown fields" at its top level.
const StartJob = z.strictObject({
  kind: z.enum(["queue-flush", "dkim-rotate", "checks", "relay-test"]),
  /** dkim-rotate: the domain whose keys rotate; checks: only this domain's DNS checks. */
  domain: DomainName.optional(),
  /** relay-test: the relay to test (connect, TLS, AUTH; no mail is sent). */
  relay: z.string().min(1).max(64).optional(),
  /** checks: the groups to run (all by default), one after the other. */
  groups: z.array(z.enum(CHECK_GROUPS)).min(1).max(CHECK_GROUPS.length).optional(),
});

const HistoryRow = z.strictObject({ at: z.number(), checkId: z.string(), status: z.enum(["ok", "warn", "fail", "unknown"]), message: z.string() });

export function registerJobRoutes(api: Api, ctx: ApiContext): void {
  const { jobs, queue, dkimAdmin } = ctx;
  api.get(
    "/checks/history",
    {
      schema: {
        summary: "Stored results of the scheduled checks (the watcher in serve), newest first (server admins)",
        tags: ["checks"],
        querystring: z.strictObject({ limit: Limit }),
        response: { 200: z.strictObject({ items: z.array(HistoryRow) }) },
      },
    },
    async (req) => {
      requireServerAdmin(actorOf(req));
      return { items: ctx.deps.checkHistory?.(req.query.limit) ?? [] };
    },
  );
  api.get("/jobs", { schema: { summary: "Your jobs, newest first (kept an hour after they end)", tags: ["jobs"], response: { 200: z.strictObject({ items: z.array(JobView) }) } } }, async (req) => ({
    items: jobs.list(actorOf(req)),
  }));
  api.get(
    "/jobs/:id",
    { schema: { summary: "One job: state, progress (0-100), result or error", tags: ["jobs"], params: z.strictObject({ id: z.string().min(1).max(64) }), response: { 200: JobView } } },
    async (req) => {
      const j = jobs.get(actorOf(req), req.params.id);
      if (!j) throw new ApiProblem("not-found", "no such job");
      return j;
    },
  );
  api.post(
    "/jobs",
    { schema: { summary: "Start a job: queue-flush, checks or relay-test (server admins), or dkim-rotate of a domain", tags: ["jobs"], body: StartJob, response: { 202: JobView } } },
    async (req, reply) => {
      const actor = actorOf(req);
      const body = req.body;
      if (body.kind !== "checks" && body.groups !== undefined) throw new ApiProblem("invalid-request", "only checks take groups");
      if (body.kind !== "relay-test" && body.relay !== undefined) throw new ApiProblem("invalid-request", "only relay-test takes a relay");
      if (body.kind === "relay-test") {
        // Relays are server-wide (relays.yaml), like their routes: server admins.
        if (actor.kind === "user" && actor.user.role !== "admin") throw new ApiProblem("forbidden", "server admins only");
        if (body.domain !== undefined) throw new ApiProblem("invalid-request", "relay-test takes no domain");
        if (body.relay === undefined) throw new ApiProblem("invalid-request", "relay-test needs a relay");
        const dataDir = ctx.deps.config.dataDir;
        if (dataDir === undefined) throw new ApiProblem("not-found", "no relay configuration");
        const name = body.relay;
        // Existence first, so an unknown relay is a 404 and no job is made.
        const { loadRelayFile } = await import("../../delivery/relays.ts");
        if (!(await loadRelayFile(dataDir)).relays.some((r) => r.name === name)) throw new ApiProblem("not-found", "no such relay");
        const { dns, hostname } = ctx.deps.config;
        if (dns === undefined) throw new ApiProblem("invalid-request", "relay tests are not available on this listener");
        const j = jobs.start(actor, "relay-test", async (ctl) => {
          ctl.progress(5, `resolving the relay ${name}`);
          try {
            return await testRelay(dataDir, { dns, hostname }, name, { onStep: (st, done, total) => ctl.progress((done / total) * 100, `${st.step}: ${st.ok ? "ok" : "failed"}`) });
          } catch (err) {
            if (err instanceof NoSuchRelayError) throw new Error(err.message);
            throw err;
          }
        });
        return reply.code(202).send(j);
      }
      if (body.kind === "checks") {
        // The checks are server-wide (listeners, IPs, blocklists, relays): server admins.
        if (actor.kind === "user" && actor.user.role !== "admin") throw new ApiProblem("forbidden", "server admins only");
        const run = ctx.deps.runChecks;
        if (!run) throw new ApiProblem("invalid-request", "checks are not available on this listener");
        const groups = body.groups ?? [...CHECK_GROUPS];
        const j = jobs.start(actor, "checks", async (ctl) => {
          const results: CheckResult[] = [];
          for (const [i, g] of groups.entries()) {
            ctl.progress((i / groups.length) * 100, `running the ${g} checks (${i + 1} of ${groups.length})`);
            results.push(...(await run({ only: [g], domain: body.domain })).results);
          }
          const count = (s: string) => results.filter((r) => r.status === s).length;
          return { ok: count("ok"), warn: count("warn"), fail: count("fail"), unknown: count("unknown"), results };
        });
        return reply.code(202).send(j);
      }
      if (body.kind === "queue-flush") {
        if (body.domain !== undefined) throw new ApiProblem("invalid-request", "queue-flush takes no domain");
        if (actor.kind === "user" && actor.user.role !== "admin") throw new ApiProblem("forbidden", "server admins only");
        const j = jobs.start(actor, "queue-flush", async (ctl) => {
          ctl.progress(10, "making every pending recipient due now");
          const due = await queue.retryAll(actor);
          return { due };
        });
        return reply.code(202).send(j);
      }
      if (body.domain === undefined) throw new ApiProblem("invalid-request", "dkim-rotate needs a domain");
      const domain = body.domain;
      // Rights first (listing needs the same rights as rotating): another tenant's domain → 404.
      try {
        await dkimAdmin.list(actor, domain);
      } catch (err) {
        if (err instanceof AccountError && (err.code === "forbidden" || err.code === "not-found")) throw new ApiProblem("not-found", "not found");
        throw err;
      }
      const j = jobs.start(actor, "dkim-rotate", async (ctl) => {
        ctl.progress(10, `making new DKIM keys for ${domain}`);
        const items = await dkimAdmin.rotate(actor, domain);
        return { selectors: items.map((k) => k.selector) };
      });
      return reply.code(202).send(j);
    },
  );
}
