// Mailbox lookups shared by the commands: names arrive decoded and NFC (see mutf7.ts); these
// helpers add the existence checks and the response codes (RFC 5530 NONEXISTENT, TRYCREATE).
import type { MailboxRecord } from "../store/types.ts";
import { mailboxNameProblem } from "./mutf7.ts";
import { ImapError, no } from "./errors.ts";
import type { Session } from "./session.ts";

export const DELIMITER = "/";

export async function findMailbox(s: Session, name: string): Promise<MailboxRecord | null> {
  return s.deps.store.mail.getMailbox(s.user().id, name);
}

/** The mailbox or NO [NONEXISTENT] (RFC 5530 §3). */
export async function requireMailbox(s: Session, name: string): Promise<MailboxRecord> {
  const mb = await findMailbox(s, name);
  if (!mb) throw no("No such mailbox", "NONEXISTENT");
  return mb;
}

/** For APPEND/COPY/MOVE targets: RFC 9051 §6.3.12 answers a missing one with [TRYCREATE]. */
export async function requireTarget(s: Session, name: string): Promise<MailboxRecord> {
  const mb = await findMailbox(s, name);
  if (!mb) throw no("Mailbox does not exist", "TRYCREATE");
  return mb;
}

/** RFC 9051 §6.3.4: names with wildcards, empty levels or control characters are refused. */
export function checkNewName(name: string): string {
  const trimmed = name.endsWith(DELIMITER) ? name.slice(0, -1) : name;
  const problem = mailboxNameProblem(name, DELIMITER);
  if (problem) throw new ImapError("NO", problem, { code: "CANNOT" });
  if (trimmed.length > 1000) throw new ImapError("NO", "Mailbox name too long", { code: "LIMIT" });
  return trimmed;
}
