// RFC 9051 §6.4.7 COPY and RFC 6851 MOVE, with RFC 4315 COPYUID and RFC 9208 quota checks.
import { effectiveQuota, checkQuota } from "../../accounts/quota.ts";
import { untaggedStatus } from "../protocol/response.ts";
import type { ResponseCode } from "../protocol/response.ts";
import { requireTarget } from "../mailboxes.ts";
import { no } from "../errors.ts";
import type { CommandEntry } from "./types.ts";
import { SELECTED } from "./types.ts";

export const copy: CommandEntry<"COPY" | "MOVE"> = {
  states: SELECTED,
  async run(s, cmd) {
    const view = s.view();
    if (cmd.name === "MOVE" && view.readOnly) throw no("Mailbox is read-only", "READ-ONLY");
    const target = await requireTarget(s, cmd.mailbox);
    const uids = view.resolve(cmd.set, cmd.uid, s.saved).filter((u) => !view.isGone(u));
    if (uids.length === 0) return { text: `${cmd.name} completed (nothing to do)` };
    const user = s.user();
    if (cmd.name === "COPY" || target.id !== view.mailboxId) {
      // RFC 9208 §4.3: COPY adds storage; MOVE within one account does not, but between
      // mailboxes of the same user it is neutral, so only COPY is checked.
      const quota = effectiveQuota(user, s.deps.defaultQuotaBytes);
      if (cmd.name === "COPY" && quota > 0) {
        const bytes = uids.reduce((a, u) => a + view.get(u)!.size, 0);
        const usage = await s.deps.store.mail.userUsage(user.id);
        if (!checkQuota(usage.bytes, quota, bytes).ok) throw no("Quota exceeded", "OVERQUOTA");
      }
    }
    const mail = s.deps.store.mail;
    const actions = s.deps.userActions;
    // The source's record for the user-actions hook (spam training: into or out of Junk).
    const source = actions ? await mail.getMailboxById(view.mailboxId) : null;
    if (cmd.name === "COPY") {
      const r = await mail.copyMessages(view.mailboxId, uids, target.id);
      s.publish(target.id);
      if (actions && source) actions.copied(user.id, source, target, r.pairs.map((p) => p[1]));
      const code: ResponseCode = { code: "COPYUID", uidValidity: r.uidValidity, from: r.pairs.map((p) => p[0]), to: r.pairs.map((p) => p[1]) };
      return r.pairs.length ? { text: "COPY completed", code } : { text: "COPY completed" };
    }
    const r = await mail.moveMessages(view.mailboxId, uids, target.id);
    s.publish(target.id);
    if (actions && source) actions.copied(user.id, source, target, r.pairs.map((p) => p[1]));
    // RFC 6851 §4.3: COPYUID goes in an untagged OK before the EXPUNGE responses.
    if (r.pairs.length) {
      await s.send(untaggedStatus("OK", "Moved", { code: "COPYUID", uidValidity: r.uidValidity, from: r.pairs.map((p) => p[0]), to: r.pairs.map((p) => p[1]) }));
    }
    view.markGone(r.expunged.uids);
    s.publish(view.mailboxId);
    await s.deps.search.remove(view.uidValidity, r.expunged.uids);
    if (s.condstore) return { text: "MOVE completed", code: { code: "HIGHESTMODSEQ", value: r.expunged.modseq } };
  },
};
