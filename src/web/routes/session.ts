// POST/GET/DELETE /api/v1/session: the web login. One error text for every failed login
// (unknown user, wrong password, disabled): "login failed"; the limits are IMAP's and SMTP's
// (server/starters.ts shares one limiter), and a limited attempt is a 429 with Retry-After.
import { z } from "zod";
import { ApiProblem } from "../problem.ts";
import { sessionCookieName, sessionCookieOptions } from "../security.ts";
import type { ApiContext } from "../server.ts";
import { actorOf, Address, Password, Role } from "./common.ts";
import type { Api } from "./common.ts";

const Me = z.strictObject({
  address: z.string(),
  role: Role,
  /** Send as X-CSRF-Token with every POST, PATCH and DELETE of this session. */
  csrfToken: z.string(),
});

export function registerSessionRoutes(api: Api, ctx: ApiContext): void {
  const { deps, secure } = ctx;
  const cookieName = sessionCookieName(secure);

  api.post(
    "/session",
    {
      schema: {
        summary: "Log in: sets the session cookie",
        tags: ["session"],
        security: [],
        body: z.strictObject({ address: Address, password: Password }),
        response: { 200: Me },
      },
    },
    async (req, reply) => {
      const result = await deps.authenticate(req.body.address, req.body.password, req.ip);
      if (!result.ok) {
        if (result.reason === "limited") {
          throw new ApiProblem("rate-limited", "too many attempts", { headers: { "retry-after": String(Math.ceil(result.retryAfterMs / 1000)) } });
        }
        throw new ApiProblem("login-failed", "login failed");
      }
      // A new id at every login (no session fixation); an old cookie's session ends here.
      const old = req.cookies[cookieName];
      if (old) deps.sessions.delete(old);
      const { id, session } = deps.sessions.create(result.user.id, result.user.passwordHash);
      reply.setCookie(cookieName, id, sessionCookieOptions(secure));
      return { address: result.user.address, role: result.user.role, csrfToken: session.csrf };
    },
  );

  api.get("/session", { schema: { summary: "Who is logged in", tags: ["session"], response: { 200: Me } } }, async (req) => {
    const actor = actorOf(req);
    if (actor.kind !== "user") throw new ApiProblem("unauthenticated");
    const s = req.sessionId === null ? null : deps.sessions.get(req.sessionId);
    return { address: actor.user.address, role: actor.user.role, csrfToken: s?.csrf ?? "" };
  });

  api.delete("/session", { schema: { summary: "Log out (the session ends on the server)", tags: ["session"], response: { 204: z.null() } } }, async (req, reply) => {
    if (req.sessionId !== null) deps.sessions.delete(req.sessionId);
    reply.clearCookie(cookieName, sessionCookieOptions(secure));
    return reply.code(204).send(null);
  });
}
