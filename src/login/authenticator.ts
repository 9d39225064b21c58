// Password login for IMAP and SMTP AUTH: rate limits, then the cache, then the slow hash.
// The account password or an app password (AccountsService.verifyMailLogin); the web login uses
// verifyWebLogin, which never accepts an app password.
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
  | { ok: true; user: UserRecord; cached: boolean; /** The app password used, if one was. */ appPasswordId?: number }
  | { ok: false; reason: "failed" }
  | { ok: false; reason: "limited"; retryAfterMs: number };

export interface AuthenticatorDeps {
  accounts: Pick<AccountsService, "verifyMailLogin" | "appPasswordValid">;
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
      // An app-password hit is good while that row exists unchanged (a revoke, even from the CLI
      // in another process, takes effect at the next login).
      const same = hit.appPasswordId === undefined
        ? u?.passwordHash === hit.passwordHash
        : u !== null && (await deps.accounts.appPasswordValid(u.id, hit.appPasswordId, hit.passwordHash));
      if (u && d && !u.disabled && !d.disabled && same) {
        deps.limiter.succeeded(ip, user);
        return hit.appPasswordId === undefined ? { ok: true, user: u, cached: true } : { ok: true, user: u, cached: true, appPasswordId: hit.appPasswordId };
      }
      deps.cache?.drop(user, password);
    }
    const login = await deps.accounts.verifyMailLogin(user, password);
    if (!login) {
      deps.limiter.failed(ip, user);
      await backOff(ip);
      return { ok: false, reason: "failed" };
    }
    deps.limiter.succeeded(ip, user);
    const ap = login.appPassword;
    if (ap) {
      deps.cache?.put(user, password, login.user.id, ap.passwordHash, ap.id);
      return { ok: true, user: login.user, cached: false, appPasswordId: ap.id };
    }
    // Re-read: verifyMailLogin() may have upgraded the stored hash.
    const fresh = (await deps.store.accounts.getUserById(login.user.id)) ?? login.user;
    deps.cache?.put(user, password, fresh.id, fresh.passwordHash);
    return { ok: true, user: fresh, cached: false };
  };
}
