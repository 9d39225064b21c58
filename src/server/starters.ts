// Which module serves which listener role besides mx. Each protocol registers here as it lands.
// State shared between protocols (the failed-login limiter and the login cache, so IMAP and SMTP
// AUTH count the same failures) is built once per call, i.e. once per server process.
import { randomBytes } from "node:crypto";
import type { ProtocolStarter } from "./run.ts";
import type { Services } from "./services.ts";
import type { Listener } from "../config/schema.ts";
import { createAuthenticator } from "../login/authenticator.ts";
import type { Authenticate } from "../login/authenticator.ts";
import { LoginCache } from "../login/cache.ts";
import { LoginLimiter } from "../login/limiter.ts";
import { submissionStarter } from "../submission/starter.ts";

export function protocolStarters(): Partial<Record<Listener["role"], ProtocolStarter>> {
  let login: Authenticate | null = null;
  const authenticate = (services: Services): Authenticate =>
    (login ??= createAuthenticator({
      accounts: services.accounts,
      store: services.storage.store,
      limiter: new LoginLimiter({ clock: services.clock }),
      // A fresh secret per process: the cache lives in memory only.
      cache: new LoginCache({ secret: randomBytes(32), clock: services.clock }),
    }));
  const submission = submissionStarter({ authenticate });
  return { submission, submissions: submission };
}
