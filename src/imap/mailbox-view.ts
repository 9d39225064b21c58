// What one session shows of its selected mailbox: message numbers (sequence numbers) mapped to
// UIDs, and the flags the client was last told. The store moves on independently (deliveries,
// other sessions); refresh() reads what changed since the HIGHESTMODSEQ this view has seen
// (RFC 7162 §3.1: every append, flag change and expunge raises it) and the session decides when
// the changes may be announced (see the invariants in session.ts).
//
// Messages expunged elsewhere stay in the numbering, marked gone, until an EXPUNGE (or VANISHED)
// response may be sent: RFC 3501 §7.4.1 forbids EXPUNGE during FETCH, STORE and SEARCH, so
// until then message numbers must not shift.
//
// Memory: a session idling on a large mailbox must stay cheap (issue 3 measures PSS per IDLE
// connection). Per message the view keeps only columns in typed arrays — UID, MODSEQ, internal
// date, size, an index into a table of distinct flag sets (most messages share a handful), the
// index of the flag set last shown, and a gone bit: about 37 octets. Bodies, blob ids and trace
// headers are read from the store when a FETCH needs them. A view made by SELECT starts on the
// mailbox index's columns (mailbox-index.ts), shared with every session that selected the same
// state, and copies them at its first change; "shown" and the gone bits are allocated only when
// they first differ from "all shown, none gone".
import type { Id, MailboxRecord, MessageRecord, MetadataStore } from "../store/types.ts";
import type { Interval, SequenceSet } from "./protocol/sequence-set.ts";
import { resolveSequenceSet } from "./protocol/sequence-set.ts";
import { bad } from "./errors.ts";
import type { MailboxColumns } from "./mailbox-index.ts";
import type { UidRange } from "./recent.ts";

/** One message's metadata, materialised on demand. */
export interface SlimMessage {
  uid: number;
  modseq: number;
  flags: string[];
  internalDate: number;
  size: number;
}

function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a.map((f) => f.toLowerCase()));
  return b.every((f) => s.has(f.toLowerCase()));
}

export class MailboxView {
  readonly mailboxId: Id;
  /** The owner: with mailboxId and uidValidity, what identifies the mailbox this view shows. */
  readonly userId: Id;
  readonly readOnly: boolean;
  name: string;
  uidValidity: number;
  uidNext: number;
  /** The highest MODSEQ reflected in the view. */
  modseq = 0;
  #n = 0;
  #uid = new Uint32Array(0);
  #mod = new Float64Array(0);
  #date = new Float64Array(0);
  #size = new Float64Array(0);
  #flags = new Uint32Array(0);
  /** Flags last shown to the client; null while they equal #flags. */
  #shown: Uint32Array | null = null;
  /** 1 = expunged elsewhere, not yet announced; null while none is. */
  #goneBits: Uint8Array | null = null;
  /**
   * The columns are the mailbox index's, shared with the other sessions that selected the same
   * state (mailbox-index.ts lends them and copies its own before changing them). The first change
   * here copies them: a session idling on a large mailbox costs little until something changes.
   */
  #shared = false;
  /** UIDs whose flags may differ from what was shown: takeFlagChanges looks at these only. */
  #pendingFlags: number[] = [];
  /** Messages at the end not yet announced with EXISTS. */
  #unannounced = 0;
  #gone = 0;
  #flagTable: string[][] = [];
  #flagIndex = new Map<string, number>();
  /** UID ranges that are \Recent in this session (recent.ts), ascending, disjoint. */
  #recent: UidRange[] = [];
  /** Keywords the client was shown in FLAGS (lower case → as first seen); null before SELECT. */
  #keywords: Map<string, string> | null = null;
  /** A keyword not in #keywords appeared: FLAGS and PERMANENTFLAGS must be sent again. */
  #newKeyword = false;

  /** From rows, or from the mailbox index's columns (shared until the first change). */
  constructor(mb: MailboxRecord, messages: MessageRecord[] | MailboxColumns, readOnly: boolean) {
    this.mailboxId = mb.id;
    this.userId = mb.userId;
    this.name = mb.name;
    this.uidValidity = mb.uidValidity;
    this.uidNext = mb.uidNext;
    this.readOnly = readOnly;
    this.modseq = mb.highestModseq;
    if (Array.isArray(messages)) {
      this.#grow(messages.length);
      for (const m of messages) this.#push(m);
      return;
    }
    const c = messages;
    this.#n = c.n;
    this.#uid = c.uid;
    this.#mod = c.mod;
    this.#date = c.date;
    this.#size = c.size;
    this.#flags = c.flags;
    this.#shared = true;
    for (const f of c.flagTable) this.#intern([...f]);
  }

  /** The distinct flag sets of the visible messages (SELECT's FLAGS keywords). */
  flagSets(): Array<readonly string[]> {
    const used = new Uint8Array(this.#flagTable.length);
    for (let i = 0; i < this.exists; i++) used[this.#flags[i]] = 1;
    return this.#flagTable.filter((_, k) => used[k] === 1);
  }

  /**
   * RFC 3501 §7.2.6: the keywords SELECT announced in FLAGS. A keyword that later appears on a
   * message (this session's STORE, another session, APPEND) makes the session send FLAGS and
   * PERMANENTFLAGS again; keywords are never taken back out of the list, as in Dovecot.
   */
  initKeywords(names: Iterable<string>): void {
    this.#keywords = new Map();
    for (const n of names) if (!this.#keywords.has(n.toLowerCase())) this.#keywords.set(n.toLowerCase(), n);
    this.#newKeyword = false;
  }

  #noteFlags(flags: readonly string[]): void {
    const k = this.#keywords;
    if (!k) return;
    for (const f of flags) {
      if (f.startsWith("\\") || k.has(f.toLowerCase())) continue;
      k.set(f.toLowerCase(), f);
      this.#newKeyword = true;
    }
  }

  /** The keyword list when it grew since last taken (for `* FLAGS`), else null. */
  takeKeywords(): string[] | null {
    if (!this.#newKeyword || !this.#keywords) return null;
    this.#newKeyword = false;
    return [...this.#keywords.values()];
  }

  hasNewKeywords(): boolean {
    return this.#newKeyword;
  }

  /** UIDs lo..hi become \Recent in this session (RFC 3501 §2.3.2). */
  addRecent(r: UidRange | null): void {
    if (!r || r[1] < r[0]) return;
    const last = this.#recent[this.#recent.length - 1];
    if (last && r[0] <= last[1] + 1 && r[0] >= last[0]) this.#recent[this.#recent.length - 1] = [last[0], Math.max(last[1], r[1])];
    else this.#recent.push(r);
  }

  isRecent(uid: number): boolean {
    const r = this.#recent;
    if (r.length === 0) return false;
    let lo = 0;
    let hi = r.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (uid < r[mid][0]) hi = mid - 1;
      else if (uid > r[mid][1]) lo = mid + 1;
      else return true;
    }
    return false;
  }

  /** Messages the client knows of that are \Recent here (the `* n RECENT` count). */
  recentCount(): number {
    let n = 0;
    const visible = this.exists;
    // Visible UIDs in lo..hi: the first position above hi minus the first at or above lo.
    for (const [lo, hi] of this.#recent) n += this.#lowerBound(hi + 1, visible) - this.#lowerBound(lo, visible);
    return n;
  }

  /** First position (below `end`) whose UID is >= uid. */
  #lowerBound(uid: number, end: number): number {
    let a = 0;
    let b = end;
    while (a < b) {
      const mid = (a + b) >> 1;
      if (this.#uid[mid] < uid) a = mid + 1;
      else b = mid;
    }
    return a;
  }

  /** Message number of the first message without \Seen, or null. */
  firstUnseen(): number | null {
    const seen = this.#flagTable.map((f) => f.some((x) => x.toLowerCase() === "\\seen"));
    for (let i = 0; i < this.exists; i++) if (!seen[this.#flags[i]]) return i + 1;
    return null;
  }

  /** Visible messages changed after a MODSEQ (QRESYNC's SELECT), ascending. */
  changedSince(modseq: number): SlimMessage[] {
    const out: SlimMessage[] = [];
    for (let i = 0; i < this.exists; i++) {
      if (this.#mod[i] > modseq) out.push({ uid: this.#uid[i], modseq: this.#mod[i], flags: this.#flagTable[this.#flags[i]], internalDate: this.#date[i], size: this.#size[i] });
    }
    return out;
  }

  #intern(flags: string[]): number {
    const key = flags.join("\0");
    let i = this.#flagIndex.get(key);
    if (i === undefined) {
      i = this.#flagTable.length;
      this.#flagTable.push(flags);
      this.#flagIndex.set(key, i);
    }
    return i;
  }

  /** Before changing columns: own them, and remember what was shown before flags diverge. */
  #own(): void {
    if (this.#shared) {
      this.#shared = false;
      this.#uid = this.#uid.slice();
      this.#mod = this.#mod.slice();
      this.#date = this.#date.slice();
      this.#size = this.#size.slice();
      this.#flags = this.#flags.slice();
    }
    this.#shown ??= this.#flags.slice();
  }

  #grow(min: number): void {
    this.#own();
    if (min <= this.#uid.length) return;
    const cap = Math.max(min, Math.ceil(this.#uid.length * 1.5), 16);
    const g = <T extends Uint32Array | Float64Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a.subarray(0, Math.min(this.#n, a.length)) as never);
      return b;
    };
    this.#uid = g(this.#uid, (n) => new Uint32Array(n));
    this.#mod = g(this.#mod, (n) => new Float64Array(n));
    this.#date = g(this.#date, (n) => new Float64Array(n));
    this.#size = g(this.#size, (n) => new Float64Array(n));
    this.#flags = g(this.#flags, (n) => new Uint32Array(n));
    this.#shown = g(this.#shown!, (n) => new Uint32Array(n));
    if (this.#goneBits) this.#goneBits = g(this.#goneBits, (n) => new Uint8Array(n));
  }

  #push(m: MessageRecord): void {
    this.#grow(this.#n + 1);
    const i = this.#n++;
    const f = this.#intern(m.flags);
    this.#uid[i] = m.uid;
    this.#mod[i] = m.modseq;
    this.#date[i] = m.internalDate;
    this.#size[i] = m.size;
    this.#flags[i] = f;
    this.#shown![i] = f;
    if (this.#goneBits) this.#goneBits[i] = 0;
  }

  /** 0-based position of a UID, or -1. */
  #pos(uid: number): number {
    let lo = 0;
    let hi = this.#n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const u = this.#uid[mid];
      if (u === uid) return mid;
      if (u < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Messages the client knows of (EXISTS). */
  get exists(): number {
    return this.#n - this.#unannounced;
  }

  /** UID of message number seq (1-based, within exists). */
  uidAt(seq: number): number {
    return this.#uid[seq - 1];
  }

  /** The UIDs the client knows of, ascending (a copy). */
  visibleUids(): number[] {
    return Array.from(this.#uid.subarray(0, this.exists));
  }

  /** The highest UID the view holds, announced or not (0 when empty). */
  lastHeldUid(): number {
    return this.#n ? this.#uid[this.#n - 1] : 0;
  }

  lastUid(): number {
    return this.exists ? this.#uid[this.exists - 1] : 0;
  }

  seqOf(uid: number): number {
    return this.#pos(uid) + 1;
  }

  has(uid: number): boolean {
    return this.#pos(uid) >= 0;
  }

  isGone(uid: number): boolean {
    const i = this.#pos(uid);
    return i < 0 || this.#goneBits?.[i] === 1;
  }

  /** The message's metadata, or null if the view does not hold it. */
  get(uid: number): SlimMessage | null {
    const i = this.#pos(uid);
    if (i < 0) return null;
    return { uid, modseq: this.#mod[i], flags: this.#flagTable[this.#flags[i]], internalDate: this.#date[i], size: this.#size[i] };
  }

  /**
   * Calls fn with the message number and metadata of each UID in `uids` (ascending) that the
   * view holds, and marks its flags shown: one pass instead of a lookup per UID and per field.
   */
  visit(uids: readonly number[], fn: (seq: number, m: SlimMessage) => void): void {
    if (uids.length === 0) return;
    // Start at the first UID's place (binary search), then walk.
    let i = 0;
    let hi = this.#n;
    while (i < hi) {
      const mid = (i + hi) >> 1;
      if (this.#uid[mid] < uids[0]) i = mid + 1;
      else hi = mid;
    }
    for (const uid of uids) {
      while (i < this.#n && this.#uid[i] < uid) i++;
      if (i >= this.#n) return;
      if (this.#uid[i] !== uid) continue;
      fn(i + 1, { uid, modseq: this.#mod[i], flags: this.#flagTable[this.#flags[i]], internalDate: this.#date[i], size: this.#size[i] });
      if (this.#shown) this.#shown[i] = this.#flags[i];
    }
  }

  flagsOf(uid: number): string[] {
    const i = this.#pos(uid);
    return i < 0 ? [] : this.#flagTable[this.#flags[i]];
  }

  /** The client has now been told this message's current flags. */
  markShown(uid: number): void {
    const i = this.#pos(uid);
    // shown null: what was shown already equals the flags.
    if (i >= 0 && this.#shown) this.#shown[i] = this.#flags[i];
  }

  /**
   * UIDs (ascending, within what the client knows of) named by a sequence set. Message
   * sequence numbers above the count the client was told, and "*" in an empty mailbox, are a
   * tagged BAD (RFC 3501 §9 / RFC 9051 §9 seq-number, as Dovecot answers); UIDs not in use
   * simply match nothing.
   */
  resolve(set: SequenceSet, byUid: boolean, saved: number[] | null): number[] {
    const visible = this.exists;
    if (set.kind === "saved") return (saved ?? []).filter((u) => this.seqOf(u) > 0 && this.seqOf(u) <= visible);
    if (!byUid) {
      for (const r of set.ranges) {
        if ((r.start === "*" || r.end === "*") && visible === 0) throw bad("Invalid message sequence number: the mailbox is empty");
        if ((r.start !== "*" && r.start > visible) || (r.end !== "*" && r.end > visible)) throw bad(`Invalid message sequence number: the mailbox has ${visible} messages`);
      }
    }
    if (visible === 0) return [];
    if (byUid) return this.#uidsIn(resolveSequenceSet(set.ranges, this.#uid[visible - 1]), visible);
    const out: number[] = [];
    for (const iv of resolveSequenceSet(set.ranges, visible)) {
      for (let n = Math.max(1, iv.lo); n <= Math.min(iv.hi, visible); n++) out.push(this.#uid[n - 1]);
    }
    return out;
  }

  #uidsIn(ivs: Interval[], visible: number): number[] {
    const out: number[] = [];
    let i = 0;
    for (const iv of ivs) {
      while (i < visible && this.#uid[i] < iv.lo) i++;
      while (i < visible && this.#uid[i] <= iv.hi) out.push(this.#uid[i++]);
    }
    return out;
  }

  /** Visible, not gone messages for which pred(metadata) holds (SEARCH, EXPUNGE). */
  filter(pred: (m: SlimMessage, seq: number) => boolean): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.exists; i++) {
      if (this.#goneBits?.[i]) continue;
      const m: SlimMessage = { uid: this.#uid[i], modseq: this.#mod[i], flags: this.#flagTable[this.#flags[i]], internalDate: this.#date[i], size: this.#size[i] };
      if (pred(m, i + 1)) out.push(m.uid);
    }
    return out;
  }

  /**
   * Re-read the store: new messages, flag changes and expunges since `modseq`. Committed rows
   * only, without waiting for another session's write batch (store.readCommitted): every writer
   * publishes on the change bus after its commit, so what a notification announces is there.
   */
  async refresh(store: MetadataStore): Promise<void> {
    const since = this.modseq;
    const snap = await store.readCommitted(async (tx) => {
      let mb = await tx.mail.getMailboxById(this.mailboxId);
      // Another owner or UIDVALIDITY under this id is another mailbox: this one was deleted.
      // (Ids are never reused, migration-ids.ts; this check keeps a view to its own mailbox
      // whatever the store does.)
      if (mb && (mb.uidValidity !== this.uidValidity || mb.userId !== this.userId)) mb = null;
      if (!mb || mb.highestModseq <= since) return { mb, changed: [] as MessageRecord[], expunged: [] as number[] };
      return { mb, changed: await tx.mail.listChangedSince(this.mailboxId, since), expunged: await tx.mail.listExpunged(this.mailboxId, since) };
    });
    if (!snap.mb) {
      // The mailbox itself was deleted: everything in it is gone.
      this.markGone(Array.from(this.#uid.subarray(0, this.#n)));
      return;
    }
    this.uidNext = snap.mb.uidNext;
    this.modseq = Math.max(this.modseq, snap.mb.highestModseq);
    if (snap.changed.length) this.#own();
    for (const rec of snap.changed) {
      const i = this.#pos(rec.uid);
      if (i >= 0) {
        this.#mod[i] = rec.modseq;
        this.#flags[i] = this.#intern(rec.flags);
        this.#noteFlags(rec.flags);
        this.#pendingFlags.push(rec.uid);
        continue;
      }
      const last = this.#n ? this.#uid[this.#n - 1] : 0;
      if (rec.uid > last) {
        this.#push(rec);
        this.#noteFlags(rec.flags);
        this.#unannounced++;
      }
    }
    this.markGone(snap.expunged);
  }

  /** Flag changes not yet shown; marks them shown. */
  takeFlagChanges(): number[] {
    const out: number[] = [];
    const shown = this.#shown;
    if (!shown || this.#pendingFlags.length === 0) return out;
    const pending = [...new Set(this.#pendingFlags)].sort((a, b) => a - b);
    // Messages not announced yet keep their place in the list; gone ones leave it.
    this.#pendingFlags = [];
    for (const uid of pending) {
      const i = this.#pos(uid);
      if (i < 0 || this.#goneBits?.[i]) continue;
      if (i >= this.exists) {
        this.#pendingFlags.push(uid);
        continue;
      }
      if (shown[i] === this.#flags[i]) continue;
      const changed = !sameFlags(this.#flagTable[shown[i]], this.#flagTable[this.#flags[i]]);
      shown[i] = this.#flags[i];
      if (changed) out.push(uid);
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
   * had, highest first: the order the EXPUNGE responses must be sent in, since each EXPUNGE
   * renumbers only the messages after it, which are already gone.
   */
  takeExpunged(): Array<{ uid: number; seq: number }> {
    if (this.#gone === 0 || !this.#goneBits) return [];
    this.#own();
    const gone = this.#goneBits;
    const shown = this.#shown!;
    const out: Array<{ uid: number; seq: number }> = [];
    const visible = this.exists;
    let w = 0;
    let removedUnannounced = 0;
    for (let i = 0; i < this.#n; i++) {
      if (gone[i]) {
        // A message the client never heard of (no EXISTS yet) leaves silently.
        if (i < visible) out.push({ uid: this.#uid[i], seq: i + 1 });
        else removedUnannounced++;
        continue;
      }
      if (w !== i) {
        this.#uid[w] = this.#uid[i];
        this.#mod[w] = this.#mod[i];
        this.#date[w] = this.#date[i];
        this.#size[w] = this.#size[i];
        this.#flags[w] = this.#flags[i];
        shown[w] = shown[i];
      }
      w++;
    }
    this.#goneBits = null;
    this.#n = w;
    this.#unannounced -= removedUnannounced;
    this.#gone = 0;
    return out.reverse();
  }

  hasGone(): boolean {
    return this.#gone > 0;
  }

  markGone(uids: readonly number[]): void {
    for (const u of uids) {
      const i = this.#pos(u);
      if (i < 0) continue;
      this.#goneBits ??= new Uint8Array(this.#uid.length);
      if (!this.#goneBits[i]) {
        this.#goneBits[i] = 1;
        this.#gone++;
      }
    }
  }

  /** Our own STORE: new flags and MODSEQ; `shown` when the response carried them. */
  setFlags(uid: number, flags: string[], modseq: number, shown: boolean): void {
    const i = this.#pos(uid);
    if (i < 0) return;
    this.#own();
    this.#flags[i] = this.#intern(flags);
    this.#noteFlags(flags);
    this.#mod[i] = modseq;
    if (shown) this.#shown![i] = this.#flags[i];
    else this.#pendingFlags.push(uid);
  }
}
