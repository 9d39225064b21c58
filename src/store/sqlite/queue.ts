// The outbound queue's rows (minimal here: the sending work extends this repo). Rows are
// inserted by the DeliveryWriter in the same transaction as the blob they reference.
import type { Id, QueueRecipientRecord, QueueRecord, QueueRepo } from "../types.ts";
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

  get(id: Id): Promise<QueueRecord | null> {
    return this.#c.call(() => {
      const q = this.#c.db.get<QueueRow>("SELECT * FROM queue_messages WHERE id = ?", id);
      return q ? this.#record(q) : null;
    });
  }

  remove(id: Id): Promise<boolean> {
    return this.#c.call(() =>
      this.#c.db.atomic(() => {
        const db = this.#c.db;
        const q = db.get<{ blob_id: number }>("SELECT blob_id FROM queue_messages WHERE id = ?", id);
        if (!q) return false;
        db.run("DELETE FROM queue_messages WHERE id = ?", id); // recipients cascade
        db.run("UPDATE blobs SET refcount = refcount - 1 WHERE id = ?", q.blob_id);
        return true;
      }),
    );
  }
}
