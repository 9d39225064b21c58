// /api/v1/jobs: long operations run as jobs (src/jobs/jobs.ts). POST starts one and answers 202
// with its id at once; GET /jobs/:id gives state, progress and result (the UI polls it); GET /jobs
// lists the caller's own. Rights are checked before the job starts, so a refused start writes
// nothing and another tenant's domain is "not found", as everywhere else.
import { z } from "zod";
import { AccountError } from "../../accounts/errors.ts";
import { ApiProblem } from "../problem.ts";
import type { ApiContext } from "../server.ts";
import { actorOf, DomainName } from "./common.ts";
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
  kind: z.enum(["queue-flush", "dkim-rotate"]),
  /** dkim-rotate: the domain whose keys rotate. */
  domain: DomainName.optional(),
});

export function registerJobRoutes(api: Api, ctx: ApiContext): void {
  const { jobs, queue, dkimAdmin } = ctx;
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
    { schema: { summary: "Start a job: queue-flush (server admins) or dkim-rotate of a domain", tags: ["jobs"], body: StartJob, response: { 202: JobView } } },
    async (req, reply) => {
      const actor = actorOf(req);
      const body = req.body;
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
