// A server-wide, in-memory index of recently used mailboxes: per message the columns a
// MailboxView holds (UID, MODSEQ, internal date, size, flag set), plus the STATUS counters, as of
// one HIGHESTMODSEQ. It plays the part of Dovecot's index files: SELECT takes the columns
// (shared, copy-on-write) instead of reading and decoding every row, and STATUS reads the
// counters.
//
// Freshness: every append, flag change and expunge raises the mailbox's HIGHESTMODSEQ in the
// same transaction (RFC 7162 §3.1, the store's contract), so an entry is current exactly while
// the mailbox row shows its MODSEQ; otherwise it catches up with the rows changed since
// (listChangedSince) and the tombstones of expunges since (listExpunged), read in one
// transaction with the mailbox row, so the result matches the MODSEQ it is stamped with. Only
// a new mailbox (or one evicted) costs a full read.
//
// Memory: about 32 octets per message; the total is bounded (maxMessages), least recently used
// mailboxes are dropped first. SELECT's views share the columns until either side changes them,
// so many sessions idling on one large mailbox hold one copy (issue 3 measures PSS per IDLE
// connection).
import type { Id, MailboxRecord, MessageRecord, MetadataStore } from "../store/types.ts";

export interface MailboxCounts {
  messages: number;
  unseen: number;
  deleted: number;
  size: number;
}

const SEEN = 1;
const DELETED = 2;

function flagBits(flags: readonly string[]): number {
  let b = 0;
  for (const f of flags) {
    const l = f.toLowerCase();
    if (l === "\\seen") b |= SEEN;
    else if (l === "\\deleted") b |= DELETED;
  }
  return b;
}

/** Read-only columns of a mailbox's messages, ascending by UID, valid for [0, n). */
export interface MailboxColumns {
  readonly n: number;
  readonly uid: Uint32Array<ArrayBuffer>;
  readonly mod: Float64Array<ArrayBuffer>;
  readonly date: Float64Array<ArrayBuffer>;
  readonly size: Float64Array<ArrayBuffer>;
  /** Index into flagTable. */
  readonly flags: Uint32Array<ArrayBuffer>;
  readonly flagTable: readonly (readonly string[])[];
}

class Entry implements MailboxColumns {
  mb: MailboxRecord;
  n = 0;
  uid = new Uint32Array(0);
  mod = new Float64Array(0);
  date = new Float64Array(0);
  size = new Float64Array(0);
  flags = new Uint32Array(0);
  flagTable: string[][] = [];
  #flagIndex = new Map<string, number>();
  #bits: number[] = [];
  counts: MailboxCounts = { messages: 0, unseen: 0, deleted: 0, size: 0 };
  /** The columns [0, n) are shared with views (lend()): copy before changing them. */
  #lent = false;

  constructor(mb: MailboxRecord, rows: MessageRecord[]) {
    this.mb = mb;
    this.#grow(rows.length);
    for (const r of rows) this.#push(r);
  }

  intern(flags: string[]): number {
    const key = flags.join("\0");
    let i = this.#flagIndex.get(key);
    if (i === undefined) {
      i = this.flagTable.length;
      this.flagTable.push(flags);
      this.#bits.push(flagBits(flags));
      this.#flagIndex.set(key, i);
    }
    return i;
  }

  #grow(min: number): void {
    if (min <= this.uid.length) return;
    const cap = Math.max(min, Math.ceil(this.uid.length * 1.25), 16);
    const g = <T extends Uint32Array | Float64Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a.subarray(0, this.n) as never);
      return b;
    };
    this.uid = g(this.uid, (k) => new Uint32Array(k));
    this.mod = g(this.mod, (k) => new Float64Array(k));
    this.date = g(this.date, (k) => new Float64Array(k));
    this.size = g(this.size, (k) => new Float64Array(k));
    this.flags = g(this.flags, (k) => new Uint32Array(k));
  }

  #count(i: number, sign: 1 | -1): void {
    const b = this.#bits[this.flags[i]];
    this.counts.messages += sign;
    this.counts.size += sign * this.size[i];
    if (!(b & SEEN)) this.counts.unseen += sign;
    if (b & DELETED) this.counts.deleted += sign;
  }

  #push(r: MessageRecord): void {
    this.#grow(this.n + 1);
    const i = this.n++;
    this.uid[i] = r.uid;
    this.mod[i] = r.modseq;
    this.date[i] = r.internalDate;
    this.size[i] = r.size;
    this.flags[i] = this.intern(r.flags);
    this.#count(i, 1);
  }

  pos(uid: number): number {
    let lo = 0;
    let hi = this.n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const u = this.uid[mid];
      if (u === uid) return mid;
      if (u < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** The columns as they are, shared until either side changes them (copy-on-write). */
  lend(): MailboxColumns {
    this.#lent = true;
    const n = this.n;
    return {
      n,
      uid: this.uid.subarray(0, n),
      mod: this.mod.subarray(0, n),
      date: this.date.subarray(0, n),
      size: this.size.subarray(0, n),
      flags: this.flags.subarray(0, n),
      flagTable: this.flagTable.slice(),
    };
  }

  /** Applies what changed since this entry's MODSEQ; false when the rows do not fit (reload). */
  apply(mb: MailboxRecord, changed: MessageRecord[], expunged: number[]): boolean {
    if (this.#lent && (changed.length || expunged.length)) {
      this.#lent = false;
      this.uid = this.uid.slice();
      this.mod = this.mod.slice();
      this.date = this.date.slice();
      this.size = this.size.slice();
      this.flags = this.flags.slice();
    }
    let removed = 0;
    const gone = new Uint8Array(expunged.length ? this.n : 0);
    for (const u of expunged) {
      const i = this.pos(u);
      if (i < 0 || gone[i]) continue; // added and expunged since: never in the entry
      gone[i] = 1;
      this.#count(i, -1);
      removed++;
    }
    if (removed) {
      let w = 0;
      for (let i = 0; i < this.n; i++) {
        if (gone[i]) continue;
        if (w !== i) {
          this.uid[w] = this.uid[i];
          this.mod[w] = this.mod[i];
          this.date[w] = this.date[i];
          this.size[w] = this.size[i];
          this.flags[w] = this.flags[i];
        }
        w++;
      }
      this.n = w;
    }
    for (const r of changed) {
      const i = this.pos(r.uid);
      if (i >= 0) {
        this.#count(i, -1);
        this.mod[i] = r.modseq;
        this.flags[i] = this.intern(r.flags);
        this.#count(i, 1);
      } else if (this.n === 0 || r.uid > this.uid[this.n - 1]) {
        this.#push(r);
      } else {
        return false;
      }
    }
    this.mb = mb;
    return true;
  }
}

/** A mailbox's columns (copy-on-write: shared until changed) for SELECT's MailboxView. */
export interface MailboxSnapshot {
  mb: MailboxRecord;
  columns: MailboxColumns;
  counts: MailboxCounts;
}

export class MailboxIndexCache {
  #entries = new Map<Id, Entry>();
  /** One catch-up at a time per mailbox: two interleaved would apply changes out of order. */
  #busy = new Map<Id, Promise<unknown>>();
  #maxMessages: number;
  #held = 0;
  hits = 0;
  misses = 0;

  constructor(maxMessages = 2_000_000) {
    this.#maxMessages = maxMessages;
  }

  /** The STATUS counters of a mailbox as it is now; null if it no longer exists. */
  async counts(store: MetadataStore, mailboxId: Id): Promise<{ mb: MailboxRecord; counts: MailboxCounts } | null> {
    return this.#serial(mailboxId, async () => {
      const e = await this.#current(store, mailboxId);
      return e && { mb: e.mb, counts: { ...e.counts } };
    });
  }

  /**
   * The mailbox's columns, counters and the row they match; null if it is gone. The columns are
   * shared with the index and other snapshots: neither side may write them (MailboxView copies
   * before its first change, the index before its next).
   */
  async snapshot(store: MetadataStore, mailboxId: Id): Promise<MailboxSnapshot | null> {
    return this.#serial(mailboxId, async () => {
      const e = await this.#current(store, mailboxId);
      if (!e) return null;
      const columns = e.lend();
      return { mb: e.mb, columns, counts: { ...e.counts } };
    });
  }

  #serial<T>(id: Id, fn: () => Promise<T>): Promise<T> {
    const prev = this.#busy.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.#busy.set(id, tail);
    void tail.then(() => {
      if (this.#busy.get(id) === tail) this.#busy.delete(id);
    });
    return next;
  }

  async #current(store: MetadataStore, mailboxId: Id): Promise<Entry | null> {
    let old = this.#entries.get(mailboxId);
    // Committed rows, without waiting for an open write batch (see MailboxView.refresh).
    const snap = await store.readCommitted(async (tx) => {
      const mb = await tx.mail.getMailboxById(mailboxId);
      if (!mb) return null;
      // The entry is only this mailbox's if the row is the one it was read from: the same
      // owner and UIDVALIDITY (unique store-wide, never reused). Ids are never reused either
      // (migration-ids.ts); this holds the index to it even against a store that did.
      if (old && (old.mb.uidValidity !== mb.uidValidity || old.mb.userId !== mb.userId)) old = undefined;
      const since = old?.mb.highestModseq ?? -1;
      if (old && mb.highestModseq === since) return { mb, rows: null, changed: [], expunged: [] };
      if (old) return { mb, rows: null, changed: await tx.mail.listChangedSince(mailboxId, since), expunged: await tx.mail.listExpunged(mailboxId, since) };
      return { mb, rows: await tx.mail.listMessages(mailboxId), changed: [], expunged: [] };
    });
    this.#drop(mailboxId);
    if (!snap) return null;
    let e: Entry;
    if (old && snap.rows === null) {
      // Does not fit (cannot happen while UIDs only grow): read it all again.
      if (!old.apply(snap.mb, snap.changed, snap.expunged)) return this.#current(store, mailboxId);
      this.hits++;
      e = old;
    } else {
      this.misses++;
      e = new Entry(snap.mb, snap.rows ?? []);
    }
    this.#keep(mailboxId, e);
    return e;
  }

  /**
   * Drops what the index holds for a mailbox (IMAP DELETE and RENAME call it). Waits for a
   * catch-up in progress, so it cannot put the entry back afterwards.
   */
  forget(mailboxId: Id): Promise<void> {
    return this.#serial(mailboxId, async () => this.#drop(mailboxId));
  }

  /**
   * The same for every mailbox of a user, for a removal made in this process. Today users are
   * removed by the CLI, another process: their entries go at the next read (no row) or by LRU.
   */
  async forgetUser(userId: Id): Promise<void> {
    const ids = [...this.#entries].filter(([, e]) => e.mb.userId === userId).map(([id]) => id);
    await Promise.all(ids.map((id) => this.forget(id)));
  }

  /** Mailboxes held (tests, metrics). */
  get size(): number {
    return this.#entries.size;
  }

  /** Whether the index holds an entry for this mailbox (tests). */
  has(mailboxId: Id): boolean {
    return this.#entries.has(mailboxId);
  }

  #drop(id: Id): void {
    const e = this.#entries.get(id);
    if (!e) return;
    this.#entries.delete(id);
    this.#held -= e.n;
  }

  /** Most recently used last; the oldest go when the message budget is exceeded. */
  #keep(id: Id, e: Entry): void {
    if (e.n > this.#maxMessages) return;
    this.#entries.set(id, e);
    this.#held += e.n;
    for (const [k, v] of this.#entries) {
      if (this.#held <= this.#maxMessages) break;
      this.#entries.delete(k);
      this.#held -= v.n;
    }
  }
}
