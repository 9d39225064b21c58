// XML text for the autoconfiguration documents. Everything that comes from a request or the
// database goes through xmlText(): the five predefined entities are escaped (XML 1.0 §2.4) and
// characters XML 1.0 cannot carry at all (§2.2 Char: most C0 controls, lone surrogates, U+FFFE/F)
// are refused rather than passed on, so no input can add elements or break the document.
import { parseOwnAddress, formatAddress } from "../../accounts/address.ts";

const NOT_XML_CHAR = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function isXmlSafe(s: string): boolean {
  return !NOT_XML_CHAR.test(s);
}

/** Escapes text for element content and attribute values. Throws on characters XML cannot hold. */
export function xmlText(s: string): string {
  if (!isXmlSafe(s)) throw new Error("text contains characters XML 1.0 cannot represent");
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]!);
}

/**
 * An address as a client sent it (Thunderbird's emailaddress=, Outlook's EMailAddress, the JSON
 * form's Email=): at most 254 octets (RFC 5321 §4.5.3.1.3 path less the brackets), one of our
 * address forms, lower-cased. Null when it is not one.
 */
export function parseClientAddress(input: string): { address: string; domain: string } | null {
  const s = input.trim();
  if (s.length === 0 || Buffer.byteLength(s) > 254 || !isXmlSafe(s)) return null;
  try {
    const a = parseOwnAddress(s);
    return { address: formatAddress(a), domain: a.domain };
  } catch {
    return null;
  }
}
