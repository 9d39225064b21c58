// RFC 9051 §6.4.2 CLOSE (silently expunges \Deleted when read-write) and RFC 3691 UNSELECT.
import { deselect } from "./select.ts";
import { deletedUids } from "./expunge.ts";
import type { CommandEntry } from "./types.ts";
import { SELECTED } from "./types.ts";

export const close: CommandEntry<"CLOSE"> = {
  states: SELECTED,
  async run(s) {
    const view = s.view();
    if (!view.readOnly) {
      const uids = deletedUids(view);
      if (uids.length) {
        const r = await s.deps.store.mail.expunge(view.mailboxId, uids);
        if (r.uids.length) s.publish(view.mailboxId);
      }
    }
    // No EXPUNGE responses: the client leaves the mailbox (RFC 9051 §6.4.2).
    s.watch(null);
    s.state = { kind: "authenticated", user: s.user() };
  },
};

export const unselect: CommandEntry<"UNSELECT"> = {
  states: SELECTED,
  async run(s) {
    await deselect(s);
  },
};
