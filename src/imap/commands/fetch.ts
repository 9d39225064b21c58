// RFC 9051 §6.4.5 FETCH and §6.4.9 UID FETCH; RFC 7162 CHANGEDSINCE and VANISHED.
import type { FetchAtt } from "../protocol/commands.ts";
import type { BlobDamage, MessageRecord } from "../../store/types.ts";
import type { ResponseChunk } from "../protocol/wire-values.ts";
import { vanishedResponse } from "../protocol/response.ts";
import { fetchItems, fetchLine, goneItems, loadMessage, metadataLine, metadataOnly, needsRecord, setsSeen, UnknownCte } from "../fetch.ts";
import type { MailboxView } from "../mailbox-view.ts";
import type { Session } from "../session.ts";
import { bad, ImapError, no } from "../errors.ts";
import type { CommandEntry } from "./types.ts";
import { SELECTED } from "./types.ts";

export const fetch: CommandEntry<"FETCH"> = {
  states: SELECTED,
  async run(s, cmd) {
    const view = s.view();
    if (cmd.vanished && (!cmd.uid || cmd.changedSince === null)) throw bad("VANISHED needs UID FETCH with CHANGEDSINCE"); // RFC 7162 §3.2.6
    if (cmd.vanished && !s.qresync) throw bad("QRESYNC is not enabled");
    const atts: FetchAtt[] = [...cmd.atts];
    const has = (k: string): boolean => atts.some((a) => a.kind === k);
    // RFC 9051 §6.4.9: UID FETCH always returns UID; RFC 7162 §3.1.4.1: CHANGEDSINCE implies MODSEQ.
    if (cmd.uid && !has("UID")) atts.unshift({ kind: "UID" });
    if (has("MODSEQ") || cmd.changedSince !== null) await s.enableCondstore();
    if (cmd.changedSince !== null && !has("MODSEQ")) atts.push({ kind: "MODSEQ" });
    let uids = view.resolve(cmd.set, cmd.uid, s.saved);
    if (cmd.changedSince !== null) {
      const since = Number(cmd.changedSince);
      uids = uids.filter((u) => view.get(u)!.modseq > since);
      if (cmd.vanished && cmd.set.kind === "set") {
        // RFC 7162 §3.2.6: expunged UIDs in the set, since the given MODSEQ.
        const requested = new Set(view.resolve(cmd.set, true, s.saved));
        const max = view.lastUid();
        const gone = (await s.deps.store.mail.listExpunged(view.mailboxId, since)).filter((u) => {
          if (requested.has(u)) return true;
          return cmd.set.kind === "set" && cmd.set.ranges.some((r) => {
            const a = r.start === "*" ? max : r.start;
            const b = r.end === "*" ? max : r.end;
            return u >= Math.min(a, b) && u <= Math.max(a, b);
          });
        });
        await s.send(vanishedResponse(gone, true));
      }
    }
    const preChecked = new Map<number, BlobDamage | null>();
    const markSeen = !view.readOnly && atts.some(setsSeen);
    if (markSeen) {
      const unseen = uids.filter((u) => {
        return !view.isGone(u) && !view.flagsOf(u).some((f) => f.toLowerCase() === "\\seen");
      });
      // A message whose stored body is missing or damaged gets NO [CORRUPTION] below, not its
      // body: it must not be marked \Seen either (RFC 9051 §6.4.5 sets \Seen only when the body
      // is returned). Its blob is checked here once and the result kept for the loop.
      if (unseen.length && s.deps.blobs.check) {
        for (let i = 0; i < unseen.length; i += 500) {
          for (const r of await s.deps.store.mail.getMessages(view.mailboxId, unseen.slice(i, i + 500))) {
            preChecked.set(r.uid, await s.deps.blobs.check(r.blobId));
          }
        }
      }
      const toMark = unseen.filter((u) => !preChecked.get(u));
      if (toMark.length) {
        const changes = await s.deps.store.mail.setFlags(view.mailboxId, toMark, ["\\Seen"], "add");
        for (const c of changes) view.setFlags(c.uid, c.flags, c.modseq, false);
        if (changes.length) s.publish(view.mailboxId);
        // RFC 9051 §6.4.5: the changed FLAGS are returned as part of the response; RFC 7162 §3.1:
        // with CONDSTORE on, a FETCH that implicitly set \Seen reports the new MODSEQ too.
        if (!has("FLAGS")) atts.push({ kind: "FLAGS" });
        if (s.condstore && changes.length && !has("MODSEQ")) atts.push({ kind: "MODSEQ" });
      }
    }
    if (metadataOnly(atts)) {
      await fetchMetadata(s, view, uids, atts);
      return;
    }
    const needsFull = atts.some(needsRecord);
    let expungeIssued = false;
    const damaged: number[] = [];
    // Responses are written in batches of about 64 KiB: one write per message would cost a
    // syscall and a drain check each on FETCH 1:* of a large mailbox.
    let batch: ResponseChunk[] = [];
    let batchBytes = 0;
    const flush = async (): Promise<void> => {
      if (batch.length) await s.send(batch);
      batch = [];
      batchBytes = 0;
    };
    const recentOn = s.showsRecent;
    // The stored rows one query per 500 messages, read from committed rows (readCommitted: no
    // wait for another session's write batch; a message this view holds is committed, and its
    // blob, size and envelope never change; flags come from the view).
    let rows = new Map<number, MessageRecord>();
    let k = 0;
    for (const uid of uids) {
      if (needsFull && k++ % 500 === 0) {
        const next = uids.slice(k - 1, k + 499);
        rows = new Map((await s.deps.store.readCommitted((tx) => tx.mail.getMessages(view.mailboxId, next))).map((r) => [r.uid, r]));
      }
      const m = view.get(uid)!;
      const gone = view.isGone(uid);
      const recent = recentOn && view.isRecent(uid);
      let items;
      // Bodies need the stored row; a message expunged elsewhere has none any more.
      const full = needsFull && !gone ? (rows.get(uid) ?? null) : null;
      try {
        if (needsFull && (gone || !full)) throw new Gone();
        // The blob is checked before anything of this message is written: a literal, once
        // announced, must be sent whole, so a missing or damaged file is found here, not midway.
        const damage = full && s.deps.blobs.check ? (preChecked.has(uid) ? preChecked.get(uid)! : await s.deps.blobs.check(full.blobId)) : null;
        if (damage) throw new Damaged(damage);
        items = await fetchItems(s, m, full, atts, () => loadMessage(s.deps.blobs, full!), recent);
      } catch (e) {
        if (e instanceof UnknownCte) throw no(e.message, "UNKNOWN-CTE");
        const lost = e instanceof Damaged || (e as NodeJS.ErrnoException).code === "ENOENT" || (e instanceof Error && /not found|missing/i.test(e.message));
        // A file gone while its row is still there is damage, not an expunge: the collector
        // unlinks a blob only after the last row naming it was deleted.
        if (lost && !(e instanceof Gone) && full && (await s.deps.store.mail.getMessages(view.mailboxId, [uid])).length > 0) {
          const d = e instanceof Damaged ? e.damage : { blobId: full.blobId, kind: "missing", detail: (e as Error).message };
          s.log.error({ mailboxId: view.mailboxId, uid, blob: d }, "message blob missing or damaged");
          damaged.push(uid);
          continue;
        }
        if (e instanceof Gone || lost) {
          // RFC 2180 §4.1.3: expunged by another session and not yet announced here: the
          // session answers OK with what the view still holds and NIL for the content.
          expungeIssued = true;
          items = goneItems(m, atts, recent);
        } else throw e;
      }
      for (const c of fetchLine(view.seqOf(uid), items)) {
        batch.push(c);
        batchBytes += Buffer.isBuffer(c) ? c.length : c.size;
      }
      view.markShown(uid);
      if (batchBytes >= 65_536) await flush();
    }
    await flush();
    // RFC 9051 §6.4.5: NO is "fetch error: can't fetch that data"; RFC 5530 §3 CORRUPTION. The
    // other messages were answered and the session goes on; the log line names each blob.
    if (damaged.length) {
      throw new ImapError("NO", `Stored data of UID ${damaged.slice(0, 10).join(",")}${damaged.length > 10 ? ",…" : ""} is missing or damaged; the server log names it`, { code: "CORRUPTION" }, false);
    }
    // RFC 5530 §3 EXPUNGEISSUED: some messages were expunged by another session meanwhile; the
    // command still succeeds (RFC 2180 §4.1.3; Dovecot answers the same OK [EXPUNGEISSUED]).
    if (expungeIssued) return { text: "Some messages were already expunged", code: { code: "EXPUNGEISSUED" } };
  },
};

class Gone extends Error {}

class Damaged extends Error {
  readonly damage: BlobDamage;
  constructor(d: BlobDamage) {
    super(d.detail);
    this.damage = d;
  }
}

/**
 * FETCH of flags, UIDs, dates and sizes only: answered from the view with no store access,
 * written in pieces of 2,000 messages (~70 KiB; back-pressure applies between pieces).
 * Messages expunged elsewhere keep their metadata in the view and are answered like the others
 * until the EXPUNGE is announced (RFC 9051 §7.5.1 allows either).
 */
async function fetchMetadata(s: Session, view: MailboxView, uids: number[], atts: FetchAtt[]): Promise<void> {
  const STEP = 2000;
  const recentOn = s.showsRecent;
  for (let k = 0; k < uids.length; k += STEP) {
    let text = "";
    view.visit(uids.slice(k, k + STEP), (seq, m) => {
      text += metadataLine(seq, m, atts, recentOn && view.isRecent(m.uid));
    });
    if (text) await s.send([Buffer.from(text, "utf8")]);
  }
}
