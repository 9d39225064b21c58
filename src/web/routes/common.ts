// Shared pieces of the route files: the typed app, zod building blocks, the actor.
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Actor } from "../../accounts/authz.ts";
import { ApiProblem } from "../problem.ts";

export type Api = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>;

export function actorOf(req: FastifyRequest): Actor {
  if (!req.actor) throw new ApiProblem("unauthenticated");
  return req.actor;
}

/** Server admins (or tokens of their server scope) only. */
export function requireServerAdmin(actor: Actor): void {
  if (actor.kind === "user" && actor.user.role !== "admin") throw new ApiProblem("forbidden", "server admins only");
}

/** RFC 5321 §4.5.3.1.3: a path is at most 256 octets; a domain at most 255 (RFC 1035 §2.3.4). */
export const Address = z.string().min(3).max(256);
export const DomainName = z.string().min(1).max(253);
export const Password = z.string().min(1).max(1024);

/** Lists: at most 500 per page, 100 by default (docs/api.md "Pagination"). */
export const MAX_PAGE = 500;
export const Limit = z.coerce.number().int().min(1).max(MAX_PAGE).default(100);

export const Ok = z.strictObject({ ok: z.literal(true) });

export const Role = z.enum(["admin", "domain-admin", "user"]);
