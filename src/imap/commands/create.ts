// RFC 9051 §6.3.4 CREATE, with RFC 6154 §3 USE (CREATE-SPECIAL-USE).
import { StoreError } from "../../store/errors.ts";
import { checkNewName, findMailbox } from "../mailboxes.ts";
import { no } from "../errors.ts";
import { setOrphanSubscription } from "../subscriptions.ts";
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
    const parts = name.split("/");
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join("/");
      if (!(await findMailbox(s, parent))) {
        try {
          await s.deps.store.mail.createMailbox(s.user().id, parent);
        } catch (e) {
          if (!(e instanceof StoreError && e.code === "exists")) throw e;
        }
      }
    }
    await s.deps.store.mail.createMailbox(s.user().id, name, uses[0] ?? null);
    // New rows start subscribed, so a subscription kept for this name moves onto the row.
    await setOrphanSubscription(s.deps.store, s.user().id, name, false);
  },
};
