// Hourly send limits per user: a compromised account must not get the server's IP on a
// blocklist. Counted in recipients (a message to 100 people is 100 sends, as Gmail and Microsoft
// 365 count), over a sliding hour on the injected clock. Past the limit, RCPT gets
// 451 4.7.1 (RFC 5321 §4.2.5 transient; RFC 3463 X.7.1 "delivery not authorized"), so the
// client keeps the message and can retry later rather than losing it.
//
// The counts live in memory (the ephemeral role): a restart forgets the last hour, which costs
// at most one more hour's worth of mail.
import type { Clock } from "../clock.ts";

export const HOUR_MS = 3_600_000;
/** Recipients per user per hour unless configured. */
export const DEFAULT_HOURLY_RECIPIENTS = 500;

export interface SendLimitOptions {
  clock: Clock;
  /** Recipients per user per sliding hour; 0 = unlimited. */
  perHour?: number;
  /** Per-user overrides by address (lower-case). */
  perUser?: ReadonlyMap<string, number>;
}

export class HourlySendLimit {
  #clock: Clock;
  #perHour: number;
  #perUser: ReadonlyMap<string, number>;
  /** user → [time, recipients] entries, oldest first. */
  #sent = new Map<string, Array<[number, number]>>();

  constructor(opts: SendLimitOptions) {
    this.#clock = opts.clock;
    this.#perHour = opts.perHour ?? DEFAULT_HOURLY_RECIPIENTS;
    this.#perUser = opts.perUser ?? new Map();
  }

  limitFor(user: string): number {
    return this.#perUser.get(user.toLowerCase()) ?? this.#perHour;
  }

  /** Recipients sent in the last hour. */
  used(user: string): number {
    const key = user.toLowerCase();
    const list = this.#sent.get(key);
    if (!list) return 0;
    const cutoff = this.#clock.now() - HOUR_MS;
    while (list.length > 0 && list[0][0] <= cutoff) list.shift();
    if (list.length === 0) {
      this.#sent.delete(key);
      return 0;
    }
    return list.reduce((n, [, c]) => n + c, 0);
  }

  /** May the user send to `more` more recipients now (beyond `pending` already accepted)? */
  allows(user: string, more: number, pending = 0): boolean {
    const limit = this.limitFor(user);
    return limit === 0 || this.used(user) + pending + more <= limit;
  }

  record(user: string, recipients: number): void {
    if (recipients <= 0) return;
    const key = user.toLowerCase();
    let list = this.#sent.get(key);
    if (!list) this.#sent.set(key, (list = []));
    list.push([this.#clock.now(), recipients]);
  }
}
