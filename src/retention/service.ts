// The retention job: expunges messages that have stayed longer than their mailbox's limit
// (policy.ts). It uses the store's normal expunge, so every IMAP rule holds as if a client had
// sent EXPUNGE: the mailbox's HIGHESTMODSEQ advances and the UIDs are recorded as expunged
// (RFC 7162 §3.2.10 VANISHED for QRESYNC clients), sessions with the mailbox selected are told
// through the change bus and send EXPUNGE or VANISHED (RFC 9051 §7.5.1), and the blobs are
// collected once no row names them. Work goes in batches so one huge Junk folder does not hold
// the database's write lock for long.
import type { Clock } from "../clock.ts";
import type { Logger } from "../log/logger.ts";
import type { Id, MetadataStore } from "../store/types.ts";
import type { RetentionConfig } from "./config-schema.ts";
import { DAY_MS, retentionDays } from "./policy.ts";

export interface RetentionDeps {
  store: MetadataStore;
  clock: Clock;
  logger: Logger;
  config: RetentionConfig;
  /** Tell whoever shows the mailbox (the IMAP change bus) that it changed. */
  publish(mailboxId: Id): void;
  /** Complaint records to prune (retention.complaintsDays). */
  suppression?: { pruneBefore(before: number): Promise<number> };
}

/** What one pass removed besides messages. */
export interface RetentionRecords {
  auditEntries: number;
  complaintRows: number;
}

export interface RetentionRemoved {
  user: string;
  mailbox: string;
  days: number;
  expunged: number;
}

const BATCH = 500;

export class RetentionJob {
  readonly #d: RetentionDeps;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<RetentionRemoved[]> | null = null;
  /** What the last pass removed from the audit log and suppression.sqlite. */
  lastRecords: RetentionRecords = { auditEntries: 0, complaintRows: 0 };
  #stopped = false;

  constructor(deps: RetentionDeps) {
    this.#d = deps;
  }

  /** One pass over every user's mailboxes. Concurrent calls share the pass in progress. */
  runOnce(): Promise<RetentionRemoved[]> {
    this.#running ??= this.#pass().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #pass(): Promise<RetentionRemoved[]> {
    const { store, clock, logger, config } = this.#d;
    const now = clock.now();
    const removed: RetentionRemoved[] = [];
    for (const user of await store.accounts.listUsers()) {
      if (this.#stopped) break;
      for (const mb of await store.mail.listMailboxes(user.id)) {
        const days = retentionDays(config, user.address, mb);
        if (days === null) continue;
        const before = now - days * DAY_MS;
        let count = 0;
        for (;;) {
          if (this.#stopped) break;
          const uids = await store.mail.listSavedBefore(mb.id, before, BATCH);
          if (uids.length === 0) break;
          const r = await store.mail.expunge(mb.id, uids);
          count += r.uids.length;
          if (r.uids.length) this.#d.publish(mb.id);
          if (uids.length < BATCH || r.uids.length === 0) break;
        }
        if (count > 0) {
          removed.push({ user: user.address, mailbox: mb.name, days, expunged: count });
          logger.info({ user: user.address, mailbox: mb.name, days, expunged: count }, "retention: expunged messages older than the mailbox's limit");
        }
      }
    }
    // Records with their own limits. The audit log loses only whole entries, and the deletion is
    // itself an audit entry (SqliteAudit.expireBefore).
    const records: RetentionRecords = { auditEntries: 0, complaintRows: 0 };
    if (!this.#stopped && config.auditDays > 0) {
      records.auditEntries = await store.audit.expireBefore(now - config.auditDays * DAY_MS, "retention");
      if (records.auditEntries > 0) logger.info({ days: config.auditDays, deleted: records.auditEntries }, "retention: audit-log entries past their limit deleted");
    }
    if (!this.#stopped && config.complaintsDays > 0 && this.#d.suppression) {
      records.complaintRows = await this.#d.suppression.pruneBefore(now - config.complaintsDays * DAY_MS);
      if (records.complaintRows > 0) logger.info({ days: config.complaintsDays, deleted: records.complaintRows }, "retention: complaint records past their limit deleted");
    }
    this.lastRecords = records;
    return removed;
  }

  /** Runs a pass now and then every intervalMinutes, until stop(). A failed pass is logged and retried next time. */
  start(): void {
    const tick = () => {
      this.runOnce()
        .catch((err) => this.#d.logger.error({ err }, "retention pass failed"))
        .finally(() => {
          if (!this.#stopped) this.#timer = setTimeout(tick, this.#d.config.intervalMinutes * 60_000).unref();
        });
    };
    this.#timer = setTimeout(tick, 0).unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running?.catch(() => undefined);
  }
}
