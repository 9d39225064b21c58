// The outbound queue's rows. Entries are inserted by the DeliveryWriter in the same transaction
// as the blob they reference (one blob reference per entry); the queue runner (src/queue/
// runner.ts) reads due work here and records each outcome in one transaction.
//
// Blob references: an entry holds exactly one reference on its blob. It is dropped in the same
// transaction that deletes the entry — by `remove` (operator) or by `recordOutcome` once no
// recipient is pending — so the collector can reclaim the blob and a crash never leaks one.
import type {
  Id,
  QueueAttempt,
  QueueAttemptInsert,
  QueuePageQuery,
  QueueRecipientRecord,
  QueueRecipientUpdate,
  QueueRecord,
  QueueRepo,
} from "../types.ts";
import type { RepoContext } from "./context.ts";

interface QueueRow {
  id: number;
  blob_id: number;
  mail_from: string;
  ret: "FULL" | "HDRS" | null;
  envid: string | null;
  trace_headers: string;
  origin: string;
  created_at: number;
}
interface RecipientRow {
  id: number;
  queue_id: number;
  recipient: string;
  orcpt: string | null;
  notify: string | null;
  state: QueueRecipientRecord["state"];
  attempts: number;
  next_attempt_at: number;
  last_reply: string | null;
  updated_at: number;
  delay_warned: number;
  in_flight_at: number | null;
  status: string | null;
  remote_mta: string | null;
  route: string | null;
}
interface AttemptRow {
  id: number;
  queue_id: number;
  recipient_id: number | null;
  at: number;
  route: string;
  host: string | null;
  outcome: string;
  reply: string | null;
}

const toRecipient = (r: RecipientRow): QueueRecipientRecord => ({
  id: r.id,
  queueId: r.queue_id,
  recipient: r.recipient,
  orcpt: r.orcpt,
  notify: r.notify === null ? null : (JSON.parse(r.notify) as string[]),
  state: r.state,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  lastReply: r.last_reply,
  updatedAt: r.updated_at,
  delayWarned: r.delay_warned === 1,
  inFlightAt: r.in_flight_at,
  status: r.status,
  remoteMta: r.remote_mta,
  route: r.route,
});

export class SqliteQueue implements QueueRepo {
  #c: RepoContext;
  constructor(c: RepoContext) {
    this.#c = c;
  }

  #record(q: QueueRow): QueueRecord {
    const recipients = this.#c.db.all<RecipientRow>("SELECT * FROM queue_recipients WHERE queue_id = ? ORDER BY id", q.id).map(toRecipient);
    return {
      id: q.id,
      blobId: q.blob_id,
      mailFrom: q.mail_from,
      ret: q.ret,
      envid: q.envid,
      traceHeaders: q.trace_headers,
      origin: q.origin,
      createdAt: q.created_at,
      recipients,
    };
  }

  list(): Promise<QueueRecord[]> {
    return this.#c.call(() => this.#c.db.all<QueueRow>("SELECT * FROM queue_messages ORDER BY id").map((q) => this.#record(q)));
  }

  page(q: QueuePageQuery): Promise<QueueRecord[]> {
    const [sql, params] = queuePageSql(q);
    return this.#c.call(() => this.#c.db.all<QueueRow>(sql, ...params).map((r) => this.#record(r)));
  }

  get(id: Id): Promise<QueueRecord | null> {
    return this.#c.call(() => {
      const q = this.#c.db.get<QueueRow>("SELECT * FROM queue_messages WHERE id = ?", id);
      return q ? this.#record(q) : null;
    });
  }

  #removeNow(id: Id): boolean {
    const db = this.#c.db;
    const q = db.get<{ blob_id: number }>("SELECT blob_id FROM queue_messages WHERE id = ?", id);
    if (!q) return false;
    db.run("DELETE FROM queue_messages WHERE id = ?", id); // recipients and attempts cascade
    db.run("UPDATE blobs SET refcount = refcount - 1 WHERE id = ?", q.blob_id);
    return true;
  }

  remove(id: Id): Promise<boolean> {
    return this.#c.call(() => this.#c.db.atomic(() => this.#removeNow(id)));
  }

  due(now: number, limit: number): Promise<QueueRecord[]> {
    return this.#c.call(() =>
      this.#c.db
        .all<QueueRow>(
          `SELECT * FROM queue_messages WHERE id IN (
             SELECT DISTINCT queue_id FROM queue_recipients WHERE state = 'pending' AND next_attempt_at <= ?)
           ORDER BY id LIMIT ?`,
          now,
          limit,
        )
        .map((q) => this.#record(q)),
    );
  }

  nextDue(): Promise<number | null> {
    return this.#c.call(
      () => this.#c.db.get<{ t: number | null }>("SELECT min(next_attempt_at) AS t FROM queue_recipients WHERE state = 'pending'")?.t ?? null,
    );
  }

  markInFlight(recipientIds: Id[], at: number): Promise<void> {
    return this.#c.call(() => {
      this.#c.db.run("UPDATE queue_recipients SET in_flight_at = ? WHERE id IN (SELECT value FROM json_each(?))", at, JSON.stringify(recipientIds));
    });
  }

  listInFlight(): Promise<QueueRecipientRecord[]> {
    return this.#c.call(() => this.#c.db.all<RecipientRow>("SELECT * FROM queue_recipients WHERE in_flight_at IS NOT NULL ORDER BY id").map(toRecipient));
  }

  recordOutcome(queueId: Id, updates: QueueRecipientUpdate[], attempts: QueueAttemptInsert[]): Promise<{ finished: boolean }> {
    return this.#c.call(() =>
      this.#c.db.atomic(() => {
        const db = this.#c.db;
        const now = this.#c.clock.now();
        for (const a of attempts) {
          db.run(
            "INSERT INTO queue_attempts (queue_id, recipient_id, at, route, host, outcome, reply) VALUES (?, ?, ?, ?, ?, ?, ?)",
            queueId, a.recipientId, now, a.route, a.host ?? null, a.outcome, a.reply ?? null,
          );
        }
        for (const u of updates) {
          db.run(
            `UPDATE queue_recipients SET state = ?, attempts = ?, next_attempt_at = ?, last_reply = ?, status = ?, remote_mta = ?,
               route = ?, delay_warned = ?, in_flight_at = NULL, updated_at = ? WHERE id = ? AND queue_id = ?`,
            u.state, u.attempts, u.nextAttemptAt, u.lastReply, u.status, u.remoteMta, u.route, u.delayWarned ? 1 : 0, now, u.id, queueId,
          );
        }
        const pending = db.get<{ n: number }>("SELECT count(*) AS n FROM queue_recipients WHERE queue_id = ? AND state = 'pending'", queueId)?.n ?? 0;
        if (pending > 0) return { finished: false };
        this.#removeNow(queueId);
        return { finished: true };
      }),
    );
  }

  attempts(queueId: Id): Promise<QueueAttempt[]> {
    return this.#c.call(() =>
      this.#c.db.all<AttemptRow>("SELECT * FROM queue_attempts WHERE queue_id = ? ORDER BY id", queueId).map((a) => ({
        id: a.id,
        queueId: a.queue_id,
        recipientId: a.recipient_id,
        at: a.at,
        route: a.route,
        host: a.host,
        outcome: a.outcome,
        reply: a.reply,
      })),
    );
  }

  retryNow(id: Id | null, now: number): Promise<number> {
    return this.#c.call(() => {
      const db = this.#c.db;
      return id === null
        ? db.run("UPDATE queue_recipients SET next_attempt_at = ? WHERE state = 'pending'", now).changes
        : db.run("UPDATE queue_recipients SET next_attempt_at = ? WHERE state = 'pending' AND queue_id = ?", now, id).changes;
    });
  }
}

/**
 * The queue page query (exported so a test can EXPLAIN it): entries walk the primary key from
 * the cursor; a state filter probes each entry's recipients through
 * queue_recipients_queue, so a page reads about `limit` entries, never the whole queue.
 */
export function queuePageSql(q: QueuePageQuery): [string, Array<string | number>] {
  const where: string[] = [];
  const params: Array<string | number> = [];
  if (q.afterId !== undefined) {
    where.push("m.id > ?");
    params.push(q.afterId);
  }
  const rcpt: string[] = [];
  if (q.state !== undefined) {
    rcpt.push("r.state = ?");
    params.push(q.state);
  }
  if (q.senderDomain !== undefined) {
    where.push("lower(substr(m.mail_from, length(m.mail_from) - ? + 1)) = ?");
    params.push(q.senderDomain.length + 1, "@" + q.senderDomain);
  }
  if (rcpt.length > 0) where.push(`EXISTS (SELECT 1 FROM queue_recipients r WHERE r.queue_id = m.id AND ${rcpt.join(" AND ")})`);
  params.push(q.limit);
  return [`SELECT m.* FROM queue_messages m ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY m.id LIMIT ?`, params];
}
