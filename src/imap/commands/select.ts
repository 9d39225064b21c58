// RFC 9051 §6.3.2 SELECT, §6.3.3 EXAMINE; RFC 7162 §3.1.8 (CONDSTORE) and §3.2.5 (QRESYNC).
import { selectResponses, untaggedStatus, vanishedResponse } from "../protocol/response.ts";
import { intervalsContain, resolveSequenceSet } from "../protocol/sequence-set.ts";
import { MailboxView } from "../mailbox-view.ts";
import { requireMailbox } from "../mailboxes.ts";
import { SYSTEM_FLAGS, fetchLine, flagsText, shownFlags } from "../fetch.ts";
import { bad, nonexistent } from "../errors.ts";
import type { Session } from "../session.ts";
import type { CommandEntry } from "./types.ts";
import { AUTH } from "./types.ts";

/** Leave the selected mailbox, if any (no EXPUNGE of \Deleted: that is CLOSE's job). */
export async function deselect(s: Session): Promise<void> {
  if (s.state.kind !== "selected") return;
  s.watch(null);
  s.state = { kind: "authenticated", user: s.state.user };
  // RFC 7162 §3.2.11, RFC 9051 §6.3.2: with QRESYNC or IMAP4rev2 the client learns where the old
  // mailbox's responses end.
  if (s.qresync || s.mode.rev2) await s.send(untaggedStatus("OK", "Previous mailbox closed", { code: "CLOSED" }));
}

export const select: CommandEntry<"SELECT" | "EXAMINE"> = {
  states: AUTH,
  async run(s, cmd) {
    if (cmd.qresync && !s.qresync) throw bad("QRESYNC is not enabled"); // RFC 7162 §3.2.5
    await deselect(s);
    const user = s.user();
    const named = await requireMailbox(s, cmd.name === "SELECT" || cmd.name === "EXAMINE" ? cmd.mailbox : "");
    if (cmd.condstore || cmd.qresync) s.condstore = true;
    // The server's mailbox index: a copy of its columns, caught up with the store, instead of
    // reading and decoding every message row (the cost of SELECT on a large mailbox).
    const snap = await s.statusCache.index.snapshot(s.deps.store, named.id);
    if (!snap) throw nonexistent();
    const mb = snap.mb;
    const view = new MailboxView(mb, snap.columns, cmd.name === "EXAMINE");
    const keywords = new Set<string>();
    for (const set of view.flagSets()) for (const f of set) if (!f.startsWith("\\")) keywords.add(f);
    view.initKeywords(keywords);
    const firstUnseen = view.firstUnseen();
    const flags = [...SYSTEM_FLAGS, ...keywords];
    // RFC 3501 §2.3.2: SELECT claims the messages no session has seen as \Recent; EXAMINE only
    // counts them (recent.ts). IMAP4rev2 sessions have no \Recent and claim nothing.
    const recent = await s.claimRecent(view);
    s.recentReported(recent);
    await s.send(
      selectResponses(s.mode, {
        name: mb.name,
        flags,
        permanentFlags: view.readOnly ? [] : [...flags, "\\*"],
        exists: view.exists,
        recent,
        firstUnseen,
        uidValidity: mb.uidValidity,
        uidNext: mb.uidNext,
        highestModseq: mb.highestModseq,
        condstore: s.condstore,
        listAttributes: mb.specialUse ? [mb.specialUse] : [],
      }),
    );
    s.state = { kind: "selected", user, view };
    s.watch(view);
    const q = cmd.qresync;
    if (q && q.uidValidity === mb.uidValidity) {
      // RFC 7162 §3.2.5.2: VANISHED (EARLIER) for UIDs expunged since the client's MODSEQ, then
      // FETCH for what changed, both limited to the UIDs the client says it knows.
      const since = Number(q.modseq);
      const known = q.knownUids && q.knownUids.kind === "set" ? resolveSequenceSet(q.knownUids.ranges, Math.max(mb.uidNext - 1, 1)) : null;
      const inKnown = (u: number): boolean => (known ? intervalsContain(known, u) : true);
      const gone = (await s.deps.store.mail.listExpunged(mb.id, since)).filter(inKnown);
      await s.send(vanishedResponse(gone, true));
      for (const m of view.changedSince(since)) {
        if (!inKnown(m.uid)) continue;
        await s.send(
          fetchLine(view.seqOf(m.uid), [
            { name: "UID", value: Buffer.from(String(m.uid)) },
            { name: "FLAGS", value: Buffer.from(flagsText(shownFlags(s, view, m.uid, m.flags))) },
            { name: "MODSEQ", value: Buffer.from(`(${m.modseq})`) },
          ]),
        );
      }
    }
    return { text: `${cmd.name} completed`, code: { code: view.readOnly ? "READ-ONLY" : "READ-WRITE" } };
  },
};
