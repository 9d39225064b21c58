// RFC 9051 §6.3.4 CREATE, with RFC 6154 §3 USE (CREATE-SPECIAL-USE).
import { StoreError } from "../../store/errors.ts";
import { checkNewName, findMailbox } from "../mailboxes.ts";
import { no } from "../errors.ts";
import { orphanSubscriptions, setOrphanSubscription } from "../subscriptions.ts";
import type { CommandEntry } from "./types.ts";
import { AUTH } from "./types.ts";

const SPECIAL = new Set(["\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash"]);

export const create: CommandEntry<"CREATE"> = {
  states: AUTH,
  async run(s, cmd) {
    const name = checkNewName(cmd.mailbox);
    if (name === "INBOX") throw no("INBOX always exists", "ALREADYEXISTS");
    const uses = cmd.specialUse.map((u) => [...SPECIAL].find((x) => x.toLowerCase() === u.toLowerCase()) ?? u);
    // RFC 6154 §3: unknown or several uses (we keep one per mailbox) → NO [USEATTR].
    if (uses.length > 1 || uses.some((u) => !SPECIAL.has(u))) throw no("Unsupported special use", "USEATTR");
    if (await findMailbox(s, name)) throw no("Mailbox already exists", "ALREADYEXISTS");
    // RFC 9051 §6.3.4: create missing superior levels too, so each level is a real mailbox.
    // CREATE does not subscribe: only SUBSCRIBE adds a name to the subscribed list (RFC 9051
    // §6.3.7), as in Dovecot. The default mailboxes made with the account start subscribed, as
    // Dovecot's `auto = subscribe` does for special-use mailboxes (Debian's default config uses
    // `auto = no`: it creates none, so a client would see no Sent or Trash to subscribe to).
    // Rows start subscribed, so each new row is unsubscribed in the same transaction, and a
    // subscription kept for this name (subscriptions.ts) moves onto the row.
    const userId = s.user().id;
    const kept = new Set(await orphanSubscriptions(s.deps.store, userId));
    const parts = name.split("/");
    const made = await s.deps.store.transaction(async (tx) => {
      const made: string[] = [];
      for (let i = 1; i <= parts.length; i++) {
        const level = parts.slice(0, i).join("/");
        const last = i === parts.length;
        if (!last && (await tx.mail.getMailbox(userId, level))) continue;
        try {
          const mb = await tx.mail.createMailbox(userId, level, last ? (uses[0] ?? null) : null);
          if (!kept.has(level)) await tx.mail.setSubscribed(mb.id, false);
          made.push(level);
        } catch (e) {
          if (last || !(e instanceof StoreError && e.code === "exists")) throw e;
        }
      }
      return made;
    });
    for (const level of made) if (kept.has(level)) await setOrphanSubscription(s.deps.store, userId, level, false);
  },
};
