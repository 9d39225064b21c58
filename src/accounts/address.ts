// Address and domain syntax for accounts. Local parts of our own addresses are compared
// case-insensitively (RFC 5321 §2.4 leaves that to the receiving server; every mainstream server
// does so) and NFC-normalised (RFC 6531 §3.2 lets local parts be UTF-8). Domains are compared as
// lower-case A-labels (RFC 5890), so `Example.COM` and IDNs in U-label form find the same domain.
import { domainToASCII } from "node:url";
import { AccountError } from "./errors.ts";

/** The +tag separator: `bob+news@example.com` reaches `bob@example.com`. */
export const TAG_SEPARATOR = "+";

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Lower-case A-label form of a domain, or null if it is not a valid host name. */
export function normalizeDomain(input: string): string | null {
  let s = input.trim().replace(/\.$/, "");
  if (s === "" || s.length > 253) return null;
  // domainToASCII returns "" for invalid names and converts U-labels to A-labels (UTS #46).
  s = domainToASCII(s.toLowerCase());
  if (s === "" || s.length > 253) return null;
  const labels = s.split(".");
  return labels.every((l) => LABEL.test(l) || /^xn--[a-z0-9-]+$/.test(l)) ? s : null;
}

// RFC 5322 §3.2.3 atext, plus "." between atoms; non-ASCII allowed (RFC 6531 §3.3 UTF8-non-ascii).
// "+" is reserved as the tag separator and not allowed in our own users' and aliases' names.
const OUR_LOCAL = /^[a-z0-9!#$%&'*/=?^_`{|}~\u0080-\uffff-]+(\.[a-z0-9!#$%&'*/=?^_`{|}~\u0080-\uffff-]+)*$/u;
// For external targets we accept the full dot-atom (with "+") or a quoted string.
const ANY_LOCAL = /^([A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\uffff-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\uffff-]+)*|"([^"\\\r\n]|\\[^\r\n])*")$/u;

export interface ParsedAddress {
  /** As normalised: lower-case for our own names, as given for external targets. */
  local: string;
  domain: string;
}

/** Lower-cased, NFC local part. */
export function normalizeLocal(local: string): string {
  return local.normalize("NFC").toLowerCase();
}

/** Split at the last "@" (quoted local parts may contain "@"). */
export function splitAddress(address: string): { local: string; domain: string } | null {
  const at = address.lastIndexOf("@");
  if (at < 0) return null;
  return { local: address.slice(0, at), domain: address.slice(at + 1) };
}

/**
 * An address for one of our users or aliases (`local@domain`), normalised. `allowCatchAll`
 * admits `@domain`. Throws AccountError "invalid" with a message for the operator.
 */
export function parseOwnAddress(input: string, opts: { allowCatchAll?: boolean } = {}): ParsedAddress {
  const s = input.trim();
  const parts = splitAddress(s);
  if (!parts) throw new AccountError("invalid", `"${input}" is not an address (expected name@domain)`);
  const domain = normalizeDomain(parts.domain);
  if (!domain) throw new AccountError("invalid", `"${parts.domain}" is not a valid domain name`);
  const local = normalizeLocal(parts.local);
  if (local === "") {
    if (opts.allowCatchAll) return { local: "", domain };
    throw new AccountError("invalid", `"${input}" has no name before the @`);
  }
  // RFC 5321 §4.5.3.1.1: a local part is at most 64 octets.
  if (Buffer.byteLength(local) > 64) throw new AccountError("invalid", `"${parts.local}" is longer than 64 bytes`);
  if (local.includes(TAG_SEPARATOR)) {
    throw new AccountError("invalid", `"${parts.local}" contains "+", which is reserved for tags (name+tag@domain)`);
  }
  if (!OUR_LOCAL.test(local)) throw new AccountError("invalid", `"${parts.local}" is not a valid name (letters, digits, . - _ and a few symbols)`);
  return { local, domain };
}

/**
 * An alias target: any syntactically valid address, local or external. The domain is
 * normalised; the local part is kept as given (an external server may treat case as significant,
 * RFC 5321 §2.4), and lower-cased later if the domain turns out to be ours.
 */
export function parseTarget(input: string): ParsedAddress {
  const s = input.trim();
  const parts = splitAddress(s);
  if (!parts || parts.local === "") throw new AccountError("invalid", `alias target "${input}" is not an address (expected name@domain)`);
  const domain = normalizeDomain(parts.domain);
  if (!domain) throw new AccountError("invalid", `alias target "${input}": "${parts.domain}" is not a valid domain name`);
  const local = parts.local.normalize("NFC");
  if (Buffer.byteLength(local) > 64 || !ANY_LOCAL.test(local)) {
    throw new AccountError("invalid", `alias target "${input}": "${parts.local}" is not a valid local part`);
  }
  return { local, domain };
}

export function formatAddress(a: ParsedAddress): string {
  return `${a.local}@${a.domain}`;
}
