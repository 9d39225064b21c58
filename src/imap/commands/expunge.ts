// RFC 9051 §6.4.3 EXPUNGE and RFC 4315 §2.1 UID EXPUNGE. The EXPUNGE (or, with QRESYNC,
// VANISHED) responses are sent by the session's update step right after.
import type { MailboxView } from "../mailbox-view.ts";
import { no } from "../errors.ts";
import type { CommandEntry } from "./types.ts";
import { SELECTED } from "./types.ts";

export function deletedUids(view: MailboxView): number[] {
  return view.filter((m) => m.flags.some((f) => f.toLowerCase() === "\\deleted"));
}

export const expunge: CommandEntry<"EXPUNGE"> = {
  states: SELECTED,
  async run(s, cmd) {
    const view = s.view();
    if (view.readOnly) throw no("Mailbox is read-only", "READ-ONLY");
    // See the latest flags first: another session may have set \Deleted.
    await s.announce(cmd, true);
    let uids = deletedUids(view);
    if (cmd.uid && cmd.set) {
      const inSet = new Set(view.resolve(cmd.set, true, s.saved));
      uids = uids.filter((u) => inSet.has(u));
    }
    if (uids.length === 0) return;
    const r = await s.deps.store.mail.expunge(view.mailboxId, uids);
    view.markGone(r.uids);
    s.publish(view.mailboxId);
    await s.deps.search.remove(view.uidValidity, r.uids);
    if (s.condstore) return { text: "Expunged", code: { code: "HIGHESTMODSEQ", value: r.modseq } };
  },
};
