// /api/v1/tokens: the caller's own API tokens. The secret is in the POST answer only.
import { z } from "zod";
import type { ApiContext } from "../server.ts";
import { actorOf } from "./common.ts";
import type { Api } from "./common.ts";

const TokenView = z.strictObject({
  id: z.number().int(),
  name: z.string(),
  scope: z.enum(["server", "domain", "user"]),
  createdAt: z.number(),
  lastUsedAt: z.number().nullable(),
  revokedAt: z.number().nullable(),
});

export function registerTokenRoutes(api: Api, ctx: ApiContext): void {
  const { tokens } = ctx.deps;
  api.get("/tokens", { schema: { summary: "Your API tokens (never their secrets)", tags: ["tokens"], response: { 200: z.strictObject({ items: z.array(TokenView) }) } } }, async (req) => ({
    items: tokens.list(actorOf(req)).map(({ userId: _u, ...t }) => t),
  }));

  api.post(
    "/tokens",
    {
      schema: {
        summary: "Create a token; the secret is shown in this answer only",
        tags: ["tokens"],
        body: z.strictObject({ name: z.string().min(1).max(100), scope: z.enum(["server", "domain", "user"]) }),
        response: { 201: z.strictObject({ token: z.string(), item: TokenView }) },
      },
    },
    async (req, reply) => {
      const { token, record } = await tokens.create(actorOf(req), req.body.name, req.body.scope);
      const { userId: _u, ...item } = record;
      return reply.code(201).send({ token, item });
    },
  );

  api.delete(
    "/tokens/:id",
    { schema: { summary: "Revoke a token (refused from then on)", tags: ["tokens"], params: z.strictObject({ id: z.coerce.number().int().min(1) }), response: { 204: z.null() } } },
    async (req, reply) => {
      await tokens.revoke(actorOf(req), req.params.id);
      return reply.code(204).send(null);
    },
  );
}
