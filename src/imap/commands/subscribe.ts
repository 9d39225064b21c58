// RFC 9051 §6.3.7 SUBSCRIBE and §6.3.8 UNSUBSCRIBE. Subscriptions live on the mailbox row.
import { requireMailbox, findMailbox } from "../mailboxes.ts";
import type { CommandEntry } from "./types.ts";
import { AUTH } from "./types.ts";

export const subscribe: CommandEntry<"SUBSCRIBE"> = {
  states: AUTH,
  async run(s, cmd) {
    const mb = await requireMailbox(s, cmd.mailbox);
    await s.deps.store.mail.setSubscribed(mb.id, true);
  },
};

export const unsubscribe: CommandEntry<"UNSUBSCRIBE"> = {
  states: AUTH,
  async run(s, cmd) {
    // RFC 9051 §6.3.8: unsubscribing a name that is not subscribed is not an error for us.
    const mb = await findMailbox(s, cmd.mailbox);
    if (mb) await s.deps.store.mail.setSubscribed(mb.id, false);
  },
};
