// RFC 9051 §6.2.3 LOGIN and the login step shared with AUTHENTICATE.
import type { ResponseCode } from "../protocol/response.ts";
import { capabilities, mayLogin } from "../capabilities.ts";
import { ImapError, no } from "../errors.ts";
import type { Session } from "../session.ts";
import type { CommandEntry, CommandResult } from "./types.ts";
import { NOT_AUTH } from "./types.ts";

export async function logIn(s: Session, user: string, password: string): Promise<CommandResult> {
  if (!mayLogin(s)) throw no("Use STARTTLS first", "PRIVACYREQUIRED"); // RFC 9051 §6.2.3
  const r = await s.deps.authenticate(user, password, s.t.remoteAddress);
  if (!r.ok) {
    // Never log the password; the user name helps operators see guessing.
    s.log.info({ user, reason: r.reason }, "imap login failed");
    if (r.reason === "limited") throw new ImapError("NO", "Too many failed logins, try again later", { code: "UNAVAILABLE" });
    throw no("Invalid credentials", "AUTHENTICATIONFAILED"); // RFC 5530 §3
  }
  const refusal = s.onLogin(r.user);
  if (refusal) throw refusal;
  s.state = { kind: "authenticated", user: r.user };
  s.log.info({ user: r.user.address, cached: r.cached }, "imap login");
  const code: ResponseCode = { code: "CAPABILITY", capabilities: capabilities(s) };
  return { text: "Logged in", code };
}

export const login: CommandEntry<"LOGIN"> = {
  states: NOT_AUTH,
  run: (s, cmd) => logIn(s, cmd.user, cmd.password),
};
