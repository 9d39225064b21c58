// DNS blocklists (RFC 5782): the client IP against IP lists (Spamhaus ZEN, SpamCop, Barracuda,
// PSBL), and domains (From, URLs) against domain lists (Spamhaus DBL, SURBL). Every lookup goes
// through the one Resolver (src/dns).
//
// "List unknown" rules: only an answer counts. NXDOMAIN (and NODATA) is "clean"; an A record in
// 127.0.0.0/8 is "listed"; a timeout, SERVFAIL or REFUSED is "unknown", never clean nor listed.
// Spamhaus answers 127.255.255.252/254/255 to queries it refuses (typo in the zone, a public or
// open resolver, over the free-use limit); those are "unknown" too (Spamhaus "Return codes"),
// as is any answer outside 127.0.0.0/8 (RFC 5782 §2.3: lists answer within 127/8; anything
// else is a wildcarding resolver).
import { isNoRecord } from "../dns/resolver.ts";
import type { Resolver } from "../dns/resolver.ts";
import type { ListResult } from "./verdict.ts";

export const DEFAULT_IP_ZONES = ["zen.spamhaus.org", "bl.spamcop.net", "b.barracudacentral.org", "psbl.surriel.com"];
export const DEFAULT_DOMAIN_ZONES = ["dbl.spamhaus.org", "multi.surbl.org"];

/** The query name of an IP address in a list (RFC 5782 §2.1 IPv4, §2.4 IPv6 nibbles). */
export function ipQueryName(ip: string, zone: string): string | null {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4) return `${v4[4]}.${v4[3]}.${v4[2]}.${v4[1]}.${zone}`;
  if (!ip.includes(":")) return null;
  const nibbles = expandIPv6(ip);
  if (!nibbles) return null;
  return `${[...nibbles].reverse().join(".")}.${zone}`;
}

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

/** Interprets the A records of a list answer. */
export function interpretAnswer(addresses: readonly string[]): ListResult {
  if (addresses.some((a) => a.startsWith("127.255.255."))) return { state: "unknown", why: `refused by the list (${addresses.join(",")})` };
  const inLoopback = addresses.filter((a) => a.startsWith("127."));
  if (inLoopback.length !== addresses.length || addresses.length === 0) return { state: "unknown", why: `answer outside 127/8 (${addresses.join(",")})` };
  return { state: "listed", codes: [...inLoopback].sort() };
}

async function query(resolver: Resolver, name: string): Promise<ListResult> {
  try {
    return interpretAnswer(await resolver.a(name));
  } catch (err) {
    if (isNoRecord(err)) return { state: "clean" };
    return { state: "unknown", why: (err as NodeJS.ErrnoException).code ?? "error" };
  }
}

/** The client IP against each zone, in parallel. Loopback and private addresses are not looked up. */
export async function checkIp(resolver: Resolver, ip: string, zones: readonly string[]): Promise<Record<string, ListResult>> {
  const out: Record<string, ListResult> = {};
  await Promise.all(
    zones.map(async (zone) => {
      const name = ipQueryName(ip, zone);
      out[zone] = name ? await query(resolver, name) : { state: "unknown", why: "not an IP address" };
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
export async function checkDomains(resolver: Resolver, domains: readonly string[], zones: readonly string[]): Promise<Record<string, ListResult>> {
  const out: Record<string, ListResult> = {};
  const uniq = [...new Set(domains.map((d) => d.toLowerCase()).filter((d) => /^[a-z0-9.-]+\.[a-z0-9-]+$/.test(d)))].slice(0, MAX_DOMAINS);
  await Promise.all(
    uniq.flatMap((d) =>
      zones.map(async (zone) => {
        const r = await query(resolver, `${d}.${zone}`);
        if (r.state !== "clean") out[`${d}@${zone}`] = r;
      }),
    ),
  );
  return out;
}
