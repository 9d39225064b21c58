// Mailboxes and messages. The UID and MODSEQ invariants (types.ts header) are kept here:
// uid_next and highest_modseq live in the mailbox row and are only ever raised, in the same
// transaction as the change they describe.
import type { CopyResult, ExpungeResult, FlagChange, FlagMode, Id, MailboxRecord, MailRepo, MessageRecord, UserUsage } from "../types.ts";
import { StoreError } from "../errors.ts";
import { bool } from "./db.ts";
import type { SqliteDb } from "./db.ts";
import type { RepoContext } from "./context.ts";

interface MailboxRow {
  id: number;
  user_id: number;
  name: string;
  special_use: string | null;
  uid_validity: number;
  uid_next: number;
  highest_modseq: number;
  subscribed: number;
  created_at: number;
}
interface MessageRow {
  id: number;
  mailbox_id: number;
  uid: number;
  modseq: number;
  flags: string;
  internal_date: number;
  size: number;
  blob_id: number;
  trace_headers: string;
}

const toMailbox = (r: MailboxRow): MailboxRecord => ({
  id: r.id,
  userId: r.user_id,
  name: r.name,
  specialUse: r.special_use,
  uidValidity: r.uid_validity,
  uidNext: r.uid_next,
  highestModseq: r.highest_modseq,
  subscribed: bool(r.subscribed),
  createdAt: r.created_at,
});
export const toMessage = (r: MessageRow): MessageRecord => ({
  id: r.id,
  mailboxId: r.mailbox_id,
  uid: r.uid,
  modseq: r.modseq,
  flags: JSON.parse(r.flags) as string[],
  internalDate: r.internal_date,
  size: r.size,
  blobId: r.blob_id,
  traceHeaders: r.trace_headers,
});

/** RFC 9051 §5.1: INBOX is case-insensitive; other names are kept as given, NFC-normalised. */
export function normaliseMailboxName(name: string): string {
  const n = name.normalize("NFC");
  if (n.toUpperCase() === "INBOX") return "INBOX";
  if (n.toUpperCase().startsWith("INBOX/")) return "INBOX" + n.slice(5);
  return n;
}

/**
 * RFC 9051 §2.3.1.1: a new UIDVALIDITY must differ from every earlier one for the same name.
 * One counter for the whole store, seeded by the clock in seconds (as Dovecot does) so a
 * rebuilt database still hands out values a client has not seen.
 */
export function nextUidValidity(db: SqliteDb, now: number): number {
  const last = db.get<{ value: number }>("SELECT value FROM counters WHERE name = 'uidvalidity'")?.value ?? 0;
  let next = Math.max(last + 1, Math.floor(now / 1000));
  if (next > 0xffffffff) next = last + 1; // nz-number is 32-bit; far future only
  db.run("INSERT INTO counters (name, value) VALUES ('uidvalidity', ?1) ON CONFLICT (name) DO UPDATE SET value = ?1", next);
  return next;
}

/** Drops one reference from each message's blob and subtracts the messages from the owner's usage. */
export function releaseMessages(db: SqliteDb, userId: Id, rows: { blob_id: number; size: number }[]): void {
  let bytes = 0;
  for (const r of rows) {
    db.run("UPDATE blobs SET refcount = refcount - 1 WHERE id = ?", r.blob_id);
    bytes += r.size;
  }
  if (rows.length > 0) {
    db.run("UPDATE users SET usage_bytes = usage_bytes - ?, usage_messages = usage_messages - ? WHERE id = ?", bytes, rows.length, userId);
  }
}

const MSG_COLS = "id, mailbox_id, uid, modseq, flags, internal_date, size, blob_id, trace_headers";

export class SqliteMail implements MailRepo {
  #c: RepoContext;
  constructor(c: RepoContext) {
    this.#c = c;
  }

  createMailbox(userId: Id, name: string, specialUse: string | null = null): Promise<MailboxRecord> {
    return this.#c.call(() =>
      this.#c.db.atomic(() => {
        const db = this.#c.db;
        const n = normaliseMailboxName(name);
        if (n === "") throw new StoreError("invalid", "empty mailbox name");
        if (!db.get("SELECT 1 FROM users WHERE id = ?", userId)) throw new StoreError("not-found", `no user ${userId}`);
        if (db.get("SELECT 1 FROM mailboxes WHERE user_id = ? AND name = ?", userId, n)) {
          throw new StoreError("exists", `mailbox ${n} exists`);
        }
        const now = this.#c.clock.now();
        const uidValidity = nextUidValidity(db, now);
        const { lastInsertRowid } = db.run(
          `INSERT INTO mailboxes (user_id, name, special_use, uid_validity, uid_next, highest_modseq, subscribed, created_at)
           VALUES (?, ?, ?, ?, 1, 1, 1, ?)`,
          userId, n, specialUse, uidValidity, now,
        );
        return toMailbox(db.get<MailboxRow>("SELECT * FROM mailboxes WHERE id = ?", lastInsertRowid)!);
      }),
    );
  }

  listMailboxes(userId: Id): Promise<MailboxRecord[]> {
    return this.#c.call(() => this.#c.db.all<MailboxRow>("SELECT * FROM mailboxes WHERE user_id = ? ORDER BY name", userId).map(toMailbox));
  }

  getMailbox(userId: Id, name: string): Promise<MailboxRecord | null> {
    return this.#c.call(() => {
      const r = this.#c.db.get<MailboxRow>("SELECT * FROM mailboxes WHERE user_id = ? AND name = ?", userId, normaliseMailboxName(name));
      return r ? toMailbox(r) : null;
    });
  }

  getMailboxById(id: Id): Promise<MailboxRecord | null> {
    return this.#c.call(() => {
      const r = this.#c.db.get<MailboxRow>("SELECT * FROM mailboxes WHERE id = ?", id);
      return r ? toMailbox(r) : null;
    });
  }

  renameMailbox(userId: Id, oldName: string, newName: string): Promise<void> {
    return this.#c.call(() =>
      this.#c.db.atomic(() => {
        const db = this.#c.db;
        const from = normaliseMailboxName(oldName);
        const to = normaliseMailboxName(newName);
        // RFC 9051 §6.3.6: renaming INBOX moves its messages to a new mailbox; that is a
        // message operation the IMAP layer composes (create + move), not a rename.
        if (from === "INBOX" || to === "INBOX") throw new StoreError("invalid", "INBOX cannot be renamed here");
        if (to === "") throw new StoreError("invalid", "empty mailbox name");
        if (to.startsWith(from + "/")) throw new StoreError("invalid", `cannot move ${from} under itself`);
        const rows = db.all<{ id: number; name: string }>(
          "SELECT id, name FROM mailboxes WHERE user_id = ?1 AND (name = ?2 OR substr(name, 1, length(?2) + 1) = ?2 || '/')",
          userId, from,
        );
        if (!rows.some((r) => r.name === from)) throw new StoreError("not-found", `no mailbox ${from}`);
        const moves = rows.map((r) => ({ id: r.id, name: to + r.name.slice(from.length) }));
        for (const m of moves) {
          if (db.get("SELECT 1 FROM mailboxes WHERE user_id = ? AND name = ?", userId, m.name)) {
            throw new StoreError("exists", `mailbox ${m.name} exists`);
          }
        }
        for (const m of moves) db.run("UPDATE mailboxes SET name = ? WHERE id = ?", m.name, m.id);
      }),
    );
  }

  setSubscribed(mailboxId: Id, subscribed: boolean): Promise<void> {
    return this.#c.call(() => {
      if (this.#c.db.run("UPDATE mailboxes SET subscribed = ? WHERE id = ?", subscribed ? 1 : 0, mailboxId).changes === 0) {
        throw new StoreError("not-found", `no mailbox ${mailboxId}`);
      }
    });
  }

  setSpecialUse(mailboxId: Id, specialUse: string | null): Promise<void> {
    return this.#c.call(() => {
      if (this.#c.db.run("UPDATE mailboxes SET special_use = ? WHERE id = ?", specialUse, mailboxId).changes === 0) {
        throw new StoreError("not-found", `no mailbox ${mailboxId}`);
      }
    });
  }

  deleteMailbox(userId: Id, name: string): Promise<boolean> {
    return this.#c.call(() =>
      this.#c.db.atomic(() => {
        const db = this.#c.db;
        const mb = db.get<{ id: number }>("SELECT id FROM mailboxes WHERE user_id = ? AND name = ?", userId, normaliseMailboxName(name));
        if (!mb) return false;
        releaseMessages(db, userId, db.all<{ blob_id: number; size: number }>("SELECT blob_id, size FROM messages WHERE mailbox_id = ?", mb.id));
        db.run("DELETE FROM mailboxes WHERE id = ?", mb.id); // messages and tombstones cascade
        return true;
      }),
    );
  }

  listMessages(mailboxId: Id, sinceUid = 0): Promise<MessageRecord[]> {
    return this.#c.call(() =>
      this.#c.db.all<MessageRow>(`SELECT ${MSG_COLS} FROM messages WHERE mailbox_id = ? AND uid > ? ORDER BY uid`, mailboxId, sinceUid).map(toMessage),
    );
  }

  getMessage(mailboxId: Id, uid: number): Promise<MessageRecord | null> {
    return this.#c.call(() => {
      const r = this.#c.db.get<MessageRow>(`SELECT ${MSG_COLS} FROM messages WHERE mailbox_id = ? AND uid = ?`, mailboxId, uid);
      return r ? toMessage(r) : null;
    });
  }

  getMessages(mailboxId: Id, uids: readonly number[]): Promise<MessageRecord[]> {
    if (uids.length === 0) return Promise.resolve([]);
    return this.#c.call(() =>
      this.#c.db
        .all<MessageRow>(`SELECT ${MSG_COLS} FROM messages WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid`, mailboxId, JSON.stringify(uids))
        .map(toMessage),
    );
  }

  listChangedSince(mailboxId: Id, sinceModseq: number): Promise<MessageRecord[]> {
    return this.#c.call(() =>
      this.#c.db.all<MessageRow>(`SELECT ${MSG_COLS} FROM messages WHERE mailbox_id = ? AND modseq > ? ORDER BY uid`, mailboxId, sinceModseq).map(toMessage),
    );
  }

  #mailboxRow(mailboxId: Id): MailboxRow {
    const mb = this.#c.db.get<MailboxRow>("SELECT * FROM mailboxes WHERE id = ?", mailboxId);
    if (!mb) throw new StoreError("not-found", `no mailbox ${mailboxId}`);
    return mb;
  }

  setFlags(mailboxId: Id, uids: number[], flags: string[], mode: FlagMode): Promise<FlagChange[]> {
    return this.#c.call(() =>
      this.#c.db.atomic(() => {
        const db = this.#c.db;
        const mb = this.#mailboxRow(mailboxId);
        const rows = db.all<{ id: number; uid: number; flags: string }>(
          "SELECT id, uid, flags FROM messages WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid",
          mailboxId, JSON.stringify(uids),
        );
        const changed: { id: number; uid: number; flags: string[] }[] = [];
        for (const r of rows) {
          const old = JSON.parse(r.flags) as string[];
          const next = applyFlags(old, flags, mode);
          if (!sameSet(old, next)) changed.push({ id: r.id, uid: r.uid, flags: next });
        }
        if (changed.length === 0) return [];
        // RFC 7162 §3.1: one new mod-sequence for the operation, above every earlier one.
        const modseq = mb.highest_modseq + 1;
        db.run("UPDATE mailboxes SET highest_modseq = ? WHERE id = ?", modseq, mailboxId);
        for (const m of changed) db.run("UPDATE messages SET flags = ?, modseq = ? WHERE id = ?", JSON.stringify(m.flags), modseq, m.id);
        return changed.map((m) => ({ uid: m.uid, modseq, flags: m.flags }));
      }),
    );
  }

  copyMessages(fromMailboxId: Id, uids: number[], toMailboxId: Id): Promise<CopyResult> {
    return this.#c.call(() => this.#c.db.atomic(() => this.#copy(fromMailboxId, uids, toMailboxId)));
  }

  moveMessages(fromMailboxId: Id, uids: number[], toMailboxId: Id): Promise<CopyResult & { expunged: ExpungeResult }> {
    return this.#c.call(() =>
      this.#c.db.atomic(() => {
        const copied = this.#copy(fromMailboxId, uids, toMailboxId);
        return { ...copied, expunged: this.#expunge(fromMailboxId, copied.pairs.map(([src]) => src)) };
      }),
    );
  }

  #copy(fromMailboxId: Id, uids: number[], toMailboxId: Id): CopyResult {
    const db = this.#c.db;
    // The copy is saved now: retention counts its age in the target from here.
    const now = this.#c.clock.now();
    this.#mailboxRow(fromMailboxId);
    const to = this.#mailboxRow(toMailboxId);
    const rows = db.all<MessageRow>(
      `SELECT ${MSG_COLS} FROM messages WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid`,
      fromMailboxId, JSON.stringify(uids),
    );
    if (rows.length === 0) return { uidValidity: to.uid_validity, pairs: [], modseq: to.highest_modseq };
    const modseq = to.highest_modseq + 1;
    let uid = to.uid_next;
    const pairs: Array<[number, number]> = [];
    let bytes = 0;
    for (const r of rows) {
      db.run(
        `INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, size, blob_id, trace_headers, saved_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        toMailboxId, uid, modseq, r.flags, r.internal_date, r.size, r.blob_id, r.trace_headers, now,
      );
      db.run("UPDATE blobs SET refcount = refcount + 1 WHERE id = ?", r.blob_id);
      pairs.push([r.uid, uid++]);
      bytes += r.size;
    }
    db.run("UPDATE mailboxes SET uid_next = ?, highest_modseq = ? WHERE id = ?", uid, modseq, toMailboxId);
    db.run("UPDATE users SET usage_bytes = usage_bytes + ?, usage_messages = usage_messages + ? WHERE id = ?", bytes, rows.length, to.user_id);
    return { uidValidity: to.uid_validity, pairs, modseq };
  }

  expunge(mailboxId: Id, uids: number[]): Promise<ExpungeResult> {
    return this.#c.call(() => this.#c.db.atomic(() => this.#expunge(mailboxId, uids)));
  }

  #expunge(mailboxId: Id, uids: number[]): ExpungeResult {
    const db = this.#c.db;
    const mb = this.#mailboxRow(mailboxId);
    const rows = db.all<{ id: number; uid: number; blob_id: number; size: number }>(
      "SELECT id, uid, blob_id, size FROM messages WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid",
      mailboxId, JSON.stringify(uids),
    );
    if (rows.length === 0) return { uids: [], modseq: mb.highest_modseq };
    const modseq = mb.highest_modseq + 1;
    db.run("UPDATE mailboxes SET highest_modseq = ? WHERE id = ?", modseq, mailboxId);
    for (const r of rows) {
      db.run("DELETE FROM messages WHERE id = ?", r.id);
      // RFC 7162 §3.2.5.1: remember the expunge for VANISHED (EARLIER).
      db.run("INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)", mailboxId, r.uid, modseq);
    }
    releaseMessages(db, mb.user_id, rows);
    return { uids: rows.map((r) => r.uid), modseq };
  }

  listSavedBefore(mailboxId: Id, before: number, limit: number): Promise<number[]> {
    return this.#c.call(() =>
      this.#c.db
        .all<{ uid: number }>("SELECT uid FROM messages WHERE mailbox_id = ? AND saved_at < ? ORDER BY uid LIMIT ?", mailboxId, before, limit)
        .map((r) => r.uid),
    );
  }

  listExpunged(mailboxId: Id, sinceModseq: number): Promise<number[]> {
    return this.#c.call(() =>
      this.#c.db.all<{ uid: number }>("SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid", mailboxId, sinceModseq).map((r) => r.uid),
    );
  }

  userUsage(userId: Id): Promise<UserUsage> {
    return this.#c.call(() => {
      const r = this.#c.db.get<{ usage_bytes: number; usage_messages: number }>("SELECT usage_bytes, usage_messages FROM users WHERE id = ?", userId);
      if (!r) throw new StoreError("not-found", `no user ${userId}`);
      return { bytes: r.usage_bytes, messages: r.usage_messages };
    });
  }
}

function applyFlags(old: string[], flags: string[], mode: FlagMode): string[] {
  const uniq = (xs: string[]) => [...new Set(xs)];
  if (mode === "replace") return uniq(flags);
  if (mode === "add") return uniq([...old, ...flags]);
  const drop = new Set(flags);
  return old.filter((f) => !drop.has(f));
}

function sameSet(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}
