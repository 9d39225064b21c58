// Greylisting (optional, off by default), as postgrey does it: the first delivery attempt of a
// (client network, sender, recipient) triple gets 451 4.7.1; a retry after `delayMs` and within
// `retryWindowMs` is accepted and the triple remembered for `passLifetimeMs`. Real MTAs retry
// (RFC 5321 §4.5.4.1); many spam bots don't. IPv4 clients are grouped by /24 and IPv6 clients
// by /64 (a sending farm or privacy addresses retry from another address of the same network).
// In memory and bounded; the clock is injected.
import type { Clock } from "../clock.ts";
import { expandIPv6 } from "../dnsbl/dnsbl.ts";

export interface GreylistOptions {
  delayMs: number;
  retryWindowMs: number;
  passLifetimeMs: number;
  maxEntries: number;
}

export const DEFAULT_GREYLIST: GreylistOptions = {
  delayMs: 5 * 60_000,
  retryWindowMs: 2 * 86_400_000,
  passLifetimeMs: 35 * 86_400_000,
  maxEntries: 200_000,
};

/** The network a client is grouped with: /24 for IPv4, /64 for IPv6. */
export function clientNetwork(ip: string): string {
  const v4 = /^(\d{1,3}\.\d{1,3}\.\d{1,3})\.\d{1,3}$/.exec(ip);
  if (v4) return `${v4[1]}.0/24`;
  const hex = expandIPv6(ip);
  if (!hex) return ip;
  return `${hex.slice(0, 16).replace(/(.{4})/g, "$1:")}:/64`;
}

interface Entry {
  first: number;
  passedUntil: number | null;
}

export type GreylistAnswer = { ok: true } | { ok: false; retryInMs: number };

export class Greylist {
  readonly #o: GreylistOptions;
  readonly #clock: Clock;
  readonly #entries = new Map<string, Entry>();

  constructor(clock: Clock, opts: Partial<GreylistOptions> = {}) {
    this.#clock = clock;
    this.#o = { ...DEFAULT_GREYLIST, ...opts };
  }

  check(ip: string, sender: string, recipient: string): GreylistAnswer {
    const key = `${clientNetwork(ip)}\u0000${sender.toLowerCase()}\u0000${recipient.toLowerCase()}`;
    const now = this.#clock.now();
    const e = this.#entries.get(key);
    if (e?.passedUntil != null && e.passedUntil > now) {
      e.passedUntil = now + this.#o.passLifetimeMs;
      return { ok: true };
    }
    if (e && e.passedUntil === null && now - e.first <= this.#o.retryWindowMs) {
      if (now - e.first >= this.#o.delayMs) {
        e.passedUntil = now + this.#o.passLifetimeMs;
        return { ok: true };
      }
      return { ok: false, retryInMs: this.#o.delayMs - (now - e.first) };
    }
    this.#entries.delete(key);
    this.#entries.set(key, { first: now, passedUntil: null });
    if (this.#entries.size > this.#o.maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    return { ok: false, retryInMs: this.#o.delayMs };
  }
}
