// Failed-login rate limiting, per client IP and per account (ARCHITECTURE.md "failed-login rate
// limiting per IP and account"). One limiter instance is shared by IMAP and SMTP AUTH so a
// password guesser cannot double its rate by switching protocol.
//
// Each key has a fixed window counter; when `max` failures are reached within `windowMs`, further
// attempts are refused until the window ends, without checking the password at all (so the slow
// hash is not a denial-of-service lever either). A success clears the account's counter, not the
// IP's: one right password must not unlock guessing on other accounts from the same address.
// Memory is bounded: at most maxKeys entries, the oldest dropped first.
import type { Clock } from "../clock.ts";

export interface LimitRule {
  max: number;
  windowMs: number;
}

export interface LoginLimiterOptions {
  clock: Clock;
  perIp?: LimitRule;
  perAccount?: LimitRule;
  maxKeys?: number;
}

export type LimitVerdict = { allowed: true } | { allowed: false; retryAfterMs: number; by: "ip" | "account" };

interface Counter {
  start: number;
  failures: number;
}

export const DEFAULT_PER_IP: LimitRule = { max: 20, windowMs: 5 * 60_000 };
export const DEFAULT_PER_ACCOUNT: LimitRule = { max: 10, windowMs: 5 * 60_000 };

export class LoginLimiter {
  #clock: Clock;
  #ipRule: LimitRule;
  #accountRule: LimitRule;
  #maxKeys: number;
  #ips = new Map<string, Counter>();
  #accounts = new Map<string, Counter>();

  constructor(opts: LoginLimiterOptions) {
    this.#clock = opts.clock;
    this.#ipRule = opts.perIp ?? DEFAULT_PER_IP;
    this.#accountRule = opts.perAccount ?? DEFAULT_PER_ACCOUNT;
    this.#maxKeys = opts.maxKeys ?? 100_000;
  }

  /** May this IP try a password for this account now? */
  check(ip: string, account: string): LimitVerdict {
    const now = this.#clock.now();
    const ipWait = this.#wait(this.#ips, ip, this.#ipRule, now);
    if (ipWait > 0) return { allowed: false, retryAfterMs: ipWait, by: "ip" };
    const accWait = this.#wait(this.#accounts, normalize(account), this.#accountRule, now);
    if (accWait > 0) return { allowed: false, retryAfterMs: accWait, by: "account" };
    return { allowed: true };
  }

  failed(ip: string, account: string): void {
    const now = this.#clock.now();
    this.#bump(this.#ips, ip, this.#ipRule, now);
    this.#bump(this.#accounts, normalize(account), this.#accountRule, now);
  }

  succeeded(_ip: string, account: string): void {
    this.#accounts.delete(normalize(account));
  }

  #wait(map: Map<string, Counter>, key: string, rule: LimitRule, now: number): number {
    const c = map.get(key);
    if (!c) return 0;
    if (now - c.start >= rule.windowMs) {
      map.delete(key);
      return 0;
    }
    return c.failures >= rule.max ? c.start + rule.windowMs - now : 0;
  }

  #bump(map: Map<string, Counter>, key: string, rule: LimitRule, now: number): void {
    let c = map.get(key);
    if (!c || now - c.start >= rule.windowMs) {
      map.delete(key);
      c = { start: now, failures: 0 };
      if (map.size >= this.#maxKeys) {
        const oldest = map.keys().next();
        if (!oldest.done) map.delete(oldest.value);
      }
      map.set(key, c);
    }
    c.failures++;
  }
}

function normalize(account: string): string {
  return account.trim().toLowerCase();
}
