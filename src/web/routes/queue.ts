// /api/v1/queue: the outbound queue (src/queue/admin.ts checks rights and writes the audit log).
import { z } from "zod";
import type { QueueRecord } from "../../store/types.ts";
import type { ApiContext } from "../server.ts";
import { actorOf, Limit } from "./common.ts";
import type { Api } from "./common.ts";

const State = z.enum(["pending", "delivered", "failed"]);
const Recipient = z.strictObject({
  recipient: z.string(),
  state: State,
  attempts: z.number(),
  nextAttemptAt: z.number(),
  lastReply: z.string().nullable(),
  status: z.string().nullable(),
  remoteMta: z.string().nullable(),
  route: z.string().nullable(),
  inFlight: z.boolean(),
});
const Entry = z.strictObject({
  id: z.number().int(),
  mailFrom: z.string(),
  origin: z.string(),
  createdAt: z.number(),
  ret: z.enum(["FULL", "HDRS"]).nullable(),
  envid: z.string().nullable(),
  recipients: z.array(Recipient),
});
const Attempt = z.strictObject({ at: z.number(), route: z.string(), host: z.string().nullable(), recipient: z.string().nullable(), outcome: z.string(), reply: z.string().nullable() });
const IdParam = z.strictObject({ id: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER) });

function view(q: QueueRecord): z.infer<typeof Entry> {
  return {
    id: q.id,
    mailFrom: q.mailFrom,
    origin: q.origin,
    createdAt: q.createdAt,
    ret: q.ret,
    envid: q.envid,
    recipients: q.recipients.map((r) => ({
      recipient: r.recipient,
      state: r.state,
      attempts: r.attempts,
      nextAttemptAt: r.nextAttemptAt,
      lastReply: r.lastReply,
      status: r.status,
      remoteMta: r.remoteMta,
      route: r.route,
      inFlight: r.inFlightAt !== null,
    })),
  };
}

export function registerQueueRoutes(api: Api, ctx: ApiContext): void {
  const { queue } = ctx;
  api.get(
    "/queue",
    {
      schema: {
        summary: "Queued messages, oldest first, with recipients, states and last replies",
        tags: ["queue"],
        querystring: z.strictObject({ after: z.coerce.number().int().min(0).optional(), limit: Limit, state: State.optional() }),
        response: { 200: z.strictObject({ items: z.array(Entry), next: z.number().int().nullable() }) },
      },
    },
    async (req) => {
      const p = await queue.list(actorOf(req), { after: req.query.after, limit: req.query.limit, state: req.query.state });
      return { items: p.items.map(view), next: p.next };
    },
  );
  api.get(
    "/queue/:id",
    { schema: { summary: "One queued message with every attempt", tags: ["queue"], params: IdParam, response: { 200: z.strictObject({ entry: Entry, attempts: z.array(Attempt) }) } } },
    async (req) => {
      const { entry, attempts } = await queue.get(actorOf(req), req.params.id);
      const rcpt = new Map(entry.recipients.map((r) => [r.id, r.recipient]));
      return {
        entry: view(entry),
        attempts: attempts.map((a) => ({ at: a.at, route: a.route, host: a.host, recipient: a.recipientId === null ? null : (rcpt.get(a.recipientId) ?? null), outcome: a.outcome, reply: a.reply })),
      };
    },
  );
  api.post(
    "/queue/:id/retry",
    { schema: { summary: "Make the message's pending recipients due now", tags: ["queue"], params: IdParam, response: { 200: z.strictObject({ due: z.number().int() }) } } },
    async (req) => ({ due: await queue.retry(actorOf(req), req.params.id) }),
  );
  api.post(
    "/queue/flush",
    { schema: { summary: "Make every pending recipient due now (server admins)", tags: ["queue"], response: { 200: z.strictObject({ due: z.number().int() }) } } },
    async (req) => ({ due: await queue.retryAll(actorOf(req)) }),
  );
  api.delete(
    "/queue/:id",
    { schema: { summary: "Delete a queued message without notifying anyone", tags: ["queue"], params: IdParam, response: { 204: z.null() } } },
    async (req, reply) => {
      await queue.remove(actorOf(req), req.params.id);
      return reply.code(204).send(null);
    },
  );
}
