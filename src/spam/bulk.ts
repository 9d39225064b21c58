// Bulk detection: how many messages with the same body text this server received in the last
// window (a spam run sends one text to many recipients in many transactions). Kept in memory,
// bounded; the clock is injected.
import { createHash } from "node:crypto";
import type { Clock } from "../clock.ts";

export interface BulkOptions {
  windowMs: number;
  maxEntries: number;
}

export const DEFAULT_BULK: BulkOptions = { windowMs: 10 * 60_000, maxEntries: 50_000 };

/** Bodies shorter than this are too generic ("thanks!") to count as bulk copies. */
const MIN_TEXT = 200;

export class BulkTracker {
  readonly #o: BulkOptions;
  readonly #clock: Clock;
  /** fingerprint → arrival times (ms), oldest first. */
  readonly #seen = new Map<string, number[]>();

  constructor(clock: Clock, opts: Partial<BulkOptions> = {}) {
    this.#clock = clock;
    this.#o = { ...DEFAULT_BULK, ...opts };
  }

  /** Records one message with this normalised body text; returns the copies in the window (≥ 1), or 0 when not counted. */
  record(bodyText: string): number {
    if (bodyText.length < MIN_TEXT) return 0;
    const key = createHash("sha256").update(bodyText.toLowerCase()).digest("base64").slice(0, 22);
    const now = this.#clock.now();
    const cut = now - this.#o.windowMs;
    const times = (this.#seen.get(key) ?? []).filter((t) => t > cut);
    times.push(now);
    this.#seen.delete(key);
    this.#seen.set(key, times.slice(-1000));
    if (this.#seen.size > this.#o.maxEntries) {
      const oldest = this.#seen.keys().next().value;
      if (oldest !== undefined) this.#seen.delete(oldest);
    }
    return times.length;
  }
}
