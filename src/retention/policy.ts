// Which limit applies to a mailbox: a pure function of the configuration, the user's address
// and the mailbox. The most specific setting wins, key by key: user over domain over server;
// a limit by mailbox name over the Junk/Trash limit. 0 means keep for ever (null here).
import type { MailboxRecord } from "../store/types.ts";
import { isJunkMailbox, isTrashMailbox } from "../spam/trainer.ts";
import type { RetentionConfig } from "./config-schema.ts";

export const DAY_MS = 86_400_000;

type Limits = { junkDays?: number; trashDays?: number; mailboxes?: Record<string, number> };

function byName(m: Record<string, number> | undefined, name: string): number | undefined {
  if (!m) return undefined;
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(m)) if (k.toLowerCase() === want) return v;
  return undefined;
}

/** Days after which messages saved into this mailbox are expunged, or null to keep them. */
export function retentionDays(cfg: RetentionConfig, address: string, mailbox: Pick<MailboxRecord, "name" | "specialUse">): number | null {
  const addr = address.toLowerCase();
  const domain = addr.slice(addr.lastIndexOf("@") + 1);
  const find = (o: Record<string, Limits>, key: string): Limits | undefined => {
    for (const [k, v] of Object.entries(o)) if (k.toLowerCase() === key) return v;
    return undefined;
  };
  const layers: Limits[] = [find(cfg.users, addr), find(cfg.domains, domain), cfg].filter((l): l is Limits => l !== undefined);
  let days: number | undefined;
  for (const l of layers) {
    days = byName(l.mailboxes, mailbox.name);
    if (days !== undefined) break;
  }
  if (days === undefined) {
    const key = isJunkMailbox(mailbox) ? "junkDays" : isTrashMailbox(mailbox) ? "trashDays" : null;
    if (key) for (const l of layers) if (l[key] !== undefined) { days = l[key]; break; }
  }
  return days === undefined || days === 0 ? null : days;
}
