// What CAPABILITY advertises. A capability is listed only when a wire test under test/imap/
// asserts its untagged responses (issue 3); docs/imap.md lists the RFCs and their status.
import type { Session } from "./session.ts";
import { isLoopbackIp } from "../smtp/ip.ts";

/** Extensions available after login (RFC 9051 §6.1.1 lets the list change with state). */
const AUTHENTICATED = [
  "IMAP4rev1",
  "IMAP4rev2", // RFC 9051, after ENABLE IMAP4rev2
  "UTF8=ACCEPT", // RFC 6855
  "LITERAL+", // RFC 7888
  "SASL-IR", // RFC 4959
  "ID", // RFC 2971
  "ENABLE", // RFC 5161
  "IDLE", // RFC 2177
  "NAMESPACE", // RFC 2342
  "UNSELECT", // RFC 3691
  "UIDPLUS", // RFC 4315
  "MOVE", // RFC 6851
  "CHILDREN", // RFC 3348
  "LIST-EXTENDED", // RFC 5258
  "LIST-STATUS", // RFC 5819
  "SPECIAL-USE", // RFC 6154
  "CREATE-SPECIAL-USE", // RFC 6154 §3
  "CONDSTORE", // RFC 7162
  "QRESYNC", // RFC 7162
  "ESEARCH", // RFC 4731
  "SEARCHRES", // RFC 5182
  "QUOTA", // RFC 9208
  "QUOTA=RES-STORAGE",
  "BINARY", // RFC 3516
  "STATUS=SIZE", // RFC 8438
  "COMPRESS=DEFLATE", // RFC 4978
];

export function capabilities(s: Session): string[] {
  const caps = ["IMAP4rev1", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE"];
  if (s.state.kind === "not-authenticated") {
    const canStartTls = s.t.listener.role === "imap" && !s.t.tls && s.t.listener.tls === "starttls" && s.t.listener.secureContext !== undefined;
    if (canStartTls) caps.push("STARTTLS");
    if (mayLogin(s)) caps.push("AUTH=PLAIN");
    // RFC 9051 §6.2.3: LOGINDISABLED until the connection is protected.
    else caps.push("LOGINDISABLED");
    return caps;
  }
  return [...AUTHENTICATED, `APPENDLIMIT=${s.limits.maxAppendSize}`];
}

/**
 * Whether a password may be sent on this connection (RFC 9051 §6.2.3, §11.1: not in the clear;
 * LOGINDISABLED until STARTTLS). A loopback peer counts as a secure channel, as in Dovecot: the
 * bytes never leave the host, so TLS would protect nothing (config imap.allowPlaintextOnLoopback,
 * default true; turn it off when a proxy on this host forwards remote clients over loopback).
 */
export function plaintextLoginAllowed(c: { tls: boolean; remoteAddress: string; allowOnLoopback: boolean; testOverride?: boolean }): boolean {
  return c.tls || c.testOverride === true || (c.allowOnLoopback && isLoopbackIp(c.remoteAddress));
}

export function mayLogin(s: Session): boolean {
  return plaintextLoginAllowed({
    tls: s.t.tls,
    remoteAddress: s.t.remoteAddress,
    allowOnLoopback: s.deps.allowPlaintextOnLoopback ?? true,
    testOverride: s.deps.allowPlaintextAuth,
  });
}
