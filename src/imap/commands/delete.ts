// RFC 9051 §6.3.5 DELETE.
import { requireMailbox } from "../mailboxes.ts";
import { no } from "../errors.ts";
import { deselect } from "./select.ts";
import { setOrphanSubscription } from "../subscriptions.ts";
import { recentClaims } from "../recent.ts";
import type { CommandEntry } from "./types.ts";
import { AUTH } from "./types.ts";

export const del: CommandEntry<"DELETE"> = {
  states: AUTH,
  async run(s, cmd) {
    if (cmd.mailbox === "INBOX") throw no("INBOX cannot be deleted", "CANNOT"); // RFC 9051 §6.3.5
    const mb = await requireMailbox(s, cmd.mailbox);
    // RFC 9051 §6.3.5: deleting a mailbox with children removes its messages and leaves the
    // name as \Noselect. The row goes; LIST shows the name as a level that exists only through
    // its children (\Noselect, or \NonExistent with LIST-EXTENDED), and a later CREATE gets a
    // new UIDVALIDITY.
    if (s.state.kind === "selected" && s.state.view.mailboxId === mb.id) await deselect(s);
    await s.deps.store.mail.deleteMailbox(s.user().id, mb.name);
    // Nothing cached under its id may outlive it (the index checks UIDVALIDITY too), nor its
    // search documents (keyed by its UIDVALIDITY, which no other mailbox will have).
    await s.statusCache.index.forget(mb.id);
    await s.deps.search.removeMailbox(mb.uidValidity);
    // RFC 9051 §6.3.5: DELETE does not unsubscribe; the name stays subscribed, \\NonExistent.
    if (mb.subscribed) await setOrphanSubscription(s.deps.store, s.user().id, mb.name, true);
    s.publish(mb.id);
    await recentClaims(s.deps.store).forget(mb.userId, mb.id, mb.uidValidity); // its \Recent horizon (recent.ts)
  },
};
