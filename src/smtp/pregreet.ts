// A pregreet test like Postfix's postscreen (postscreen(8), "Pregreet test"): an SMTP client
// must wait for the server's greeting before it speaks (RFC 5321 §3.1, §4.3.1). Spam bots often
// don't. A client IP not tested recently waits `delayMs` before the greeting; if it sends
// anything in that time it gets 554 5.5.0 and is disconnected. A pass is cached per IP for
// `passTtlMs`, so a real MTA pays the delay once per TTL, not per connection.
// Loopback clients are exempt by default (local tools and the benchmarks); tests turn that off.
import type { Clock } from "../clock.ts";
import { isLoopbackIp, unmapIPv4 } from "./ip.ts";

export interface PregreetOptions {
  readonly enabled: boolean;
  /** How long an untested client waits for the greeting (postscreen_greet_wait: 6 s). */
  readonly delayMs: number;
  /** How long a pass is remembered (postscreen_greet_ttl: 1 day). */
  readonly passTtlMs: number;
  /** Exempt 127.0.0.0/8 and ::1. */
  readonly exemptLoopback: boolean;
  /** Most passes remembered; expired entries are dropped first, then the oldest. */
  readonly maxEntries: number;
}

export const DEFAULT_PREGREET: PregreetOptions = {
  enabled: true,
  delayMs: 3000,
  passTtlMs: 24 * 3600_000,
  exemptLoopback: true,
  maxEntries: 100_000,
};

export class PregreetCache {
  readonly options: PregreetOptions;
  readonly #clock: Clock;
  /** IP → time the pass expires. Map keeps insertion order, so the first entries are the oldest. */
  readonly #passes = new Map<string, number>();

  constructor(options: Partial<PregreetOptions> | undefined, clock: Clock) {
    this.options = { ...DEFAULT_PREGREET, ...options };
    this.#clock = clock;
  }

  /** How long this client must wait before the greeting; 0 means greet at once. */
  delayFor(ip: string): number {
    const o = this.options;
    if (!o.enabled || o.delayMs <= 0) return 0;
    const a = unmapIPv4(ip);
    if (o.exemptLoopback && isLoopbackIp(a)) return 0;
    const until = this.#passes.get(a);
    if (until !== undefined) {
      if (until > this.#clock.now()) return 0;
      this.#passes.delete(a);
    }
    return o.delayMs;
  }

  recordPass(ip: string): void {
    const a = unmapIPv4(ip);
    this.#passes.delete(a);
    this.#passes.set(a, this.#clock.now() + this.options.passTtlMs);
    if (this.#passes.size > this.options.maxEntries) this.#evict();
  }

  /** A failed client loses any pass it had. */
  recordFail(ip: string): void {
    this.#passes.delete(unmapIPv4(ip));
  }

  get size(): number {
    return this.#passes.size;
  }

  #evict(): void {
    const now = this.#clock.now();
    for (const [ip, until] of this.#passes) if (until <= now) this.#passes.delete(ip);
    while (this.#passes.size > this.options.maxEntries) {
      const oldest = this.#passes.keys().next().value;
      if (oldest === undefined) break;
      this.#passes.delete(oldest);
    }
  }
}

/** Per-client concurrent connection limits (Postfix smtpd_client_connection_count_limit). */
export class ConnectionCounter {
  readonly #max: number;
  readonly #counts = new Map<string, number>();
  readonly #group: (ip: string) => string;

  constructor(maxPerClient: number, group: (ip: string) => string) {
    this.#max = maxPerClient;
    this.#group = group;
  }

  /** Takes a slot; returns its release function, or null when the client is at its limit. */
  acquire(ip: string): (() => void) | null {
    const key = this.#group(ip);
    const n = this.#counts.get(key) ?? 0;
    if (n >= this.#max) return null;
    this.#counts.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const m = (this.#counts.get(key) ?? 1) - 1;
      if (m <= 0) this.#counts.delete(key);
      else this.#counts.set(key, m);
    };
  }

  count(ip: string): number {
    return this.#counts.get(this.#group(ip)) ?? 0;
  }
}
