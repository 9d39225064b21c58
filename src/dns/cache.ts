// The Resolver's answer cache: one per Resolver instance, bounded, on an injected clock.
//
// - Positive answers live for the smallest TTL of the records used, the CNAME chain included
//   (RFC 2181 §5.2: an RRset's TTLs are one; RFC 1034 §3.6.2: the chain is part of the answer).
// - Negative answers (NXDOMAIN, NODATA) live for min(SOA TTL, SOA MINIMUM) of the SOA in the
//   authority section (RFC 2308 §5); without an SOA they are not cached (same section).
// - Failures (SERVFAIL, timeouts ...) are never cached: the next question asks again.
// - TTL 0 is not cached (RFC 1035 §3.2.1: use for the transaction in progress only); TTLs are
//   capped (maxTtlS, maxNegativeTtlS: RFC 2308 §5 suggests one to three hours for negative).
// - Full: the least recently used entry goes (Map order, refreshed on each hit).
import type { Clock } from "../clock.ts";

export type CacheEntry = { kind: "records"; value: unknown } | { kind: "negative"; code: "ENOTFOUND" | "ENODATA" };

export interface DnsCacheOptions {
  clock: Clock;
  /** Most entries kept (default 10,000). 0 turns the cache off. */
  maxEntries?: number;
  /** Longest positive TTL honoured, seconds (default 3600). */
  maxTtlS?: number;
  /** Longest negative TTL honoured, seconds (default 900). */
  maxNegativeTtlS?: number;
}

export interface DnsCacheStats {
  size: number;
  hits: number;
  misses: number;
}

export class DnsCache {
  readonly #clock: Clock;
  readonly #max: number;
  readonly #maxTtlMs: number;
  readonly #maxNegMs: number;
  readonly #map = new Map<string, { expiresAt: number; entry: CacheEntry }>();
  #hits = 0;
  #misses = 0;

  constructor(o: DnsCacheOptions) {
    this.#clock = o.clock;
    this.#max = o.maxEntries ?? 10_000;
    this.#maxTtlMs = (o.maxTtlS ?? 3600) * 1000;
    this.#maxNegMs = (o.maxNegativeTtlS ?? 900) * 1000;
  }

  get(key: string): CacheEntry | undefined {
    const e = this.#map.get(key);
    if (!e) {
      this.#misses++;
      return undefined;
    }
    this.#map.delete(key);
    if (e.expiresAt <= this.#clock.now()) {
      this.#misses++;
      return undefined;
    }
    this.#map.set(key, e); // most recently used goes last
    this.#hits++;
    return e.entry;
  }

  /** Stores entry for ttlS seconds (after capping); TTL 0 or a disabled cache stores nothing. */
  set(key: string, entry: CacheEntry, ttlS: number): void {
    const cap = entry.kind === "records" ? this.#maxTtlMs : this.#maxNegMs;
    const ms = Math.min(ttlS * 1000, cap);
    if (!(ms > 0) || this.#max <= 0) return;
    this.#map.delete(key);
    while (this.#map.size >= this.#max) {
      const oldest = this.#map.keys().next().value as string;
      this.#map.delete(oldest);
    }
    this.#map.set(key, { expiresAt: this.#clock.now() + ms, entry });
  }

  clear(): void {
    this.#map.clear();
  }

  stats(): DnsCacheStats {
    return { size: this.#map.size, hits: this.#hits, misses: this.#misses };
  }
}
