// What one session shows of its selected mailbox: message numbers (sequence numbers) mapped to
// UIDs, and the flags the client was last told. The store moves on independently (deliveries,
// other sessions); refresh() reads what changed since the HIGHESTMODSEQ this view has seen
// (RFC 7162 §3.1: every append, flag change and expunge raises it) and the session decides when
// the changes may be announced (see the invariants in session.ts).
//
// Messages expunged elsewhere stay in the numbering, marked `gone`, until an EXPUNGE (or
// VANISHED) response may be sent: RFC 3501 §7.4.1 forbids EXPUNGE during FETCH, STORE and
// SEARCH, so until then message numbers must not shift.
import type { Id, MailboxRecord, MessageRecord, MetadataStore } from "../store/types.ts";
import type { Interval, SequenceSet } from "./protocol/sequence-set.ts";
import { resolveSequenceSet } from "./protocol/sequence-set.ts";

/**
 * What a view keeps per message: the metadata SEARCH and flag updates need. Bodies, blob ids and
 * trace headers are read from the store when a FETCH needs them, so a session idling on a large
 * mailbox holds a few dozen octets per message, and flag lists are shared (interned) arrays.
 */
export interface SlimMessage {
  uid: number;
  modseq: number;
  flags: string[];
  internalDate: number;
  size: number;
}

export interface ViewMessage {
  rec: SlimMessage;
  /** Flags as last announced to this client. */
  shownFlags: string[];
  /** Expunged in the store, not yet announced. */
  gone: boolean;
}

export interface ViewChanges {
  /** UIDs expunged that the client has not heard of. */
  expunged: number[];
  /** New messages appended since the last announcement. */
  added: number;
  /** UIDs whose flags changed (and are not gone). */
  flagged: number[];
}

function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a.map((f) => f.toLowerCase()));
  return b.every((f) => s.has(f.toLowerCase()));
}

export class MailboxView {
  readonly mailboxId: Id;
  readonly readOnly: boolean;
  name: string;
  uidValidity: number;
  /** Ascending UIDs; index + 1 is the message number. */
  uids: number[] = [];
  msgs = new Map<number, ViewMessage>();
  /** The highest MODSEQ reflected in `msgs`. */
  modseq = 0;
  /** Messages appended to `uids` but not yet announced with EXISTS. */
  #unannounced = 0;
  /** How many messages are marked gone (so the check per command is O(1)). */
  #gone = 0;
  /** One array per distinct flag set (most messages share a handful of them). */
  #flagSets = new Map<string, string[]>();

  #intern(flags: string[]): string[] {
    const key = flags.join("\0");
    let f = this.#flagSets.get(key);
    if (!f) {
      f = flags;
      this.#flagSets.set(key, f);
    }
    return f;
  }

  #slim(m: MessageRecord): SlimMessage {
    return { uid: m.uid, modseq: m.modseq, flags: this.#intern(m.flags), internalDate: m.internalDate, size: m.size };
  }
  uidNext: number;

  constructor(mb: MailboxRecord, messages: MessageRecord[], readOnly: boolean) {
    this.mailboxId = mb.id;
    this.name = mb.name;
    this.uidValidity = mb.uidValidity;
    this.uidNext = mb.uidNext;
    this.readOnly = readOnly;
    this.modseq = mb.highestModseq;
    for (const m of messages) {
      this.uids.push(m.uid);
      const rec = this.#slim(m);
      this.msgs.set(m.uid, { rec, shownFlags: rec.flags, gone: false });
    }
  }

  get exists(): number {
    return this.uids.length - this.#unannounced;
  }

  seqOf(uid: number): number {
    let lo = 0;
    let hi = this.uids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const u = this.uids[mid];
      if (u === uid) return mid + 1;
      if (u < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return 0;
  }

  /** UIDs (ascending, within what the client knows of) named by a sequence set. */
  resolve(set: SequenceSet, byUid: boolean, saved: number[] | null): number[] {
    const visible = this.uids.length - this.#unannounced;
    if (set.kind === "saved") return (saved ?? []).filter((u) => this.msgs.has(u) && this.seqOf(u) <= visible);
    if (visible === 0) return [];
    if (byUid) {
      const ivs = resolveSequenceSet(set.ranges, this.uids[visible - 1]);
      return this.#uidsIn(ivs, visible);
    }
    const ivs = resolveSequenceSet(set.ranges, visible);
    const out: number[] = [];
    for (const iv of ivs) for (let n = Math.max(1, iv.lo); n <= Math.min(iv.hi, visible); n++) out.push(this.uids[n - 1]);
    return out;
  }

  #uidsIn(ivs: Interval[], visible: number): number[] {
    const out: number[] = [];
    let i = 0;
    for (const iv of ivs) {
      while (i < visible && this.uids[i] < iv.lo) i++;
      while (i < visible && this.uids[i] <= iv.hi) out.push(this.uids[i++]);
    }
    return out;
  }

  /** Re-read the store: new messages, flag changes and expunges since `modseq`. */
  async refresh(store: MetadataStore): Promise<ViewChanges> {
    const since = this.modseq;
    const snap = await store.transaction(async (tx) => {
      const mb = await tx.mail.getMailboxById(this.mailboxId);
      if (!mb || mb.highestModseq <= since) return { mb, changed: [] as MessageRecord[], expunged: [] as number[] };
      return { mb, changed: await tx.mail.listChangedSince(this.mailboxId, since), expunged: await tx.mail.listExpunged(this.mailboxId, since) };
    });
    const out: ViewChanges = { expunged: [], added: 0, flagged: [] };
    if (!snap.mb) {
      // The mailbox itself was deleted: everything in it is gone.
      const all = [...this.msgs.keys()];
      this.markGone(all);
      out.expunged.push(...all);
      return out;
    }
    this.uidNext = snap.mb.uidNext;
    this.modseq = Math.max(this.modseq, snap.mb.highestModseq);
    for (const full of snap.changed) {
      const rec = this.#slim(full);
      const m = this.msgs.get(rec.uid);
      if (m) {
        m.rec = rec;
        continue;
      }
      const last = this.uids.length ? this.uids[this.uids.length - 1] : 0;
      if (rec.uid > last) {
        this.uids.push(rec.uid);
        this.msgs.set(rec.uid, { rec, shownFlags: rec.flags, gone: false });
        this.#unannounced++;
      }
    }
    this.markGone(snap.expunged);
    return out;
  }

  /** Flag changes not yet shown; marks them shown. */
  takeFlagChanges(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.uids.length - this.#unannounced; i++) {
      const m = this.msgs.get(this.uids[i])!;
      if (!m.gone && !sameFlags(m.shownFlags, m.rec.flags)) {
        m.shownFlags = m.rec.flags;
        out.push(m.rec.uid);
      }
    }
    return out;
  }

  /** Count of new messages to announce with EXISTS; marks them announced. */
  takeAdded(): number {
    const n = this.#unannounced;
    this.#unannounced = 0;
    return n;
  }

  /**
   * Removes the gone messages from the numbering and returns them with the message number each
   * had at the moment of its removal, in the order the EXPUNGE responses must be sent.
   */
  takeExpunged(): Array<{ uid: number; seq: number }> {
    if (this.#gone === 0) return [];
    const out: Array<{ uid: number; seq: number }> = [];
    const keep: number[] = [];
    const visible = this.uids.length - this.#unannounced;
    let removedVisible = 0;
    // Highest first: each EXPUNGE renumbers only the messages after it, which are already gone,
    // so a message's number is its position counted among the messages before it.
    this.uids.forEach((uid, i) => {
      if (this.msgs.get(uid)!.gone) {
        this.msgs.delete(uid);
        // A message the client never heard of (no EXISTS yet) leaves silently.
        if (i < visible) {
          out.push({ uid, seq: i + 1 });
          removedVisible++;
        }
      } else keep.push(uid);
    });
    this.#unannounced -= this.uids.length - keep.length - removedVisible;
    this.uids = keep;
    this.#gone = 0;
    return out.reverse();
  }

  hasGone(): boolean {
    return this.#gone > 0;
  }

  markGone(uids: readonly number[]): void {
    for (const u of uids) {
      const m = this.msgs.get(u);
      if (m && !m.gone) {
        m.gone = true;
        this.#gone++;
      }
    }
  }

  setFlags(uid: number, flags: string[], modseq: number, shown: boolean): void {
    const m = this.msgs.get(uid);
    if (!m) return;
    m.rec = { ...m.rec, flags: this.#intern(flags), modseq };
    if (shown) m.shownFlags = flags;
  }
}
