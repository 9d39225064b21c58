// Which failures suppress a recipient. Only replies that say the address itself does not work
// (RFC 3463 §3.2 addressing and §3.3 mailbox status), never a full mailbox, a policy refusal or
// a blocklisting (those are about the message or the sender, and would suppress good
// addresses): 5.1.1 bad destination mailbox, 5.1.2 bad destination system, 5.1.3 bad address
// syntax, 5.1.6 mailbox moved, 5.1.10 null MX (RFC 7505 §4.2), 5.2.1 mailbox disabled.
export const HARD_BOUNCE_STATUSES = new Set(["5.1.1", "5.1.2", "5.1.3", "5.1.6", "5.1.10", "5.2.1"]);

export function isHardBounce(status: string | null | undefined): boolean {
  return status != null && HARD_BOUNCE_STATUSES.has(status.trim());
}

/** The domain part of an address, lower-case ("" for the null sender). */
export function domainOf(address: string): string {
  const at = address.lastIndexOf("@");
  return at < 0 ? "" : address.slice(at + 1).toLowerCase().replace(/\.$/, "");
}
