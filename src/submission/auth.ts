// SMTP AUTH (RFC 4954) for the submission listeners, as an SmtpExtension on our SMTP core:
// the EHLO keyword, the AUTH command with its SASL exchange (PLAIN, RFC 4616; LOGIN), the AUTH=
// MAIL parameter, and the guard that refuses MAIL before authentication.
//
// Only over TLS (RFC 8314 §3, RFC 4954 §4 and §14): the keyword is not advertised and the command
// is refused until TLS is active, since both mechanisms send the password itself.
// Passwords pass through the shared login path (src/login/authenticator.ts): the failed-login
// limits per IP and per account are the same counters IMAP uses, so a guesser gains nothing by
// switching protocol. The command is `sensitive` (never logged) and continuation lines are read
// with ctx.readLine(), which is not logged either.
import { defineCommand } from "../smtp/commands/command.ts";
import type { CommandContext } from "../smtp/commands/command.ts";
import { SmtpError } from "../smtp/errors.ts";
import { reply } from "../smtp/reply.ts";
import type { SessionInfo, SmtpExtension } from "../smtp/types.ts";
import type { Authenticate } from "../login/authenticator.ts";
import type { Logger } from "../log/logger.ts";
import type { UserRecord } from "../store/types.ts";
import { LOGIN_PASSWORD_PROMPT, LOGIN_USER_PROMPT, MECHANISMS, decodeResponse, parsePlain } from "./sasl.ts";

/** Where the authenticated user record is kept in SessionInfo.locals. */
export const AUTH_USER_KEY = "submission.user";

export function authenticatedUser(session: SessionInfo): UserRecord | undefined {
  return session.locals.get(AUTH_USER_KEY) as UserRecord | undefined;
}

export interface AuthExtensionDeps {
  authenticate: Authenticate;
  logger: Logger;
}

// RFC 4954 §6 replies.
const AUTH_OK = reply(235, "2.7.0", "Authentication successful");
const AUTH_FAILED = reply(535, "5.7.8", "Authentication credentials invalid");
const AUTH_TEMP = reply(454, "4.7.0", "Temporary authentication failure; too many failed logins, try again later");
const CANCELLED = reply(501, "5.0.0", "Authentication cancelled");
const BAD_B64 = reply(501, "5.5.2", "Cannot decode the response");

/** Sends a 334 challenge and reads the client's response line. */
async function challenge(ctx: CommandContext, text: string): Promise<string> {
  ctx.send(reply(334, undefined, text));
  return ctx.readLine();
}

export function authExtension(deps: AuthExtensionDeps): SmtpExtension {
  return {
    name: "auth",
    // RFC 4954 §3: the keyword lists the mechanisms; only once TLS is on (RFC 8314 §3).
    ehloKeywords: (s) => (s.tls && s.authUser === undefined ? [`AUTH ${MECHANISMS.join(" ")}`] : []),
    commands: [
      defineCommand<{ mech: string; initial?: string }>({
        verb: "AUTH",
        // RFC 4954 §4: not during a mail transaction.
        phases: ["ready"],
        sensitive: true,
        // RFC 4954 §4: an AUTH command line may be 12288 octets with its initial response.
        extraLineOctets: 12288 - 512,
        parse(args) {
          const parts = args.trim().split(/ +/);
          if (parts.length === 0 || parts.length > 2 || parts[0] === "") throw new SmtpError("badArguments");
          return { mech: parts[0].toUpperCase(), initial: parts[1] };
        },
        async handle(ctx, { mech, initial }) {
          const info = ctx.session.info;
          if (!info.tls) throw new SmtpError("encryptionRequired");
          // RFC 4954 §4: "After a successful AUTH command completes, a server MUST reject any
          // further AUTH commands with a 503 reply."
          if (info.authUser !== undefined) throw new SmtpError("badSequence", "Already authenticated");
          let user: string;
          let password: string;
          if (mech === "PLAIN") {
            const raw = decodeResponse(initial ?? (await challenge(ctx, "")));
            if (!raw.ok) return ctx.send(raw.reason === "cancelled" ? CANCELLED : BAD_B64);
            const creds = parsePlain(raw.value);
            if (!creds.ok) return ctx.send(AUTH_FAILED);
            // No proxy authorization: an authzid must name the same identity.
            if (creds.value.authzid !== "" && creds.value.authzid.toLowerCase() !== creds.value.user.toLowerCase()) return ctx.send(AUTH_FAILED);
            ({ user, password } = creds.value);
          } else if (mech === "LOGIN") {
            const u = decodeResponse(initial ?? (await challenge(ctx, LOGIN_USER_PROMPT)));
            if (!u.ok) return ctx.send(u.reason === "cancelled" ? CANCELLED : BAD_B64);
            const p = decodeResponse(await challenge(ctx, LOGIN_PASSWORD_PROMPT));
            if (!p.ok) return ctx.send(p.reason === "cancelled" ? CANCELLED : BAD_B64);
            user = u.value.toString("utf8");
            password = p.value.toString("utf8");
          } else {
            // RFC 4954 §4: 504 5.5.4 for a mechanism we do not support.
            throw new SmtpError("paramNotImplemented", "Unrecognized authentication type");
          }
          const result = await deps.authenticate(user, password, info.remoteAddress);
          const log = deps.logger.child({ cid: info.cid });
          if (result.ok) {
            info.authUser = result.user.address;
            info.locals.set(AUTH_USER_KEY, result.user);
            log.info({ user: result.user.address, mech, cached: result.cached }, "authenticated");
            return ctx.send(AUTH_OK);
          }
          // The user name is logged (an operator needs it to see an attack), the password never.
          if (result.reason === "limited") {
            log.warn({ user, mech, retryAfterMs: result.retryAfterMs }, "authentication refused: too many failures");
            return ctx.send(AUTH_TEMP);
          }
          log.info({ user, mech }, "authentication failed");
          return ctx.send(AUTH_FAILED);
        },
      }),
    ],
    // RFC 4954 §5: AUTH=<mailbox> or AUTH=<> on MAIL FROM is accepted; we keep it, never trust it.
    claimMailParam: (_s, p) => p.keyword === "AUTH",
    beforeMail: (s) => {
      // RFC 6409 §4.3 / RFC 4954 §6: submission needs authentication before MAIL.
      if (s.authUser === undefined) throw new SmtpError("authRequired");
    },
  };
}
