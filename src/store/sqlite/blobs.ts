// Blob rows and the group-commit transaction. A blob row exists only once its file is durable
// under its final name (the DeliveryWriter renames and fsyncs the directory before calling
// commitBatch), and refcount counts the message and queue rows that reference it.
import type { BatchDelivery, BatchOutcome, BlobRecord, BlobRepo, DeliveredMessage, DeliveryResult, Id } from "../types.ts";
import { StoreError } from "../errors.ts";
import type { SqliteDb } from "./db.ts";
import type { RepoContext } from "./context.ts";

interface BlobRow {
  id: number;
  sha256: string;
  size: number;
  refcount: number;
  location: string;
  created_at: number;
}
const toBlob = (r: BlobRow): BlobRecord => ({
  id: r.id,
  sha256: r.sha256,
  size: r.size,
  refcount: r.refcount,
  location: r.location,
  createdAt: r.created_at,
});

export class SqliteBlobs implements BlobRepo {
  #c: RepoContext;
  constructor(c: RepoContext) {
    this.#c = c;
  }

  get(id: Id): Promise<BlobRecord | null> {
    return this.#c.call(() => {
      const r = this.#c.db.get<BlobRow>("SELECT * FROM blobs WHERE id = ?", id);
      return r ? toBlob(r) : null;
    });
  }

  locate(id: Id): Promise<BlobRecord | null> {
    return this.#c.db.callCommitted(() => {
      const r = this.#c.db.get<BlobRow>("SELECT * FROM blobs WHERE id = ?", id);
      return r ? toBlob(r) : null;
    });
  }

  list(afterId: Id, limit: number): Promise<BlobRecord[]> {
    return this.#c.call(() => this.#c.db.all<BlobRow>("SELECT * FROM blobs WHERE id > ? ORDER BY id LIMIT ?", afterId, limit).map(toBlob));
  }

  getBySha(sha256: string): Promise<BlobRecord | null> {
    return this.#c.call(() => {
      const r = this.#c.db.get<BlobRow>("SELECT * FROM blobs WHERE sha256 = ?", sha256);
      return r ? toBlob(r) : null;
    });
  }

  listUnreferenced(limit: number): Promise<BlobRecord[]> {
    return this.#c.call(() => this.#c.db.all<BlobRow>("SELECT * FROM blobs WHERE refcount = 0 ORDER BY id LIMIT ?", limit).map(toBlob));
  }

  deleteUnreferenced(ids: Id[]): Promise<BlobRecord[]> {
    return this.#c.call(() =>
      this.#c.db.atomic(() => {
        const db = this.#c.db;
        const rows = db.all<BlobRow>("SELECT * FROM blobs WHERE refcount = 0 AND id IN (SELECT value FROM json_each(?))", JSON.stringify(ids));
        for (const r of rows) db.run("DELETE FROM blobs WHERE id = ? AND refcount = 0", r.id);
        return rows.map(toBlob);
      }),
    );
  }

  commitBatch(items: BatchDelivery[]): Promise<BatchOutcome[]> {
    return this.#c.call(() => {
      const db = this.#c.db;
      const now = this.#c.clock.now();
      return db.atomic(() =>
        items.map((item): BatchOutcome => {
          try {
            // A savepoint per request: one failure rolls back alone, the batch still commits.
            return { ok: true, result: db.atomic(() => deliverOne(db, item, now)) };
          } catch (e) {
            return { ok: false, error: e instanceof Error ? e : new Error(String(e)) };
          }
        }),
      );
    });
  }
}

function deliverOne(db: SqliteDb, item: BatchDelivery, now: number): DeliveryResult {
  const { req } = item;
  const refs = req.targets.length + req.queue.length;
  let blobId: number;
  const existing = "existingId" in item.blob ? item.blob.existingId : db.get<{ id: number }>("SELECT id FROM blobs WHERE sha256 = ?", req.blob.sha256)?.id;
  if (existing !== undefined) {
    // Dedup: the same content is stored once; each referencing row adds one.
    if (db.run("UPDATE blobs SET refcount = refcount + ? WHERE id = ?", refs, existing).changes === 0) {
      throw new StoreError("not-found", `blob ${existing} vanished`);
    }
    blobId = existing;
  } else {
    const location = (item.blob as { location: string }).location;
    blobId = db.run(
      "INSERT INTO blobs (sha256, size, refcount, location, created_at) VALUES (?, ?, ?, ?, ?)",
      req.blob.sha256, req.blob.size, refs, location, now,
    ).lastInsertRowid;
  }

  const delivered: DeliveredMessage[] = [];
  for (const t of req.targets) {
    const mb = db.get<{ user_id: number; uid_next: number; highest_modseq: number }>(
      "SELECT user_id, uid_next, highest_modseq FROM mailboxes WHERE id = ?",
      t.mailboxId,
    );
    if (!mb) throw new StoreError("not-found", `no mailbox ${t.mailboxId}`);
    // RFC 9051 §2.3.1.1: the UID comes from the persisted UIDNEXT, never from max(uid)+1.
    const uid = mb.uid_next;
    const modseq = mb.highest_modseq + 1;
    db.run("UPDATE mailboxes SET uid_next = ?, highest_modseq = ? WHERE id = ?", uid + 1, modseq, t.mailboxId);
    const size = Buffer.byteLength(t.traceHeaders, "utf8") + req.blob.size;
    if (t.quotaBytes != null) {
      const used = db.get<{ usage_bytes: number }>("SELECT usage_bytes FROM users WHERE id = ?", mb.user_id)?.usage_bytes ?? 0;
      if (used + size > t.quotaBytes) throw new StoreError("over-quota", `user ${mb.user_id} over quota (${used} + ${size} > ${t.quotaBytes})`);
    }
    const messageId = db.run(
      `INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, size, blob_id, trace_headers, saved_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      t.mailboxId, uid, modseq, JSON.stringify(t.flags ?? []), t.internalDate ?? now, size, blobId, t.traceHeaders, now,
    ).lastInsertRowid;
    db.run("UPDATE users SET usage_bytes = usage_bytes + ?, usage_messages = usage_messages + 1 WHERE id = ?", size, mb.user_id);
    delivered.push({ mailboxId: t.mailboxId, uid, modseq, messageId });
  }

  const queueIds: Id[] = [];
  for (const q of req.queue) {
    const qid = db.run(
      `INSERT INTO queue_messages (blob_id, mail_from, ret, envid, trace_headers, origin, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
      blobId, q.mailFrom, q.ret ?? null, q.envid ?? null, q.traceHeaders, q.origin, now,
    ).lastInsertRowid;
    for (const r of q.recipients) {
      db.run(
        `INSERT INTO queue_recipients (queue_id, recipient, orcpt, notify, state, attempts, next_attempt_at, last_reply, updated_at)
         VALUES (?, ?, ?, ?, 'pending', 0, ?, NULL, ?)`,
        qid, r.recipient, r.orcpt ?? null, r.notify ? JSON.stringify(r.notify) : null, now, now,
      );
    }
    queueIds.push(qid);
  }
  return { blobId, delivered, queueIds };
}
