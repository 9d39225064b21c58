// The mailboxes every new user gets, with their RFC 6154 special-use attributes so clients
// (Thunderbird, iOS Mail, Outlook) file sent mail, drafts and deleted mail in the same places.
import type { SpecialUse } from "../store/types.ts";

export const DEFAULT_MAILBOXES: ReadonlyArray<{ name: string; specialUse: SpecialUse | null }> = [
  // INBOX is not a special-use mailbox in RFC 6154; "\\Inbox" is only JMAP's role (RFC 8621
  // §2), so we leave its attribute empty and IMAP LIST shows none for it.
  { name: "INBOX", specialUse: null },
  { name: "Sent", specialUse: "\\Sent" },
  { name: "Drafts", specialUse: "\\Drafts" },
  { name: "Trash", specialUse: "\\Trash" },
  { name: "Junk", specialUse: "\\Junk" },
  { name: "Archive", specialUse: "\\Archive" },
];
