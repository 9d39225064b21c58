// SEARCH evaluation (RFC 9051 §6.4.4, RFC 3501 §6.4.4). Keys on metadata (flags, UIDs, sizes,
// dates, MODSEQ) are checked against the session's view; string keys come from the search
// index (src/store/sqlite/search.ts), which is filled lazily: a message is read and indexed
// once, the first time a string search needs it, and never again.
import type { SearchKey } from "./protocol/commands.ts";
import type { SearchDate } from "./protocol/datetime.ts";
import { intervalsContain, resolveSequenceSet } from "./protocol/sequence-set.ts";
import type { MailboxView, SlimMessage } from "./mailbox-view.ts";
import type { Session } from "./session.ts";
import { loadMessage } from "./message-source.ts";
import { extractSearchDoc } from "./search-text.ts";
import type { SearchDoc } from "../store/sqlite/search.ts";

const INDEX_BATCH = 50;

export interface SearchOutcome {
  uids: number[];
  /** Highest MODSEQ among the results when a MODSEQ key was used (RFC 7162 §3.1.5). */
  modseq: number | null;
}

function walk(k: SearchKey, fn: (k: SearchKey) => void): void {
  fn(k);
  if (k.kind === "and") k.keys.forEach((x) => walk(x, fn));
  else if (k.kind === "or") {
    walk(k.left, fn);
    walk(k.right, fn);
  } else if (k.kind === "not") walk(k.key, fn);
}

/** Index the messages of the view that are not indexed yet. */
export async function ensureIndexed(s: Session, view: MailboxView): Promise<void> {
  const live = view.filter(() => true);
  const missing = await s.deps.search.missing(view.uidValidity, live);
  if (missing.length === 0) return;
  // Many missing (an old mailbox): one query for all rows beats one per message.
  const rows = missing.length > INDEX_BATCH ? new Map((await s.deps.store.mail.listMessages(view.mailboxId)).map((r) => [r.uid, r])) : null;
  for (let i = 0; i < missing.length; i += INDEX_BATCH) {
    const docs: SearchDoc[] = [];
    for (const uid of missing.slice(i, i + INDEX_BATCH)) {
      if (!view.has(uid)) continue;
      try {
        const rec = rows ? rows.get(uid) : await s.deps.store.mail.getMessage(view.mailboxId, uid);
        if (!rec) continue;
        docs.push(extractSearchDoc(await loadMessage(s.deps.blobs, rec), view.uidValidity, uid));
      } catch (e) {
        s.log.debug({ err: e, uid }, "search: message not indexable");
      }
    }
    await s.deps.search.add(docs);
  }
}

/** Day number for "disregarding time and timezone" comparisons (RFC 9051 §6.4.4). */
const dayOf = (d: SearchDate): number => Date.UTC(d.year, d.month - 1, d.day) / 86_400_000;
const dayOfMs = (ms: number): number => Math.floor(ms / 86_400_000);

function compareDate(op: "before" | "on" | "since", msgDay: number, day: number): boolean {
  return op === "before" ? msgDay < day : op === "on" ? msgDay === day : msgDay >= day;
}

export async function runSearch(s: Session, view: MailboxView, key: SearchKey): Promise<SearchOutcome> {
  const textSets = new Map<SearchKey, Set<number>>();
  let needsIndex = false;
  let usesModseq = false;
  let needsSent = false;
  walk(key, (k) => {
    if (k.kind === "text" || k.kind === "header") needsIndex = true;
    if (k.kind === "date" && k.field === "sent") needsIndex = needsSent = true;
    if (k.kind === "modseq") usesModseq = true;
  });
  const index = s.deps.search;
  if (needsIndex) await ensureIndexed(s, view);
  const keys: SearchKey[] = [];
  walk(key, (k) => keys.push(k));
  for (const k of keys) {
    if (k.kind === "text") {
      // RFC 9051 §6.4.4: an empty string matches every message that has the field... we treat
      // it as matching all, as Dovecot does.
      if (k.value === "") continue;
      textSets.set(k, await index.match(view.uidValidity, k.field, k.value));
    } else if (k.kind === "header") {
      const name = k.name.toLowerCase();
      const candidates = k.value.length ? [...(await index.match(view.uidValidity, "headers", k.value))] : view.visibleUids();
      const heads = await index.headers(view.uidValidity, candidates);
      const want = k.value.toLowerCase();
      const hit = new Set<number>();
      for (const [uid, h] of heads) {
        for (const line of h.split("\n")) {
          const colon = line.indexOf(":");
          if (colon < 0 || line.slice(0, colon).toLowerCase() !== name) continue;
          if (line.slice(colon + 1).toLowerCase().includes(want)) {
            hit.add(uid);
            break;
          }
        }
      }
      textSets.set(k, hit);
    }
  }
  const sent = needsSent ? await index.sentDays(view.uidValidity) : null;
  const now = s.deps.clock.now();
  const visible = view.exists;
  const maxUid = view.lastUid();
  const resolved = new Map<SearchKey, ReturnType<typeof resolveSequenceSet>>();
  const recentOn = s.showsRecent;

  const test = (k: SearchKey, rec: SlimMessage, seq: number): boolean => {
    const uid = rec.uid;
    switch (k.kind) {
      case "all":
        return true;
      case "and":
        return k.keys.every((x) => test(x, rec, seq));
      case "or":
        return test(k.left, rec, seq) || test(k.right, rec, seq);
      case "not":
        return !test(k.key, rec, seq);
      case "flag": {
        const f = k.flag.toLowerCase();
        return rec.flags.some((x) => x.toLowerCase() === f) === k.set;
      }
      // RFC 3501 §6.4.4: RECENT, NEW (RECENT UNSEEN), OLD (NOT RECENT); \Recent is this
      // session's (recent.ts), none in IMAP4rev2.
      case "recent":
        return recentOn && view.isRecent(uid);
      case "new":
        return recentOn && view.isRecent(uid) && !rec.flags.some((x) => x.toLowerCase() === "\\seen");
      case "old":
        return !(recentOn && view.isRecent(uid));
      case "text":
        return k.value === "" || (textSets.get(k)?.has(uid) ?? false);
      case "header":
        return textSets.get(k)?.has(uid) ?? false;
      case "date": {
        if (k.field === "internal") return compareDate(k.op, dayOfMs(rec.internalDate), dayOf(k.date));
        // RFC 3501 §6.4.4: the Date: header's day as written, in its own zone (search-text.ts);
        // a message without a usable Date: is compared by its internal date.
        const d = sent?.get(uid);
        return compareDate(k.op, d ?? dayOfMs(rec.internalDate), dayOf(k.date));
      }
      case "size":
        return k.op === "larger" ? rec.size > k.size : rec.size < k.size;
      case "uid":
      case "seq": {
        if (k.set.kind === "saved") return (s.saved ?? []).includes(uid);
        let ivs = resolved.get(k);
        if (!ivs) {
          ivs = resolveSequenceSet(k.set.ranges, k.kind === "uid" ? maxUid : visible);
          resolved.set(k, ivs);
        }
        return intervalsContain(ivs, k.kind === "uid" ? uid : seq);
      }
      case "modseq":
        return BigInt(rec.modseq) >= k.modseq;
      case "within":
        return k.op === "younger" ? rec.internalDate >= now - k.seconds * 1000 : rec.internalDate < now - k.seconds * 1000;
    }
  };

  let modseq = 0;
  const uids = view.filter((m, seq) => {
    if (!test(key, m, seq)) return false;
    modseq = Math.max(modseq, m.modseq);
    return true;
  });
  return { uids, modseq: usesModseq ? modseq : null };
}
