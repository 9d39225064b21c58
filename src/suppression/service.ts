// The suppression list: per sending domain and recipient, hard bounces counted from the queue's
// outcomes; at `hardBounces` the recipient is suppressed for `days`, and submission refuses new
// mail from that domain to it at RCPT. Operators list, add and remove entries
// (`freehold suppress`). Bulk senders keep such lists to protect their reputation: receivers
// (Gmail, Microsoft) count mail sent to addresses that do not exist against the sender.
import type { Clock } from "../clock.ts";
import { join } from "node:path";
import { systemClock } from "../clock.ts";
import { SqliteDb } from "../store/sqlite/db.ts";
import { migrate } from "../store/sqlite/migrations.ts";
import type { Migration } from "../store/sqlite/migrations.ts";
import type { SuppressionConfig } from "./config-schema.ts";
import { domainOf, isHardBounce } from "./policy.ts";

export const DAY_MS = 86_400_000;

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: "suppressions",
    sql: `CREATE TABLE suppressions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  sender_domain TEXT NOT NULL,
  address TEXT NOT NULL,
  bounces INTEGER NOT NULL,
  source TEXT NOT NULL,
  reason TEXT NOT NULL,
  first_at INTEGER NOT NULL,
  last_at INTEGER NOT NULL,
  suppressed_at INTEGER,
  expires_at INTEGER,
  UNIQUE (sender_domain, address)
);`,
  },
  {
    version: 2,
    name: "complaints and messages sent per domain and day",
    sql: `CREATE TABLE complaints (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  sender_domain TEXT NOT NULL,
  complainer TEXT,
  feedback_type TEXT NOT NULL,
  source_ip TEXT,
  message_id TEXT
);
CREATE INDEX complaints_domain_at ON complaints (sender_domain, at);
CREATE TABLE sent_daily (
  sender_domain TEXT NOT NULL,
  day INTEGER NOT NULL,
  messages INTEGER NOT NULL,
  PRIMARY KEY (sender_domain, day)
) WITHOUT ROWID;
CREATE TABLE checkpoints (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;`,
  },
  {
    version: 3,
    name: "messages sent to other hosts, to check DSNs received against",
    sql: `CREATE TABLE sent_messages (
  message_id TEXT NOT NULL,
  recipient TEXT NOT NULL,
  mail_from TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (message_id, recipient)
) WITHOUT ROWID;
CREATE INDEX sent_messages_at ON sent_messages (at);`,
  },
];

/** How long a sent message is remembered for matching a DSN (remote MTAs give up within 5 days, RFC 5321 §4.5.4.1). */
export const SENT_MEMORY_DAYS = 14;

export interface DsnOutcome {
  /** Failed recipients counted as hard bounces. */
  counted: number;
  /** Failed recipients of a message we did not send them (forged or not ours): ignored. */
  unmatched: number;
}

export interface ComplaintStats {
  senderDomain: string;
  complaints: number;
  sent: number;
  /** complaints / sent (0 when nothing was sent). */
  rate: number;
}

/** Opens (creating and migrating) <dataDir>/suppression.sqlite: its own file, as spam.sqlite, so its writes never wait on meta.sqlite's lock. */
export function openSuppressionDb(dataDir: string, opts: { clock?: Clock } = {}): SqliteDb {
  const db = new SqliteDb(join(dataDir, "suppression.sqlite"));
  migrate(db.db, (opts.clock ?? systemClock).now(), MIGRATIONS);
  return db;
}

export interface SuppressionEntry {
  senderDomain: string;
  address: string;
  bounces: number;
  /** "bounce" (counted by the queue) or "manual" (freehold suppress add). */
  source: string;
  reason: string;
  firstAt: number;
  lastAt: number;
  /** Set once the entry suppresses; null while bounces are below the threshold. */
  suppressedAt: number | null;
  expiresAt: number | null;
}

interface Row {
  sender_domain: string;
  address: string;
  bounces: number;
  source: string;
  reason: string;
  first_at: number;
  last_at: number;
  suppressed_at: number | null;
  expires_at: number | null;
}

const toEntry = (r: Row): SuppressionEntry => ({
  senderDomain: r.sender_domain,
  address: r.address,
  bounces: r.bounces,
  source: r.source,
  reason: r.reason,
  firstAt: r.first_at,
  lastAt: r.last_at,
  suppressedAt: r.suppressed_at,
  expiresAt: r.expires_at,
});

export class SuppressionService {
  readonly #db: SqliteDb;
  readonly #clock: Clock;
  readonly #cfg: SuppressionConfig;

  constructor(db: SqliteDb, clock: Clock, cfg: SuppressionConfig) {
    this.#db = db;
    this.#clock = clock;
    this.#cfg = cfg;
  }

  /** The queue's final failure for one recipient of a message from `mailFrom`. Counts only hard bounces. */
  recordFailure(mailFrom: string, recipient: string, status: string, reply: string): Promise<SuppressionEntry | null> {
    const senderDomain = domainOf(mailFrom);
    if (!this.#cfg.enabled || !senderDomain || !isHardBounce(status)) return Promise.resolve(null);
    const address = recipient.toLowerCase();
    const now = this.#clock.now();
    const reason = `${status} ${reply.replace(/\s+/g, " ").slice(0, 300)}`;
    return this.#db.call(() =>
      this.#db.atomic(() => {
        const old = this.#db.get<Row>("SELECT * FROM suppressions WHERE sender_domain = ? AND address = ?", senderDomain, address);
        // An expired suppression starts counting again from this bounce.
        const expired = old?.expires_at != null && old.expires_at <= now;
        const bounces = old && !expired ? old.bounces + 1 : 1;
        const suppress = bounces >= this.#cfg.hardBounces;
        const suppressedAt = suppress ? (old && !expired && old.suppressed_at != null ? old.suppressed_at : now) : null;
        const expiresAt = suppress ? now + this.#cfg.days * DAY_MS : null;
        this.#db.run(
          `INSERT INTO suppressions (sender_domain, address, bounces, source, reason, first_at, last_at, suppressed_at, expires_at)
           VALUES (?, ?, ?, 'bounce', ?, ?, ?, ?, ?)
           ON CONFLICT (sender_domain, address) DO UPDATE SET bounces = excluded.bounces, reason = excluded.reason,
             first_at = CASE WHEN ? THEN excluded.first_at ELSE first_at END, last_at = excluded.last_at,
             suppressed_at = excluded.suppressed_at, expires_at = excluded.expires_at`,
          senderDomain, address, bounces, reason, now, now, suppressedAt, expiresAt, expired ? 1 : 0,
        );
        return toEntry(this.#db.get<Row>("SELECT * FROM suppressions WHERE sender_domain = ? AND address = ?", senderDomain, address)!);
      }),
    );
  }

  /**
   * Our queue handed a submitted message to another host for these recipients: remembered
   * (Message-ID, recipient, MAIL FROM) for SENT_MEMORY_DAYS so a DSN that host or a later one
   * sends back can be checked against it (recordDsn).
   */
  recordSent(mailFrom: string, messageId: string, recipients: string[]): Promise<void> {
    const now = this.#clock.now();
    return this.#db.call(() =>
      this.#db.atomic(() => {
        for (const r of recipients) {
          this.#db.run(
            "INSERT INTO sent_messages (message_id, recipient, mail_from, at) VALUES (?, ?, ?, ?) ON CONFLICT (message_id, recipient) DO UPDATE SET mail_from = excluded.mail_from, at = excluded.at",
            messageId, r.toLowerCase(), mailFrom, now,
          );
        }
        this.#db.run("DELETE FROM sent_messages WHERE at < ?", now - SENT_MEMORY_DAYS * DAY_MS);
      }),
    );
  }

  /**
   * A DSN received (dsn-report.ts): each failed recipient counts as a hard bounce for the
   * sending domain only when we sent that Message-ID to that recipient (recordSent), and the
   * sender is taken from our record, never from the DSN: a forged DSN suppresses nobody.
   */
  async recordDsn(messageId: string | null, recipients: Array<{ finalRecipient: string; originalRecipient: string | null; action: string; status: string; diagnostic: string | null }>): Promise<DsnOutcome> {
    const out: DsnOutcome = { counted: 0, unmatched: 0 };
    for (const r of recipients) {
      if (r.action !== "failed" || !isHardBounce(r.status)) continue;
      const candidates = [...new Set([r.originalRecipient, r.finalRecipient].filter((a): a is string => !!a))];
      const sent = messageId
        ? await this.#db.call(() => {
            for (const a of candidates) {
              const row = this.#db.get<{ mail_from: string; recipient: string }>("SELECT mail_from, recipient FROM sent_messages WHERE message_id = ? AND recipient = ?", messageId, a);
              if (row) return row;
            }
            return null;
          })
        : null;
      if (!sent) {
        out.unmatched++;
        continue;
      }
      if (await this.recordFailure(sent.mail_from, sent.recipient, r.status, `(DSN) ${r.diagnostic ?? ""}`.trim())) out.counted++;
    }
    return out;
  }

  /** The entry that suppresses mail from `mailFrom`'s domain to `recipient` now, if any. */
  check(mailFrom: string, recipient: string): Promise<SuppressionEntry | null> {
    const senderDomain = domainOf(mailFrom);
    if (!this.#cfg.enabled || !senderDomain) return Promise.resolve(null);
    const now = this.#clock.now();
    return this.#db.call(() => {
      const r = this.#db.get<Row>(
        "SELECT * FROM suppressions WHERE sender_domain = ? AND address = ? AND suppressed_at IS NOT NULL AND (expires_at IS NULL OR expires_at > ?)",
        senderDomain, recipient.toLowerCase(), now,
      );
      return r ? toEntry(r) : null;
    });
  }

  /** Every entry (suppressing or still counting), optionally one sending domain's; newest first. */
  list(senderDomain?: string): Promise<SuppressionEntry[]> {
    return this.#db.call(() =>
      (senderDomain
        ? this.#db.all<Row>("SELECT * FROM suppressions WHERE sender_domain = ? ORDER BY last_at DESC, address", senderDomain.toLowerCase())
        : this.#db.all<Row>("SELECT * FROM suppressions ORDER BY last_at DESC, sender_domain, address")
      ).map(toEntry),
    );
  }

  /** Suppresses by hand (no expiry unless days is given). */
  add(senderDomain: string, address: string, reason: string, days?: number): Promise<SuppressionEntry> {
    const d = senderDomain.toLowerCase();
    const a = address.toLowerCase();
    const now = this.#clock.now();
    return this.#db.call(() => this.#db.atomic(() => {
      this.#db.run(
        `INSERT INTO suppressions (sender_domain, address, bounces, source, reason, first_at, last_at, suppressed_at, expires_at)
         VALUES (?, ?, 0, 'manual', ?, ?, ?, ?, ?)
         ON CONFLICT (sender_domain, address) DO UPDATE SET source = 'manual', reason = excluded.reason, last_at = excluded.last_at,
           suppressed_at = excluded.suppressed_at, expires_at = excluded.expires_at`,
        d, a, reason, now, now, now, days ? now + days * DAY_MS : null,
      );
      return toEntry(this.#db.get<Row>("SELECT * FROM suppressions WHERE sender_domain = ? AND address = ?", d, a)!);
    }));
  }

  /**
   * A feedback-loop complaint (arf.ts): counted for the domain, and the complainer suppressed for
   * it with no expiry (someone who pressed "this is spam" asked not to get more).
   */
  recordComplaint(c: { senderDomain: string; complainer: string | null; feedbackType: string; sourceIp: string | null; messageId: string | null }): Promise<void> {
    const d = c.senderDomain.toLowerCase();
    const now = this.#clock.now();
    return this.#db.call(() =>
      this.#db.atomic(() => {
        this.#db.run(
          "INSERT INTO complaints (at, sender_domain, complainer, feedback_type, source_ip, message_id) VALUES (?, ?, ?, ?, ?, ?)",
          now, d, c.complainer, c.feedbackType, c.sourceIp, c.messageId,
        );
        if (!c.complainer || c.feedbackType === "not-spam") return;
        this.#db.run(
          `INSERT INTO suppressions (sender_domain, address, bounces, source, reason, first_at, last_at, suppressed_at, expires_at)
           VALUES (?, ?, 0, 'complaint', ?, ?, ?, ?, NULL)
           ON CONFLICT (sender_domain, address) DO UPDATE SET source = 'complaint', reason = excluded.reason, last_at = excluded.last_at,
             suppressed_at = COALESCE(suppressed_at, excluded.suppressed_at), expires_at = NULL`,
          d, c.complainer.toLowerCase(), `complaint (${c.feedbackType})`, now, now, now,
        );
      }),
    );
  }

  /** A message submitted from this domain (the complaint rate's denominator). */
  countSent(senderDomain: string, messages = 1): Promise<void> {
    const day = Math.floor(this.#clock.now() / DAY_MS);
    return this.#db.call(() =>
      this.#db.atomic(() => {
        this.#db.run(
          "INSERT INTO sent_daily (sender_domain, day, messages) VALUES (?, ?, ?) ON CONFLICT (sender_domain, day) DO UPDATE SET messages = messages + excluded.messages",
          senderDomain.toLowerCase(), day, messages,
        );
      }),
    );
  }

  /** Complaints and messages sent per domain over the last `days` days. */
  complaintStats(days = 30): Promise<ComplaintStats[]> {
    const now = this.#clock.now();
    const since = now - days * DAY_MS;
    const fromDay = Math.floor(since / DAY_MS);
    return this.#db.call(() => {
      const c = this.#db.all<{ d: string; n: number }>("SELECT sender_domain AS d, count(*) AS n FROM complaints WHERE at >= ? GROUP BY sender_domain", since);
      const s = this.#db.all<{ d: string; n: number }>("SELECT sender_domain AS d, sum(messages) AS n FROM sent_daily WHERE day >= ? GROUP BY sender_domain", fromDay);
      const out = new Map<string, ComplaintStats>();
      for (const r of s) out.set(r.d, { senderDomain: r.d, complaints: 0, sent: r.n, rate: 0 });
      for (const r of c) {
        const e = out.get(r.d) ?? { senderDomain: r.d, complaints: 0, sent: 0, rate: 0 };
        e.complaints = r.n;
        out.set(r.d, e);
      }
      for (const e of out.values()) e.rate = e.sent > 0 ? e.complaints / e.sent : 0;
      return [...out.values()].sort((a, b) => a.senderDomain.localeCompare(b.senderDomain));
    });
  }

  /** Retention (src/retention/): complaints and daily sent counts older than `before` (ms) go. Returns the rows deleted. */
  pruneBefore(before: number): Promise<number> {
    return this.#db.call(() =>
      this.#db.atomic(() => {
        const a = Number(this.#db.run("DELETE FROM complaints WHERE at < ?", before).changes);
        const b = Number(this.#db.run("DELETE FROM sent_daily WHERE day < ?", Math.floor(before / DAY_MS)).changes);
        return a + b;
      }),
    );
  }

  checkpoint(name: string): Promise<number> {
    return this.#db.call(() => this.#db.get<{ value: number }>("SELECT value FROM checkpoints WHERE name = ?", name)?.value ?? 0);
  }

  setCheckpoint(name: string, value: number): Promise<void> {
    return this.#db.call(() =>
      this.#db.atomic(() => {
        this.#db.run("INSERT INTO checkpoints (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value", name, value);
      }),
    );
  }

  /** Lifts a suppression (and forgets its bounce count). True if there was one. */
  remove(senderDomain: string, address: string): Promise<boolean> {
    return this.#db.call(() => this.#db.atomic(() => this.#db.run("DELETE FROM suppressions WHERE sender_domain = ? AND address = ?", senderDomain.toLowerCase(), address.toLowerCase()).changes > 0));
  }
}
