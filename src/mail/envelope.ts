// ENVELOPE (RFC 3501 §7.4.2, RFC 9051 §7.5.2) from a message's header block. Strings are latin1
// (one char per stored byte) and already in the form sent on the wire.
import { isGroup, parseAddressList, type AddressItem, type Mailbox } from "./address.ts";
import { fieldValue, parseHeaderFields } from "./header.ts";
import { forHumans, type ImapValue } from "./imap-string.ts";

/** One ENVELOPE address: (name adl mailbox host); group start is (NIL NIL name NIL), end is all NIL. */
export interface EnvelopeAddress {
  name: string | null;
  adl: string | null;
  mailbox: string | null;
  host: string | null;
}

export interface Envelope {
  date: string | null;
  subject: string | null;
  from: EnvelopeAddress[] | null;
  sender: EnvelopeAddress[] | null;
  replyTo: EnvelopeAddress[] | null;
  to: EnvelopeAddress[] | null;
  cc: EnvelopeAddress[] | null;
  bcc: EnvelopeAddress[] | null;
  inReplyTo: string | null;
  messageId: string | null;
}

// RFC 3501 §7.4.2: "If the host name field is NIL, this is a group syntax". A mailbox that lacks a
// domain (or a local part) must therefore never be sent with NIL there, or clients would read it
// as a group marker. Like Dovecot, fill the gap with a visible placeholder.
export const MISSING_MAILBOX = "MISSING_MAILBOX";
export const MISSING_DOMAIN = "MISSING_DOMAIN";

function humanName(s: string | null): string | null {
  if (s === null) return null;
  return forHumans(Buffer.from(s, "latin1")).toString("latin1");
}

function toEnvelopeMailbox(m: Mailbox): EnvelopeAddress {
  // A comment stands in for a missing display name ("user@host (Real Name)", RFC 5322 §3.4 note).
  const name = m.name ?? m.nameComment;
  return {
    name: humanName(name),
    adl: m.route,
    mailbox: m.local ?? MISSING_MAILBOX,
    host: m.domain ?? MISSING_DOMAIN,
  };
}

/** Address list → ENVELOPE address list; null for an empty list (RFC 3501: NIL, not "()"). */
export function envelopeAddresses(items: AddressItem[]): EnvelopeAddress[] | null {
  const out: EnvelopeAddress[] = [];
  for (const it of items) {
    if (isGroup(it)) {
      out.push({ name: null, adl: null, mailbox: it.group, host: null });
      for (const m of it.members) out.push(toEnvelopeMailbox(m));
      out.push({ name: null, adl: null, mailbox: null, host: null });
    } else {
      // An item with neither a name, a local part nor a domain carries nothing, except "<>" (the
      // null address, RFC 5321 §4.5.5), which is kept as an entry like Dovecot does.
      if (it.name === null && it.local === null && it.domain === null && !it.angle) continue;
      out.push(toEnvelopeMailbox(it));
    }
  }
  return out.length > 0 ? out : null;
}

const ADDRESS_FIELDS = new Set(["from", "sender", "reply-to", "to", "cc", "bcc"]);
const FIELDS = new Set(["date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc", "in-reply-to", "message-id"]);

/** The ENVELOPE of the header block [start, end) of `buf`. */
export function buildEnvelope(buf: Buffer, start: number, end: number): Envelope {
  // RFC 5322 §3.6 allows each of these once. When a message repeats one, as Dovecot does: the
  // last date, subject and message ids win, and address lists are joined (no address is lost).
  const last = new Map<string, Buffer>();
  const lists = new Map<string, AddressItem[]>();
  for (const f of parseHeaderFields(buf, start, end)) {
    if (!f.colon || !FIELDS.has(f.key)) continue;
    const v = fieldValue(buf, f);
    last.set(f.key, v);
    if (ADDRESS_FIELDS.has(f.key)) lists.set(f.key, [...(lists.get(f.key) ?? []), ...parseAddressList(v.toString("latin1"))]);
  }
  const str = (k: string): string | null => {
    const v = last.get(k);
    return v === undefined ? null : v.toString("latin1");
  };
  const addrs = (k: string): EnvelopeAddress[] | null => {
    const v = lists.get(k);
    return v === undefined ? null : envelopeAddresses(v);
  };
  const subject = last.get("subject");
  const from = addrs("from");
  return {
    date: str("date"),
    subject: subject === undefined ? null : forHumans(subject).toString("latin1"),
    from,
    // RFC 3501 §7.4.2: sender and reply-to default to from when absent.
    sender: addrs("sender") ?? from,
    replyTo: addrs("reply-to") ?? from,
    to: addrs("to"),
    cc: addrs("cc"),
    bcc: addrs("bcc"),
    inReplyTo: str("in-reply-to"),
    messageId: str("message-id"),
  };
}

function addrValue(list: EnvelopeAddress[] | null): ImapValue {
  return list === null ? null : list.map((a) => [a.name, a.adl, a.mailbox, a.host]);
}

/** The ENVELOPE as an IMAP value list (render with renderImap). */
export function envelopeValue(e: Envelope): ImapValue {
  return [
    e.date,
    e.subject,
    addrValue(e.from),
    addrValue(e.sender),
    addrValue(e.replyTo),
    addrValue(e.to),
    addrValue(e.cc),
    addrValue(e.bcc),
    e.inReplyTo,
    e.messageId,
  ];
}
