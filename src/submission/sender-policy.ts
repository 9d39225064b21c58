// May this authenticated user send this message as this sender?
//
// Checked on the envelope (MAIL FROM) and on every mailbox of the From and Sender fields, because
// the envelope is what SPF and bounces see, and From is what DMARC aligns on and what a person
// reads. A user may use:
//   - their own address and their aliases (and the +tag forms of those, which deliver to them),
//   - any address in a domain they administer.
// Comparison is case-insensitive (RFC 5321 §2.4 allows case-sensitive local parts, but we never
// create two accounts that differ only in case) and IDN-aware: domains compare as lower-case
// A-labels, so "bücher.example" and "xn--bcher-kva.example" are the same domain.
//
// Refused, each with its own code (the submission handler answers 550 5.7.1 with the message):
//   - a MAIL FROM the user does not own                                     sender-not-owned
//   - no From field, or more than one (RFC 5322 §3.6: exactly one)           from-count
//   - a From, Sender or address field we cannot read unambiguously          unparseable
//   - a From with several mailboxes and no Sender (RFC 5322 §3.6.2)          sender-required
//   - more than one Sender field, or a Sender with other than one mailbox    sender-count
//   - any From/Sender mailbox the user does not own                          header-not-owned
//   - a display name or comment that shows an address other than the real   misleading-name
//     one: `"boss@x.example" <me@y.example>` makes most clients display the boss's address.
//     Only the addr-spec is the sender; a name that looks like a different address exists
//     only to mislead, so it is refused rather than rewritten (rewriting would still deliver
//     something the user did not write). A name equal to the real address is fine. The check
//     runs on the decoded name (RFC 2047) after NFKC folding, so "＠" (U+FF20) counts as "@".
// Resent-* fields are not checked: a redirect keeps the original author in From; the envelope
// check still binds the message to the user.
import { domainToASCII } from "node:url";
import { isHeaderGroup, mailboxesOf, parseAddressField } from "./header-addresses.ts";
import type { HeaderMailbox } from "./header-addresses.ts";

export interface SenderAuthority {
  /** The user's own address and their aliases. */
  addresses: readonly string[];
  /** Domains in which the user (a domain admin) may use any address. */
  domains: readonly string[];
  /** Accept local+tag@domain for an allowed local@domain (default true). */
  allowSubaddress?: boolean;
}

export type SenderRefusal =
  | "sender-not-owned"
  | "from-count"
  | "unparseable"
  | "sender-required"
  | "sender-count"
  | "header-not-owned"
  | "misleading-name";

export type SenderCheck =
  | { ok: true }
  | {
      ok: false;
      code: SenderRefusal;
      /** RFC 3463: 5.7.1 "delivery not authorized, message refused". */
      status: "5.7.1";
      message: string;
    };

function refuse(code: SenderRefusal, message: string): SenderCheck {
  return { ok: false, code, status: "5.7.1", message };
}

/** Lower-case A-label form of a domain; domain literals as written, lower-cased. */
export function normalizeDomain(domain: string): string {
  const d = domain.trim().replace(/\.$/, "");
  if (d.startsWith("[")) return d.toLowerCase();
  return (domainToASCII(d.normalize("NFC")) || d).toLowerCase();
}

/** The comparison form of an address: NFC, lower-case local part, A-label domain. */
export function normalizeAddress(address: string): string {
  const at = address.lastIndexOf("@");
  if (at <= 0) return address.normalize("NFC").toLowerCase();
  let local = address.slice(0, at).normalize("NFC");
  // A quoted local part that needs no quotes is the same mailbox as the bare one.
  const m = /^"((?:[^"\\]|\\.)*)"$/.exec(local);
  if (m) {
    const inner = m[1].replace(/\\(.)/g, "$1");
    if (/^[^.\s"\\(),:;<>@[\]]+(\.[^.\s"\\(),:;<>@[\]]+)*$/.test(inner)) local = inner;
  }
  return `${local.toLowerCase()}@${normalizeDomain(address.slice(at + 1))}`;
}

function mayUse(address: string, auth: SenderAuthority): boolean {
  const norm = normalizeAddress(address);
  const at = norm.lastIndexOf("@");
  if (at <= 0) return false;
  const domain = norm.slice(at + 1);
  if (auth.domains.some((d) => normalizeDomain(d) === domain)) return true;
  const owned = new Set(auth.addresses.map(normalizeAddress));
  if (owned.has(norm)) return true;
  if (auth.allowSubaddress ?? true) {
    const local = norm.slice(0, at);
    const plus = local.indexOf("+");
    if (plus > 0 && owned.has(`${local.slice(0, plus)}@${domain}`)) return true;
  }
  return false;
}

/** The envelope sender (MAIL FROM). "" (the null path) claims no one and is allowed. */
export function checkMailFrom(mailFrom: string, auth: SenderAuthority): SenderCheck {
  if (mailFrom === "") return { ok: true };
  return mayUse(mailFrom, auth) ? { ok: true } : refuse("sender-not-owned", `you may not send as <${mailFrom}>`);
}

// Something a reader would take for an address: word@word.
const ADDRESS_LIKE = /[^\s<>()[\]"',;:@]+@[^\s<>()[\]"',;:@]+/gu;

function misleading(mb: HeaderMailbox): string | null {
  const real = normalizeAddress(`${mb.local}@${mb.domain}`);
  for (const text of [mb.displayName, ...mb.comments]) {
    for (const m of text.normalize("NFKC").matchAll(ADDRESS_LIKE)) {
      const shown = m[0].replace(/^[.<]+|[.>]+$/g, "");
      if (normalizeAddress(shown) !== real) return shown;
    }
  }
  return null;
}

export interface HeaderField {
  /** Field name as written. */
  name: string;
  /** Unfolded value. */
  value: string;
}

/** Splits a header block (bytes up to the blank line) into unfolded fields. */
export function readHeaderFields(header: Buffer | string): HeaderField[] {
  let text: string;
  if (typeof header === "string") text = header;
  else {
    // RFC 6532: header fields may be UTF-8; anything else is read byte for byte.
    const utf8 = header.toString("utf8");
    text = utf8.includes("\uFFFD") ? header.toString("latin1") : utf8;
  }
  const end = text.search(/\r?\n\r?\n/);
  if (end >= 0) text = text.slice(0, end);
  const out: HeaderField[] = [];
  for (const line of text.split(/\r?\n/)) {
    if ((line.startsWith(" ") || line.startsWith("\t")) && out.length > 0) {
      out[out.length - 1].value += line;
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    out.push({ name: line.slice(0, colon).replace(/[ \t]+$/, ""), value: line.slice(colon + 1) });
  }
  return out;
}

/** The From and Sender fields of a header block. */
export function checkHeaderSenders(header: Buffer | string, auth: SenderAuthority): SenderCheck {
  const fields = readHeaderFields(header);
  const from = fields.filter((f) => f.name.toLowerCase() === "from");
  const sender = fields.filter((f) => f.name.toLowerCase() === "sender");
  if (from.length !== 1) {
    return refuse("from-count", from.length === 0 ? "the message has no From field" : "the message has more than one From field");
  }
  if (sender.length > 1) return refuse("sender-count", "the message has more than one Sender field");

  const fromParsed = parseAddressField(from[0].value);
  if (!fromParsed.ok) return refuse("unparseable", `cannot read the From field: ${fromParsed.error}`);
  const fromBoxes = mailboxesOf(fromParsed.items);
  if (fromBoxes.length === 0) return refuse("from-count", "the From field names no mailbox");

  const boxes: { field: string; mb: HeaderMailbox }[] = fromBoxes.map((mb) => ({ field: "From", mb }));
  if (sender.length === 1) {
    const s = parseAddressField(sender[0].value);
    if (!s.ok) return refuse("unparseable", `cannot read the Sender field: ${s.error}`);
    // RFC 5322 §3.6.2: sender = "Sender:" mailbox CRLF — one mailbox, no group.
    if (s.items.length !== 1 || isHeaderGroup(s.items[0])) return refuse("sender-count", "the Sender field must name exactly one mailbox");
    boxes.push({ field: "Sender", mb: s.items[0] });
  } else if (fromBoxes.length > 1) {
    // RFC 5322 §3.6.2: with more than one author, "the sender field MUST appear".
    return refuse("sender-required", "a From field with several mailboxes needs a Sender field");
  }

  for (const { field, mb } of boxes) {
    const shown = misleading(mb);
    if (shown !== null) {
      return refuse("misleading-name", `the ${field} display name shows ${shown}, which is not the address <${mb.local}@${mb.domain}>`);
    }
    if (!mayUse(`${mb.local}@${mb.domain}`, auth)) {
      return refuse("header-not-owned", `you may not send with ${field}: <${mb.local}@${mb.domain}>`);
    }
  }
  return { ok: true };
}

/** Both checks, envelope first: what the submission listener calls after DATA. */
export function checkSubmissionSender(mailFrom: string, header: Buffer | string, auth: SenderAuthority): SenderCheck {
  const env = checkMailFrom(mailFrom, auth);
  return env.ok ? checkHeaderSenders(header, auth) : env;
}
