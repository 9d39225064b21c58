// The Received header field (RFC 5321 §4.4) with RFC 3848 / RFC 6531 §4.3 "with" keywords and
// the TLS parameters in a comment. Built from plain inputs so the storage layer can rebuild it,
// and tested on its own.
import { isValidAddressLiteral, isValidDomain } from "./address.ts";
import type { Envelope, SessionInfo, TlsInfo } from "./types.ts";
import net from "node:net";

export interface ReceivedInput {
  /** HELO/EHLO/LHLO argument; undefined when none was given. */
  readonly heloName?: string;
  readonly heloVerb?: "HELO" | "EHLO" | "LHLO";
  readonly remoteAddress: string;
  /** Verified reverse DNS name. */
  readonly remoteName?: string;
  /** Our host name (By-domain). */
  readonly serverName: string;
  readonly tls?: TlsInfo;
  readonly authenticated: boolean;
  /** The transaction used SMTPUTF8 (RFC 6531 §4.3). */
  readonly smtputf8: boolean;
  /** Our message or queue id (RFC 5321 §4.4 ID clause). */
  readonly id?: string;
  /** The recipients; a `for` clause is added only when there is exactly one (RFC 5321 §7.2). */
  readonly recipients: readonly string[];
  readonly date: Date;
}

/**
 * RFC 3848 §2 and RFC 6531 §4.3: SMTP (HELO), ESMTP, ESMTPA, ESMTPS, ESMTPSA, LMTP...,
 * UTF8SMTP, UTF8SMTPA, UTF8SMTPS, UTF8SMTPSA, UTF8LMTP... "S" means TLS, "A" authenticated.
 */
export function withKeyword(input: Pick<ReceivedInput, "heloVerb" | "tls" | "authenticated" | "smtputf8">): string {
  if (input.heloVerb === "HELO" || input.heloVerb === undefined) return "SMTP";
  const base = input.heloVerb === "LHLO" ? "LMTP" : "ESMTP";
  const suffix = (input.tls ? "S" : "") + (input.authenticated ? "A" : "");
  if (input.smtputf8) return `UTF8${base === "LMTP" ? "LMTP" : "SMTP"}${suffix}`;
  return base + suffix;
}

/** RFC 5321 §4.1.3 address literal for an IP. */
export function addressLiteral(ip: string): string {
  return net.isIPv6(ip) ? `[IPv6:${ip}]` : `[${ip}]`;
}

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** RFC 5322 §3.3 date-time in UTC, e.g. "Mon, 23 Nov 2026 16:36:51 +0000". */
export function rfc5322Date(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${WEEKDAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

function commentSafe(s: string): string {
  // Inside a comment, "(", ")" and "\" would need quoting; client-supplied text is stripped of
  // them (and of anything that could end the header line).
  return s.replace(/[()\\\r\n\0]/g, "");
}

/** The builder's inputs from a session and its envelope; `id` is the caller's message id. */
export function receivedInputFromSession(info: SessionInfo, envelope: Pick<Envelope, "recipients" | "mailParams">, date: Date, id?: string): ReceivedInput {
  return {
    heloName: info.helo?.name,
    heloVerb: info.helo?.verb,
    remoteAddress: info.remoteAddress,
    remoteName: info.remoteName,
    serverName: info.serverName,
    tls: info.tls,
    authenticated: info.authUser !== undefined,
    smtputf8: envelope.mailParams.smtputf8,
    recipients: envelope.recipients.map((r) => r.mailbox.address),
    date,
    id,
  };
}

/** The header field, folded, ending with CRLF. */
export function buildReceived(input: ReceivedInput): string {
  const ipLit = addressLiteral(input.remoteAddress);
  const helo = input.heloName;
  // RFC 5321 §4.4 From-domain = "FROM" FWS Extended-Domain: the HELO name only when it is
  // syntactically a Domain or address literal; otherwise "unknown", as Postfix writes it.
  const heloOk = helo !== undefined && (helo.startsWith("[") ? isValidAddressLiteral(helo) : isValidDomain(helo, true));
  const fromDomain = heloOk ? helo! : "unknown";
  const tcpInfo = input.remoteName && isValidDomain(input.remoteName, true) ? `${input.remoteName} ${ipLit}` : ipLit;
  const lines: string[] = [`Received: from ${fromDomain} (${tcpInfo})`];
  if (helo !== undefined && !heloOk) lines[0] += ` (helo=${commentSafe(helo).slice(0, 64)})`;
  let by = `by ${input.serverName} (Freehold) with ${withKeyword(input)}`;
  if (input.id !== undefined) by += ` id ${input.id}`;
  lines.push(by);
  if (input.tls) lines.push(`(version=${commentSafe(input.tls.protocol)} cipher=${commentSafe(input.tls.cipher)})`);
  const date = rfc5322Date(input.date);
  if (input.recipients.length === 1 && input.recipients[0].includes("@")) lines.push(`for <${input.recipients[0]}>; ${date}`);
  else lines.push(`; ${date}`);
  // Fold before each clause (RFC 5322 §2.2.3); the date stays on the `for` line or its own.
  let out = lines[0];
  for (let i = 1; i < lines.length; i++) {
    out += lines[i].startsWith(";") ? lines[i] : `\r\n\t${lines[i]}`;
  }
  return `${out}\r\n`;
}
