// RFC 5321 mailbox syntax (§4.1.2, §4.1.3) and size limits (§4.5.3.1): what an SMTP server may
// accept in MAIL FROM / RCPT TO. Stricter than RFC 5322: no comments, no folding white space, no
// obsolete forms, no general domain literals.

export type SmtpAddressVerdict =
  | { ok: true; local: string; domain: string }
  | { ok: false; reason: string };

// RFC 5321 §4.1.2: atext as in RFC 5322 §3.2.3.
const ATOM = "[A-Za-z0-9!#$%&'*+\\-/=?^_`{|}~]+";
const DOT_STRING = new RegExp(`^${ATOM}(?:\\.${ATOM})*$`);
// RFC 5321 §4.1.2: qtextSMTP = %d32-33 / %d35-91 / %d93-126; quoted-pairSMTP = "\" %d32-126.
const QUOTED_STRING = /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"$/;
// RFC 5321 §4.1.2: sub-domain = Let-dig [Ldh-str]; RFC 1035 §2.3.4: a label is at most 63 octets.
const SUB_DOMAIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
// RFC 5321 §4.1.3: Snum = 1*3DIGIT representing a decimal integer value in the range 0 through 255.
const SNUM = /^(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9]|0[0-9]{1,2})$/;

function ipv4(s: string): boolean {
  const p = s.split(".");
  return p.length === 4 && p.every((x) => SNUM.test(x));
}

// RFC 5321 §4.1.3 IPv6-addr = IPv6-full / IPv6-comp / IPv6v4-full / IPv6v4-comp.
function ipv6(s: string): boolean {
  let groups = 8;
  let body = s;
  const lastColon = s.lastIndexOf(":");
  if (s.slice(lastColon + 1).includes(".")) {
    if (!ipv4(s.slice(lastColon + 1))) return false;
    groups = 6;
    body = s.slice(0, lastColon + 1);
    if (!body.endsWith("::")) body = body.slice(0, -1);
  }
  const hex = /^[0-9A-Fa-f]{1,4}$/;
  const halves = body.split("::");
  if (halves.length > 2) return false;
  const parts = halves.map((h) => (h === "" ? [] : h.split(":")));
  if (!parts.every((p) => p.every((g) => hex.test(g)))) return false;
  const n = parts.reduce((a, p) => a + p.length, 0);
  // RFC 5321 §4.1.3: "::" represents at least 2 16-bit groups of zeros.
  return halves.length === 2 ? n <= groups - 2 : n === groups;
}

/** RFC 5321 §4.1.2 Mailbox = Local-part "@" ( Domain / address-literal ). */
export function checkSmtpMailbox(addr: string): SmtpAddressVerdict {
  const at = addr.lastIndexOf("@");
  if (at < 0) return { ok: false, reason: "no @domain" };
  const local = addr.slice(0, at);
  const domain = addr.slice(at + 1);
  if (local === "") return { ok: false, reason: "empty local part" };
  if (!DOT_STRING.test(local) && !QUOTED_STRING.test(local)) return { ok: false, reason: "invalid local part" };
  // §4.5.3.1.1: local part at most 64 octets.
  if (Buffer.byteLength(local) > 64) return { ok: false, reason: "local part longer than 64 octets" };
  if (domain === "") return { ok: false, reason: "empty domain" };
  if (domain.startsWith("[")) {
    if (!domain.endsWith("]")) return { ok: false, reason: "unterminated address literal" };
    const lit = domain.slice(1, -1);
    const ok = lit.toLowerCase().startsWith("ipv6:") ? ipv6(lit.slice(5)) : ipv4(lit);
    if (!ok) return { ok: false, reason: "invalid address literal" };
  } else {
    // §4.5.3.1.2: domain at most 255 octets; each label per RFC 1035.
    if (domain.length > 255) return { ok: false, reason: "domain longer than 255 octets" };
    if (!domain.split(".").every((l) => SUB_DOMAIN.test(l))) return { ok: false, reason: "invalid domain" };
  }
  // §4.5.3.1.3: a path is at most 256 octets including "<" and ">", so a mailbox at most 254.
  if (Buffer.byteLength(addr) > 254) return { ok: false, reason: "address longer than 254 octets" };
  return { ok: true, local, domain };
}
