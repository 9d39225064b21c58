// Mail paths (RFC 5321 §4.1.2), with RFC 6531 §3.3 internationalised forms when the client
// used SMTPUTF8. Pure parsing; which addresses are local or allowed is policy elsewhere.

export interface Mailbox {
  /** The local part as the mailbox sees it: quotes removed, quoted-pairs resolved. */
  readonly localPart: string;
  /** The domain as sent, or the address literal including its brackets. */
  readonly domain: string;
  readonly isAddressLiteral: boolean;
  /** Canonical text: dot-string local parts bare, others re-quoted. */
  readonly address: string;
}

export interface ParsedPath {
  /** null for the null reverse-path "<>". */
  readonly mailbox: Mailbox | null;
  /** RCPT TO:<Postmaster> without a domain (RFC 5321 §4.1.1.3). */
  readonly postmaster: boolean;
  /**
   * Source route domains (A-d-l) that were present and are ignored. RFC 5321 Appendix C:
   * servers "MUST recognize source route syntax but SHOULD strip off the source route
   * specification and utilize the domain name associated with the mailbox". Relay policy then
   * judges the final mailbox alone, so `<@a:b@c>` is treated as `<b@c>`.
   */
  readonly sourceRoute: readonly string[];
  /** Whatever follows the closing ">" (the parameters, with leading space). */
  readonly rest: string;
  /** The path came without angle brackets (accepted only with `unbracketed`). */
  readonly unbracketed: boolean;
}

export class PathSyntaxError extends Error {
  override name = "PathSyntaxError";
}

// RFC 5321 §4.5.3.1.1-3: size limits.
const MAX_LOCAL = 64;
const MAX_DOMAIN = 255;
const MAX_PATH = 256;

// RFC 5321 §4.1.2 atext (RFC 5322 §3.2.3), plus UTF8-non-ascii under RFC 6531 §3.3.
const ATEXT_ASCII = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]$/;

function isAtext(ch: string, utf8: boolean): boolean {
  return ATEXT_ASCII.test(ch) || (utf8 && ch.codePointAt(0)! > 127);
}

const LDH_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/;
const ULABEL = /^[\p{L}\p{N}\p{M}](?:[\p{L}\p{N}\p{M}-]*[\p{L}\p{N}\p{M}])?$/u;

/** RFC 5321 §4.1.2 Domain, with U-labels under RFC 6531 §3.3. */
export function isValidDomain(domain: string, utf8: boolean): boolean {
  if (domain.length === 0 || Buffer.byteLength(domain) > MAX_DOMAIN) return false;
  for (const label of domain.split(".")) {
    if (label.length === 0 || label.length > 63) return false;
    if (LDH_LABEL.test(label)) continue;
    if (utf8 && ULABEL.test(label)) continue;
    return false;
  }
  return true;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** RFC 5321 §4.1.3 address literals: [IPv4], [IPv6:...], [tag:text]. */
export function isValidAddressLiteral(lit: string): boolean {
  if (!lit.startsWith("[") || !lit.endsWith("]")) return false;
  const inner = lit.slice(1, -1);
  if (IPV4.test(inner)) return true;
  const colon = inner.indexOf(":");
  if (colon <= 0) return false;
  const tag = inner.slice(0, colon);
  const value = inner.slice(colon + 1);
  if (tag.toLowerCase() === "ipv6") return isIPv6(value);
  // General-address-literal: Standardized-tag ":" 1*dcontent (%d33-90 / %d94-126).
  return LDH_LABEL.test(tag) && /^[\x21-\x5a\x5e-\x7e]+$/.test(value);
}

function isIPv6(s: string): boolean {
  // The shapes RFC 5321 §4.1.3 allows: full, compressed, and with an embedded IPv4 tail.
  const v4tail = s.match(/^(.*:)(\d+\.\d+\.\d+\.\d+)$/);
  let head = s;
  let groups = 8;
  if (v4tail) {
    if (!IPV4.test(v4tail[2])) return false;
    head = v4tail[1].endsWith("::") ? v4tail[1] : v4tail[1].slice(0, -1);
    groups = 6;
  }
  const hex = /^[0-9A-Fa-f]{1,4}$/;
  const dbl = head.indexOf("::");
  if (dbl === -1) {
    const parts = head.split(":");
    return parts.length === groups && parts.every((p) => hex.test(p));
  }
  if (head.indexOf("::", dbl + 1) !== -1) return false;
  const left = head.slice(0, dbl);
  const right = head.slice(dbl + 2);
  const l = left === "" ? [] : left.split(":");
  const r = right === "" ? [] : right.split(":");
  return l.length + r.length <= groups - 1 && [...l, ...r].every((p) => hex.test(p));
}

/** RFC 5321 §4.1.2 Dot-string. */
export function isDotString(s: string, utf8: boolean): boolean {
  if (s.length === 0) return false;
  for (const atom of s.split(".")) {
    if (atom.length === 0) return false;
    for (const ch of atom) if (!isAtext(ch, utf8)) return false;
  }
  return true;
}

function quoteLocal(local: string): string {
  return `"${local.replace(/(["\\])/g, "\\$1")}"`;
}

/** Parses Local-part "@" (Domain / address-literal) starting at s[i]; returns it and the end. */
function parseMailbox(s: string, i: number, utf8: boolean): { mailbox: Mailbox; end: number } {
  let local: string;
  let quoted = false;
  if (s[i] === '"') {
    // RFC 5321 §4.1.2 Quoted-string: qtextSMTP = %d32-33 / %d35-91 / %d93-126,
    // quoted-pairSMTP = "\" %d32-126.
    quoted = true;
    local = "";
    i++;
    for (;;) {
      if (i >= s.length) throw new PathSyntaxError("unterminated quoted local part");
      const cp = s.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      if (ch === '"') {
        i++;
        break;
      }
      if (ch === "\\") {
        const next = s.charCodeAt(i + 1);
        if (!(next >= 32 && next <= 126)) throw new PathSyntaxError("bad quoted-pair");
        local += s[i + 1];
        i += 2;
        continue;
      }
      const okAscii = cp === 32 || cp === 33 || (cp >= 35 && cp <= 91) || (cp >= 93 && cp <= 126);
      if (!okAscii && !(utf8 && cp > 127)) throw new PathSyntaxError("bad character in quoted local part");
      local += ch;
      i += ch.length;
    }
  } else {
    const at = s.indexOf("@", i);
    if (at === -1) throw new PathSyntaxError("missing @");
    local = s.slice(i, at);
    if (!isDotString(local, utf8)) throw new PathSyntaxError("bad local part");
    i = at;
  }
  if (s[i] !== "@") throw new PathSyntaxError("missing @");
  i++;
  const close = s.indexOf(">", i);
  if (close === -1) throw new PathSyntaxError("missing >");
  const domain = s.slice(i, close);
  const isLiteral = domain.startsWith("[");
  if (isLiteral ? !isValidAddressLiteral(domain) : !isValidDomain(domain, utf8)) throw new PathSyntaxError("bad domain");
  if (Buffer.byteLength(local) > MAX_LOCAL) throw new PathSyntaxError("local part longer than 64 octets");
  const text = quoted && !isDotString(local, utf8) ? quoteLocal(local) : local;
  return {
    mailbox: { localPart: local, domain, isAddressLiteral: isLiteral, address: `${text}@${domain}` },
    end: close,
  };
}

export interface PathOptions {
  readonly utf8: boolean;
  readonly allowNull: boolean;
  readonly allowPostmaster: boolean;
  /**
   * Take a path without angle brackets, "FROM:user@example.com SIZE=1" (Postfix with
   * strict_rfc821_envelopes = no, its default): the path is everything up to the first space.
   */
  readonly unbracketed?: boolean;
}

/**
 * Parses a Path or Reverse-path at the start of `s` (the text after "FROM:" or "TO:").
 * `utf8`: the transaction uses SMTPUTF8 (RFC 6531), so non-ASCII is allowed.
 */
export function parsePath(s: string, opts: PathOptions): ParsedPath {
  if (s[0] !== "<") {
    // RFC 5321 §4.1.2 requires the brackets; old scripts and some appliances leave them out.
    if (!opts.unbracketed || s === "" || s[0] === " ") throw new PathSyntaxError("path must be enclosed in <>");
    const sp = s.indexOf(" ");
    const bare = sp === -1 ? s : s.slice(0, sp);
    if (bare.includes("<") || bare.includes(">")) throw new PathSyntaxError("path must be enclosed in <>");
    return { ...parseBracketed(`<${bare}>${s.slice(bare.length)}`, opts), unbracketed: true };
  }
  return parseBracketed(s, opts);
}

function parseBracketed(s: string, opts: PathOptions): ParsedPath {
  if (s.startsWith("<>")) {
    if (!opts.allowNull) throw new PathSyntaxError("null path not allowed here");
    return { mailbox: null, postmaster: false, sourceRoute: [], rest: s.slice(2), unbracketed: false };
  }
  // RFC 5321 §4.1.1.3: "<Postmaster>" without a domain, case-insensitive.
  if (opts.allowPostmaster && s.slice(0, 12).toLowerCase() === "<postmaster>") {
    return {
      mailbox: { localPart: "postmaster", domain: "", isAddressLiteral: false, address: "postmaster" },
      postmaster: true,
      sourceRoute: [],
      rest: s.slice(12),
      unbracketed: false,
    };
  }
  let i = 1;
  const route: string[] = [];
  if (s[i] === "@") {
    // A-d-l ":" — recognised and ignored (Appendix C).
    const colon = s.indexOf(":", i);
    if (colon === -1) throw new PathSyntaxError("bad source route");
    for (const hop of s.slice(i, colon).split(",")) {
      if (!hop.startsWith("@") || !isValidDomain(hop.slice(1), opts.utf8)) throw new PathSyntaxError("bad source route");
      route.push(hop.slice(1));
    }
    i = colon + 1;
  }
  const { mailbox, end } = parseMailbox(s, i, opts.utf8);
  if (Buffer.byteLength(s.slice(0, end + 1)) > MAX_PATH) throw new PathSyntaxError("path longer than 256 octets");
  return { mailbox, postmaster: false, sourceRoute: route, rest: s.slice(end + 1), unbracketed: false };
}

/** True when `s` has any non-ASCII character (RFC 6531 decides whether that is allowed). */
export function hasNonAscii(s: string): boolean {
  return /[^\x00-\x7f]/.test(s);
}
