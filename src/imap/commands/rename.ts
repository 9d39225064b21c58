// RFC 9051 §6.3.6 RENAME. Renaming INBOX moves its messages to the new mailbox and leaves INBOX
// in place, empty.
import { StoreError } from "../../store/errors.ts";
import { checkNewName, findMailbox, requireMailbox } from "../mailboxes.ts";
import { no } from "../errors.ts";
import type { CommandEntry } from "./types.ts";
import { AUTH } from "./types.ts";

export const rename: CommandEntry<"RENAME"> = {
  states: AUTH,
  async run(s, cmd) {
    const from = await requireMailbox(s, cmd.from);
    const to = checkNewName(cmd.to);
    if (to === "INBOX" || (await findMailbox(s, to))) throw no("Target exists", "ALREADYEXISTS");
    const store = s.deps.store;
    if (from.name === "INBOX") {
      const target = await store.mail.createMailbox(s.user().id, to);
      const uids = (await store.mail.listMessages(from.id)).map((m) => m.uid);
      if (uids.length) await store.mail.moveMessages(from.id, uids, target.id);
      s.publish(from.id);
      return;
    }
    // The mailbox and its children keep their ids and messages under new names; the index
    // forgets them, so nothing cached carries the old name (the next read costs one reload).
    const moved = (await store.mail.listMailboxes(s.user().id)).filter((m) => m.name === from.name || m.name.startsWith(from.name + "/"));
    try {
      await store.mail.renameMailbox(s.user().id, from.name, to);
    } catch (e) {
      if (e instanceof StoreError && e.code === "invalid") throw no(e.message, "CANNOT");
      throw e;
    }
    for (const m of moved) await s.statusCache.index.forget(m.id);
    if (s.state.kind === "selected" && s.state.view.mailboxId === from.id) s.state.view.name = to;
  },
};
