// RFC 9051 §6.3.5 DELETE.
import { requireMailbox } from "../mailboxes.ts";
import { no } from "../errors.ts";
import { deselect } from "./select.ts";
import type { CommandEntry } from "./types.ts";
import { AUTH } from "./types.ts";

export const del: CommandEntry<"DELETE"> = {
  states: AUTH,
  async run(s, cmd) {
    if (cmd.mailbox === "INBOX") throw no("INBOX cannot be deleted", "CANNOT"); // RFC 9051 §6.3.5
    const mb = await requireMailbox(s, cmd.mailbox);
    const all = await s.deps.store.mail.listMailboxes(s.user().id);
    // RFC 9051 §6.3.5: a server that does not keep \Noselect names refuses with [HASCHILDREN].
    if (all.some((m) => m.name.startsWith(mb.name + "/"))) throw no("Mailbox has children; delete them first", "HASCHILDREN");
    if (s.state.kind === "selected" && s.state.view.mailboxId === mb.id) await deselect(s);
    await s.deps.store.mail.deleteMailbox(s.user().id, mb.name);
    s.publish(mb.id);
    await s.deps.search.remove(mb.uidValidity, []);
  },
};
