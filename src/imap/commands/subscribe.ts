// RFC 9051 §6.3.7 SUBSCRIBE and §6.3.8 UNSUBSCRIBE. A subscription is a name: for a mailbox it
// lives on the row; a name without a mailbox (never created, or deleted) is kept as an orphan
// subscription (subscriptions.ts) and listed \\NonExistent.
import { findMailbox } from "../mailboxes.ts";
import { setOrphanSubscription } from "../subscriptions.ts";
import type { CommandEntry } from "./types.ts";
import { AUTH } from "./types.ts";

export const subscribe: CommandEntry<"SUBSCRIBE"> = {
  states: AUTH,
  async run(s, cmd) {
    const mb = await findMailbox(s, cmd.mailbox);
    if (mb) await s.deps.store.mail.setSubscribed(mb.id, true);
    else await setOrphanSubscription(s.deps.store, s.user().id, cmd.mailbox, true);
  },
};

export const unsubscribe: CommandEntry<"UNSUBSCRIBE"> = {
  states: AUTH,
  async run(s, cmd) {
    const mb = await findMailbox(s, cmd.mailbox);
    if (mb) await s.deps.store.mail.setSubscribed(mb.id, false);
    await setOrphanSubscription(s.deps.store, s.user().id, cmd.mailbox, false);
  },
};
