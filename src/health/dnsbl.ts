// DNS blocklist (DNSBL/RHSBL) queries, RFC 5782. One IP or domain against one zone gives
// listed / clean / unknown, with the return codes. Shared on purpose (src/spam may use it later).
//
// RFC 5782 §2.1: an IPv4 address is queried with its octets reversed under the list's zone;
// §2.4: an IPv6 address in nibble form (32 reversed hex digits). §3: a domain list (RHSBL) is
// queried with the domain name itself under the zone. An A answer in 127.0.0.0/8 means listed,
// NXDOMAIN means not listed. §5: every list must list 127.0.0.2 (and, for RHSBLs, "test"),
// so asking for the test entry tells whether the list answers us at all.
//
// "unknown" is never "clean": a timeout, SERVFAIL, REFUSED, an answer outside 127/8 or an answer
// in 127.255.255.0/24 (Spamhaus: "your query was refused", e.g. through a public resolver) all
// mean we do not know.
import net from "node:net";
import { isNoRecord, reverseName } from "../dns/resolver.ts";
import type { ResolveFunction } from "../dns/resolver.ts";

export type ListStatus = "listed" | "clean" | "unknown";

export interface ListAnswer {
  status: ListStatus;
  /** The A records answered (return codes), empty when clean. */
  codes: string[];
  /** The TXT reason when listed and the list gave one. */
  reason?: string;
  /** Why the answer is unknown (a DNS error code or "refused-code"). */
  detail?: string;
}

/** The query name for an IP (RFC 5782 §2.1, §2.4) or a domain (§3) under a list zone. */
export function queryName(subject: string, zone: string): string {
  const z = zone.replace(/\.$/, "").toLowerCase();
  if (net.isIP(subject)) return `${reverseName(subject).replace(/\.(in-addr|ip6)\.arpa$/, "")}.${z}`;
  return `${subject.replace(/\.$/, "").toLowerCase()}.${z}`;
}

/** Classifies the A records of a DNSBL answer (pure). */
export function classifyCodes(codes: string[]): ListAnswer {
  if (codes.some((c) => c.startsWith("127.255.255."))) return { status: "unknown", codes, detail: "refused-code" };
  if (codes.length === 0 || codes.some((c) => !c.startsWith("127."))) return { status: "unknown", codes, detail: "bad-answer" };
  return { status: "listed", codes };
}

/** Asks one list about one IP or domain. `resolve` must be the one Resolver's (uncached for checks). */
export async function queryList(resolve: ResolveFunction, subject: string, zone: string): Promise<ListAnswer> {
  const name = queryName(subject, zone);
  let codes: string[];
  try {
    codes = await resolve(name, "A");
  } catch (err) {
    if (isNoRecord(err)) return { status: "clean", codes: [] };
    return { status: "unknown", codes: [], detail: (err as NodeJS.ErrnoException).code ?? String(err) };
  }
  const answer = classifyCodes(codes);
  if (answer.status === "listed") {
    try {
      const txt = await resolve(name, "TXT");
      if (txt.length > 0) answer.reason = txt.map((t) => t.join("")).join(" / ");
    } catch {
      // a list without TXT reasons is fine
    }
  }
  return answer;
}

/** The RFC 5782 §5 test subject: 127.0.0.2 for IP lists, "test" for domain lists. */
export function testSubject(kind: "ip" | "domain"): string {
  return kind === "ip" ? "127.0.0.2" : "test";
}

/**
 * Checks the list with its test entry first: if the test entry is not listed, or comes back
 * with a refused code, the list is unknown for every subject.
 */
export async function checkList(resolve: ResolveFunction, subject: string, zone: string, kind: "ip" | "domain"): Promise<ListAnswer> {
  const probe = await queryList(resolve, testSubject(kind), zone);
  if (probe.status !== "listed") return { status: "unknown", codes: probe.codes, detail: `test entry ${probe.status}${probe.detail ? ` (${probe.detail})` : ""}` };
  return queryList(resolve, subject, zone);
}

/** Spamhaus ZEN return codes (https://www.spamhaus.org/faq/section/DNSBL%20Usage). */
export function zenMeaning(code: string): { list: string; fix: string } | undefined {
  const last = Number(code.split(".")[3]);
  if (!code.startsWith("127.0.0.")) return undefined;
  if (last === 2 || last === 3) return { list: "SBL", fix: "the IP is a known spam source: find and stop the spam, then request removal at https://check.spamhaus.org" };
  if (last >= 4 && last <= 7) return { list: "XBL", fix: "a compromised host sends from this IP: clean it, then request removal at https://check.spamhaus.org" };
  if (last === 10 || last === 11) return { list: "PBL", fix: "the IP is in a range not meant to send mail directly: ask the provider to remove it from the PBL, or send through a relay" };
  return undefined;
}
