// DNS blocklists (DNSBL/RHSBL), RFC 5782: the one module both the spam filter (src/spam: the
// client IP and message domains, per message) and the health checks (src/health: our own IPs and
// domains, `freehold check`) use. Every lookup goes through the one Resolver (src/dns).
//
// RFC 5782 §2.1: an IPv4 address is queried with its octets reversed under the list's zone;
// §2.4: an IPv6 address in nibble form (32 reversed hex digits). §2.2/§3: a domain list (RHSBL)
// is queried with the domain name itself under the zone. An A answer in 127.0.0.0/8 means listed
// (§2.3: lists answer within 127/8), NXDOMAIN (and NODATA) means not listed. §5: every list must
// list 127.0.0.2 (and, for domain lists, "test"), so asking for the test entry tells whether
// the list answers us at all; the health checks ask it first, the per-message filter does not.
//
// "unknown" is never "clean" (both callers): a timeout, SERVFAIL or REFUSED, an answer outside
// 127/8 (a wildcarding resolver) or an answer in 127.255.255.0/24 (Spamhaus "Return codes":
// 127.255.255.252/254/255 for a refused query — a public or open resolver, over the free-use
// limit, a typo in the zone) all mean we do not know.
import { isNoRecord } from "../dns/resolver.ts";
import type { ResolveFunction, Resolver } from "../dns/resolver.ts";

export type ListStatus = "listed" | "clean" | "unknown";

export interface ListAnswer {
  status: ListStatus;
  /** The A records answered (return codes), empty when clean. */
  codes: string[];
  /** The TXT reason when listed and the list gave one. */
  reason?: string;
  /** Why the answer is unknown (a DNS error code, "refused-code" or "bad-answer"). */
  detail?: string;
}

/** The spam filter's shape of one list's answer (src/spam/verdict.ts). */
export type ListResult = { state: "listed"; codes: string[] } | { state: "clean" } | { state: "unknown"; why: string };

export const DEFAULT_IP_ZONES = ["zen.spamhaus.org", "bl.spamcop.net", "b.barracudacentral.org", "psbl.surriel.com"];
export const DEFAULT_DOMAIN_ZONES = ["dbl.spamhaus.org", "multi.surbl.org"];

/** Lists `freehold check` asks about our own IPs: the filter's plus UCEPROTECT level 1. */
export const HEALTH_IP_ZONES = ["zen.spamhaus.org", "bl.spamcop.net", "b.barracudacentral.org", "dnsbl-1.uceprotect.net", "psbl.surriel.com"];
export const HEALTH_DOMAIN_ZONES = DEFAULT_DOMAIN_ZONES;

/** The 32 hex digits of an IPv6 address, or null. */
export function expandIPv6(ip: string): string | null {
  const a = ip.toLowerCase().replace(/%.*$/, "");
  const halves = a.split("::");
  if (halves.length > 2) return null;
  const parse = (s: string): string[] | null => {
    if (s === "") return [];
    const groups = s.split(":");
    for (const g of groups) if (!/^[0-9a-f]{1,4}$/.test(g)) return null;
    return groups.map((g) => g.padStart(4, "0"));
  };
  const head = parse(halves[0]);
  const tail = halves.length === 2 ? parse(halves[1]) : [];
  if (!head || !tail) return null;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) return null;
  return [...head, ...Array<string>(fill).fill("0000"), ...tail].join("");
}

/** The query name of an IP address in a list (RFC 5782 §2.1 IPv4, §2.4 IPv6 nibbles), or null. */
export function ipQueryName(ip: string, zone: string): string | null {
  const z = zone.replace(/\.$/, "").toLowerCase();
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4) return `${v4[4]}.${v4[3]}.${v4[2]}.${v4[1]}.${z}`;
  if (!ip.includes(":")) return null;
  const nibbles = expandIPv6(ip);
  if (!nibbles) return null;
  return `${[...nibbles].reverse().join(".")}.${z}`;
}

/** The query name for an IP (RFC 5782 §2.1, §2.4) or a domain (§3) under a list zone. */
export function queryName(subject: string, zone: string): string {
  const ipName = ipQueryName(subject, zone);
  if (ipName) return ipName;
  return `${subject.replace(/\.$/, "").toLowerCase()}.${zone.replace(/\.$/, "").toLowerCase()}`;
}

/** Classifies the A records of a list answer (pure): listed, or unknown; never clean. */
export function classifyCodes(codes: readonly string[]): ListAnswer {
  if (codes.some((c) => c.startsWith("127.255.255."))) return { status: "unknown", codes: [...codes], detail: "refused-code" };
  if (codes.length === 0 || codes.some((c) => !c.startsWith("127."))) return { status: "unknown", codes: [...codes], detail: "bad-answer" };
  return { status: "listed", codes: [...codes].sort() };
}

/** The spam filter's reading of the same classification. */
export function interpretAnswer(addresses: readonly string[]): ListResult {
  const a = classifyCodes(addresses);
  if (a.status === "listed") return { state: "listed", codes: a.codes };
  if (a.detail === "refused-code") return { state: "unknown", why: `refused by the list (${addresses.join(",")})` };
  return { state: "unknown", why: `answer outside 127/8 (${addresses.join(",")})` };
}

/** Asks one list about one IP or domain. `resolve` must be the one Resolver's (uncached for checks). */
export async function queryList(resolve: ResolveFunction, subject: string, zone: string, withReason = true): Promise<ListAnswer> {
  const name = queryName(subject, zone);
  let codes: string[];
  try {
    codes = await resolve(name, "A");
  } catch (err) {
    if (isNoRecord(err)) return { status: "clean", codes: [] };
    return { status: "unknown", codes: [], detail: (err as NodeJS.ErrnoException).code ?? String(err) };
  }
  const answer = classifyCodes(codes);
  if (answer.status === "listed" && withReason) {
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
  return untrustedList(await queryList(resolve, testSubject(kind), zone, false)) ?? queryList(resolve, subject, zone);
}

/** The "unknown" answer for every subject when the test entry's answer is not "listed", else null. */
export function untrustedList(probe: ListAnswer): ListAnswer | null {
  if (probe.status === "listed") return null;
  return { status: "unknown", codes: probe.codes, detail: `test entry ${probe.status}${probe.detail ? ` (${probe.detail})` : ""}` };
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

// ---- the spam filter's per-message lookups (no test-entry probe: one query per list) ----

/** One A query through the Resolver's `a` (the filter's path), read with the shared rules. */
async function queryA(resolver: Pick<Resolver, "a">, name: string): Promise<ListResult> {
  try {
    return interpretAnswer(await resolver.a(name));
  } catch (err) {
    if (isNoRecord(err)) return { state: "clean" };
    return { state: "unknown", why: (err as NodeJS.ErrnoException).code ?? "error" };
  }
}

/** The client IP against each zone, in parallel. */
export async function checkIp(resolver: Pick<Resolver, "a">, ip: string, zones: readonly string[]): Promise<Record<string, ListResult>> {
  const out: Record<string, ListResult> = {};
  await Promise.all(
    zones.map(async (zone) => {
      const name = ipQueryName(ip, zone);
      out[zone] = name ? await queryA(resolver, name) : { state: "unknown", why: "not an IP address" };
    }),
  );
  return out;
}

/** At most this many domains of one message are looked up (each in every domain zone). */
export const MAX_DOMAINS = 10;

/**
 * Domains against domain lists (RFC 5782 §2.2: the name itself is queried). Returns only the
 * listed and unknown results, keyed "domain@zone".
 */
export async function checkDomains(resolver: Pick<Resolver, "a">, domains: readonly string[], zones: readonly string[]): Promise<Record<string, ListResult>> {
  const out: Record<string, ListResult> = {};
  const uniq = [...new Set(domains.map((d) => d.toLowerCase()).filter((d) => /^[a-z0-9.-]+\.[a-z0-9-]+$/.test(d)))].slice(0, MAX_DOMAINS);
  await Promise.all(
    uniq.flatMap((d) =>
      zones.map(async (zone) => {
        const r = await queryA(resolver, queryName(d, zone));
        if (r.state !== "clean") out[`${d}@${zone}`] = r;
      }),
    ),
  );
  return out;
}
