// RFC 9051 §6.4.6 STORE with RFC 7162 §3.1.3 UNCHANGEDSINCE. The check and the change run in
// one store transaction, so a concurrent change between them cannot slip through.
import type { FlagMode } from "../../store/types.ts";
import { fetchLine, flagsText, shownFlags } from "../fetch.ts";
import { no } from "../errors.ts";
import type { ResponseCode } from "../protocol/response.ts";
import type { CommandEntry } from "./types.ts";
import { SELECTED } from "./types.ts";

const MODES: Record<"set" | "add" | "remove", FlagMode> = { set: "replace", add: "add", remove: "remove" };

export const store: CommandEntry<"STORE"> = {
  states: SELECTED,
  async run(s, cmd) {
    const view = s.view();
    if (view.readOnly) throw no("Mailbox is read-only", "READ-ONLY");
    if (cmd.unchangedSince !== null) await s.enableCondstore();
    const uids = view.resolve(cmd.set, cmd.uid, s.saved).filter((u) => !view.isGone(u));
    // \Recent cannot be stored (RFC 3501 §2.3.2).
    const flags = cmd.flags.filter((f) => f.toLowerCase() !== "\\recent");
    const since = cmd.unchangedSince === null ? null : Number(cmd.unchangedSince);
    const mailboxId = view.mailboxId;
    const { changes, modified } = await s.deps.store.transaction(async (tx) => {
      let todo = uids;
      const modified: number[] = [];
      if (since !== null) {
        // RFC 7162 §3.1.3: messages changed after UNCHANGEDSINCE are left alone and reported.
        const recent = new Set((await tx.mail.listChangedSince(mailboxId, since)).map((m) => m.uid));
        todo = uids.filter((u) => {
          if (recent.has(u)) modified.push(u);
          return !recent.has(u);
        });
      }
      const changes = todo.length ? await tx.mail.setFlags(mailboxId, todo, flags, MODES[cmd.op]) : [];
      return { changes, modified };
    });
    for (const c of changes) view.setFlags(c.uid, c.flags, c.modseq, true);
    if (changes.length) s.deps.userActions?.flagsStored(s.user().id, mailboxId, MODES[cmd.op], flags, changes.map((c) => c.uid));
    if (changes.length) s.publish(mailboxId);
    // RFC 3501 §7.2.6: a keyword new to the mailbox is announced in FLAGS before the FETCH
    // responses that carry it (as Dovecot does).
    const kw = s.keywordUpdate(view);
    if (kw.length) await s.send(kw);
    const changed = new Map(changes.map((c) => [c.uid, c]));
    const modSet = new Set(modified);
    for (const uid of uids) {
      if (modSet.has(uid)) continue;
      const c = changed.get(uid);
      // RFC 7162 §3.1.3: with UNCHANGEDSINCE, .SILENT still reports MODSEQ of changed messages.
      if (cmd.silent && !(c && since !== null)) continue;
      const m = view.get(uid)!;
      const items = [];
      if (cmd.uid || s.qresync) items.push({ name: "UID", value: Buffer.from(String(uid)) });
      if (!cmd.silent) items.push({ name: "FLAGS", value: Buffer.from(flagsText(shownFlags(s, view, uid, m.flags))) });
      if (s.condstore) items.push({ name: "MODSEQ", value: Buffer.from(`(${m.modseq})`) });
      if (items.length) await s.send(fetchLine(view.seqOf(uid), items));
      view.markShown(uid);
    }
    if (modified.length) {
      // RFC 7162 §3.1.3: message numbers (or UIDs for UID STORE) that failed the test.
      const set = cmd.uid ? modified : modified.map((u) => view.seqOf(u));
      const code: ResponseCode = { code: "MODIFIED", set };
      return { text: "Conditional STORE failed", code };
    }
  },
};
