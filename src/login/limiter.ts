// Failed-login rate limiting (ARCHITECTURE.md "failed-login rate limiting per IP and account";
// issue 13 §1). One limiter instance is shared by IMAP and SMTP AUTH so a password guesser cannot
// double its rate by switching protocol. The models are Dovecot's auth penalty (each failure
// from an address delays the next answer, doubling up to 15 s) and Postfix's anvil (counters per
// client with a lockout).
//
// Three counters, each with its own limit of failures within `windowMs`:
//   - per client address (an IPv4 address, or one IPv6 address);
//   - per IPv6 /64 (smtp/ip.ts clientGroup): an end site usually has a whole /64, so rotating
//     through it must not reset the count;
//   - per account name as typed (lower-cased), whether or not the account exists — a locked
//     unknown name and a locked real one answer alike, so the lockout does not reveal which
//     accounts exist.
// When a counter reaches its limit the key is locked out for `lockoutMs`; each new lockout of
// the same key (within a window of the last one ending) doubles it, up to `maxLockoutMs`.
// While locked, attempts are refused without checking the password (so the slow hash is not a
// denial-of-service lever either). Password spraying — one password tried against many accounts
// — is caught by the address and /64 counters, which count failures for every account.
//
// Back-off: `penaltyMs(ip)` is the delay the caller puts before answering a failed or refused
// attempt: `penaltyMs × 2^(n−1)` for the n-th recent failure of the address (or its /64),
// capped at `maxPenaltyMs`. A client that waits for each answer (one connection) is slowed
// exponentially; one that opens many connections meets the lockout and the connection caps.
//
// Successes: a success clears the account's counter, not the address's: one right password must
// not unlock guessing on other accounts from the same address. The (address, account) pair is
// remembered for `trustedMs`: a pair that logged in before is exempt from that account's lockout
// (not from the address lockout), so a guesser elsewhere cannot lock the owner out of a mailbox
// from the places the owner usually logs in from.
// Memory is bounded: at most maxKeys entries per map, the oldest dropped first.
import type { Clock } from "../clock.ts";
import { clientGroup, unmapIPv4 } from "../smtp/ip.ts";

export interface LimitRule {
  /** Failures within the window before a lockout; 0 turns this counter off. */
  max: number;
  windowMs: number;
}

export interface LoginLimiterOptions {
  clock: Clock;
  perIp?: LimitRule;
  /** IPv6 /64 networks (IPv4 addresses are counted by perIp alone). */
  perPrefix?: LimitRule;
  perAccount?: LimitRule;
  /** First lockout; default: the rule's window. Doubles per repeated lockout. */
  lockoutMs?: number;
  maxLockoutMs?: number;
  /** Back-off base delay after a failure; default 0 (off). */
  penaltyMs?: number;
  maxPenaltyMs?: number;
  /** How long a successful (address, account) pair is exempt from the account lockout. */
  trustedMs?: number;
  maxKeys?: number;
}

export type LimitKind = "ip" | "prefix" | "account";
export type LimitVerdict = { allowed: true } | { allowed: false; retryAfterMs: number; by: LimitKind };

interface Counter {
  windowStart: number;
  failures: number;
  /** Failures since the key was last quiet for a window (drives the back-off; not reset by a lockout). */
  recent: number;
  last: number;
  lockedUntil: number;
  lockouts: number;
}

export const DEFAULT_PER_IP: LimitRule = { max: 10, windowMs: 15 * 60_000 };
export const DEFAULT_PER_PREFIX: LimitRule = { max: 30, windowMs: 15 * 60_000 };
export const DEFAULT_PER_ACCOUNT: LimitRule = { max: 10, windowMs: 15 * 60_000 };
export const DEFAULT_MAX_LOCKOUT_MS = 60 * 60_000;
export const DEFAULT_TRUSTED_MS = 30 * 24 * 3600_000;

class CounterMap {
  readonly #map = new Map<string, Counter>();
  readonly rule: LimitRule;
  readonly #maxKeys: number;
  readonly #lockoutMs: number;
  readonly #maxLockoutMs: number;

  constructor(rule: LimitRule, maxKeys: number, lockoutMs: number | undefined, maxLockoutMs: number) {
    this.rule = rule;
    this.#maxKeys = maxKeys;
    this.#lockoutMs = lockoutMs ?? rule.windowMs;
    this.#maxLockoutMs = Math.max(maxLockoutMs, this.#lockoutMs);
  }

  /** The entry, or none once it has been quiet (not locked, no failure) for a whole window. */
  #live(key: string, now: number): Counter | undefined {
    const c = this.#map.get(key);
    if (c && now >= c.lockedUntil && now - Math.max(c.last, c.lockedUntil) >= this.rule.windowMs) {
      this.#map.delete(key);
      return undefined;
    }
    return c;
  }

  wait(key: string, now: number): number {
    if (this.rule.max <= 0) return 0;
    const c = this.#live(key, now);
    return c && now < c.lockedUntil ? c.lockedUntil - now : 0;
  }

  recent(key: string, now: number): number {
    return this.#live(key, now)?.recent ?? 0;
  }

  bump(key: string, now: number): void {
    if (this.rule.max <= 0) return;
    let c = this.#live(key, now);
    if (!c) {
      if (this.#map.size >= this.#maxKeys) {
        const oldest = this.#map.keys().next();
        if (!oldest.done) this.#map.delete(oldest.value);
      }
      c = { windowStart: now, failures: 0, recent: 0, last: now, lockedUntil: 0, lockouts: 0 };
      this.#map.set(key, c);
    } else if (now - c.windowStart >= this.rule.windowMs) {
      c.windowStart = now;
      c.failures = 0;
    }
    c.failures++;
    c.recent++;
    c.last = now;
    if (c.failures >= this.rule.max) {
      c.lockouts++;
      c.lockedUntil = now + Math.min(this.#lockoutMs * 2 ** (c.lockouts - 1), this.#maxLockoutMs);
      c.failures = 0;
      c.windowStart = now;
    }
  }

  delete(key: string): void {
    this.#map.delete(key);
  }
}

export class LoginLimiter {
  #clock: Clock;
  #ips: CounterMap;
  #prefixes: CounterMap;
  #accounts: CounterMap;
  #penaltyMs: number;
  #maxPenaltyMs: number;
  #trustedMs: number;
  #maxKeys: number;
  /** "ip NUL account" → when the pair last logged in. */
  #trusted = new Map<string, number>();

  constructor(opts: LoginLimiterOptions) {
    this.#clock = opts.clock;
    this.#maxKeys = opts.maxKeys ?? 100_000;
    const maxLockout = opts.maxLockoutMs ?? DEFAULT_MAX_LOCKOUT_MS;
    this.#ips = new CounterMap(opts.perIp ?? DEFAULT_PER_IP, this.#maxKeys, opts.lockoutMs, maxLockout);
    this.#prefixes = new CounterMap(opts.perPrefix ?? DEFAULT_PER_PREFIX, this.#maxKeys, opts.lockoutMs, maxLockout);
    this.#accounts = new CounterMap(opts.perAccount ?? DEFAULT_PER_ACCOUNT, this.#maxKeys, opts.lockoutMs, maxLockout);
    this.#penaltyMs = opts.penaltyMs ?? 0;
    this.#maxPenaltyMs = opts.maxPenaltyMs ?? 15_000;
    this.#trustedMs = opts.trustedMs ?? DEFAULT_TRUSTED_MS;
  }

  /** May this address try a password for this account now? */
  check(ip: string, account: string): LimitVerdict {
    const now = this.#clock.now();
    const k = keys(ip, account);
    const ipWait = this.#ips.wait(k.ip, now);
    if (ipWait > 0) return { allowed: false, retryAfterMs: ipWait, by: "ip" };
    if (k.prefix !== null) {
      const w = this.#prefixes.wait(k.prefix, now);
      if (w > 0) return { allowed: false, retryAfterMs: w, by: "prefix" };
    }
    if (!this.#isTrusted(k.ip, k.account, now)) {
      const accWait = this.#accounts.wait(k.account, now);
      if (accWait > 0) return { allowed: false, retryAfterMs: accWait, by: "account" };
    }
    return { allowed: true };
  }

  failed(ip: string, account: string): void {
    const now = this.#clock.now();
    const k = keys(ip, account);
    this.#ips.bump(k.ip, now);
    if (k.prefix !== null) this.#prefixes.bump(k.prefix, now);
    this.#accounts.bump(k.account, now);
  }

  succeeded(ip: string, account: string): void {
    const k = keys(ip, account);
    this.#accounts.delete(k.account);
    if (this.#trustedMs <= 0) return;
    const pair = `${k.ip}\0${k.account}`;
    this.#trusted.delete(pair);
    if (this.#trusted.size >= this.#maxKeys) {
      const oldest = this.#trusted.keys().next();
      if (!oldest.done) this.#trusted.delete(oldest.value);
    }
    this.#trusted.set(pair, this.#clock.now());
  }

  /**
   * How long to wait before answering a failed or refused attempt from this address: the
   * exponential back-off (0 when off or after a quiet window).
   */
  penaltyMs(ip: string): number {
    if (this.#penaltyMs <= 0) return 0;
    const now = this.#clock.now();
    const k = keys(ip, "");
    const n = Math.max(this.#ips.recent(k.ip, now), k.prefix === null ? 0 : this.#prefixes.recent(k.prefix, now));
    if (n === 0) return 0;
    return Math.min(this.#penaltyMs * 2 ** Math.min(n - 1, 30), this.#maxPenaltyMs);
  }

  #isTrusted(ip: string, account: string, now: number): boolean {
    const at = this.#trusted.get(`${ip}\0${account}`);
    return at !== undefined && now - at < this.#trustedMs;
  }
}

function keys(ip: string, account: string): { ip: string; prefix: string | null; account: string } {
  const a = unmapIPv4(ip).toLowerCase();
  const group = clientGroup(a);
  return { ip: a, prefix: group === a ? null : group, account: account.trim().toLowerCase() };
}

/** The limiter's options from config.login (src/config/schema.ts). */
export function limiterOptionsFromConfig(c: {
  maxFailuresPerIp: number;
  maxFailuresPerIpv6Prefix: number;
  maxFailuresPerAccount: number;
  failureWindowSeconds: number;
  lockoutSeconds: number;
  maxLockoutSeconds: number;
  failureDelayMs: number;
  maxFailureDelayMs: number;
  trustedDays: number;
}): Omit<LoginLimiterOptions, "clock"> {
  const windowMs = c.failureWindowSeconds * 1000;
  return {
    perIp: { max: c.maxFailuresPerIp, windowMs },
    perPrefix: { max: c.maxFailuresPerIpv6Prefix, windowMs },
    perAccount: { max: c.maxFailuresPerAccount, windowMs },
    lockoutMs: c.lockoutSeconds * 1000,
    maxLockoutMs: c.maxLockoutSeconds * 1000,
    penaltyMs: c.failureDelayMs,
    maxPenaltyMs: c.maxFailureDelayMs,
    trustedMs: c.trustedDays * 86400_000,
  };
}
