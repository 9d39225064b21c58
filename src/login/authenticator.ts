// Password login for IMAP and SMTP AUTH: rate limits, then the cache, then the slow hash.
// Passwords are never logged or kept; see limiter.ts and cache.ts for the policies.
//
// No user enumeration (issue 13 §1): an unknown user, a disabled one and a wrong password give
// the same result ("failed"), and AccountsService.authenticate hashes a dummy password for names
// it does not know, so all three take the time of one scrypt. A failed or refused attempt is
// answered only after the limiter's back-off delay (penaltyMs), the same for all three.
import { setTimeout as sleep } from "node:timers/promises";
import type { AccountsService } from "../accounts/service.ts";
import type { MetadataStore, UserRecord } from "../store/types.ts";
import type { LoginCache } from "./cache.ts";
import type { LoginLimiter } from "./limiter.ts";

export type LoginResult =
  | { ok: true; user: UserRecord; cached: boolean }
  | { ok: false; reason: "failed" }
  | { ok: false; reason: "limited"; retryAfterMs: number };

export interface AuthenticatorDeps {
  accounts: Pick<AccountsService, "authenticate">;
  store: MetadataStore;
  limiter: LoginLimiter;
  /** Null turns caching off (benchmarks compare both). */
  cache: LoginCache | null;
  /** Waits out the back-off delay; tests may replace it. */
  delay?: (ms: number) => Promise<unknown>;
}

export type Authenticate = (user: string, password: string, ip: string) => Promise<LoginResult>;

export function createAuthenticator(deps: AuthenticatorDeps): Authenticate {
  const delay = deps.delay ?? ((ms: number) => sleep(ms));
  const backOff = async (ip: string) => {
    const ms = deps.limiter.penaltyMs(ip);
    if (ms > 0) await delay(ms);
  };
  return async (user, password, ip) => {
    const verdict = deps.limiter.check(ip, user);
    if (!verdict.allowed) {
      await backOff(ip);
      return { ok: false, reason: "limited", retryAfterMs: verdict.retryAfterMs };
    }
    const hit = deps.cache?.get(user, password);
    if (hit) {
      // The hit is only good while the account still has the hash it was checked against and
      // it and its domain are enabled: a password change or disable takes effect at once.
      const u = await deps.store.accounts.getUserById(hit.userId);
      const d = u ? await deps.store.accounts.getDomainById(u.domainId) : null;
      if (u && d && !u.disabled && !d.disabled && u.passwordHash === hit.passwordHash) {
        deps.limiter.succeeded(ip, user);
        return { ok: true, user: u, cached: true };
      }
      deps.cache?.drop(user, password);
    }
    const u = await deps.accounts.authenticate(user, password);
    if (!u) {
      deps.limiter.failed(ip, user);
      await backOff(ip);
      return { ok: false, reason: "failed" };
    }
    deps.limiter.succeeded(ip, user);
    // Re-read: authenticate() may have upgraded the stored hash.
    const fresh = (await deps.store.accounts.getUserById(u.id)) ?? u;
    deps.cache?.put(user, password, fresh.id, fresh.passwordHash);
    return { ok: true, user: fresh, cached: false };
  };
}
