// The one Resolver. Every DNS lookup in Freehold goes through an instance of this: our own
// (MX routing, checks), mailauth's (its `resolver` option takes `resolve` below), and every
// socket's hostname lookup (`lookup`, passed to net.connect / tls.connect), so nothing ever
// asks the system's getaddrinfo and tests can point the whole server at a DNS server on
// 127.0.0.1:PORT.
//
// A, AAAA, MX, TXT, PTR, NS and CNAME (everything SPF, DKIM, DMARC, ARC and MX routing ask)
// go through wire.ts, which returns TTLs and the SOA of negative answers, and are cached per
// instance by cache.ts (TTL-honouring, RFC 2308 negative caching, bounded, injected clock), with
// concurrent identical questions sharing one query. Other types go to node:dns `Resolver`
// (c-ares) uncached, as node:dns does not return TTLs for them. Both speak UDP, retry over TCP
// when an answer comes back truncated (RFC 1035 §4.2.1, RFC 7766 §5; tested against the fault
// server) and accept "host:port" upstreams. Results and error codes are exactly those of
// `dns.promises`, because that is what mailauth expects:
//   ENOTFOUND = NXDOMAIN, ENODATA = the name exists without records of that type (NODATA),
//   EBADNAME = a name that cannot exist; everything else (ETIMEOUT, ESERVFAIL, EREFUSED,
//   ECONNREFUSED, ...) is a temporary failure, which SPF/DKIM/DMARC report as temperror.
import dns from "node:dns";
import type { AnyRecord, MxRecord, SoaRecord, SrvRecord, CaaRecord, NaptrRecord, TlsaRecord } from "node:dns";
import { readFileSync } from "node:fs";
import net from "node:net";
import type { Answer } from "dns-packet";
import { createLookup } from "./lookup.ts";
import type { LookupFunction } from "./lookup.ts";
import { systemClock } from "../clock.ts";
import type { Clock } from "../clock.ts";
import { DnsCache } from "./cache.ts";
import type { CacheEntry, DnsCacheStats } from "./cache.ts";
import { WireClient, dnsError, parseServer, validName } from "./wire.ts";

export type RRType =
  | "A"
  | "AAAA"
  | "CNAME"
  | "MX"
  | "NS"
  | "PTR"
  | "TXT"
  | "SOA"
  | "SRV"
  | "CAA"
  | "NAPTR"
  | "TLSA"
  | "ANY";

/** Result shapes by record type, the same as node:dns `resolve()`. */
export interface RecordMap {
  A: string[];
  AAAA: string[];
  CNAME: string[];
  MX: MxRecord[];
  NS: string[];
  PTR: string[];
  TXT: string[][];
  SOA: SoaRecord;
  SRV: SrvRecord[];
  CAA: CaaRecord[];
  NAPTR: NaptrRecord[];
  TLSA: TlsaRecord[];
  ANY: AnyRecord[];
}

/** `resolve(name, type)` with the signature mailauth's `resolver` option expects. */
export type ResolveFunction = <T extends RRType>(name: string, rrtype: T) => Promise<RecordMap[T]>;

export interface Resolver {
  /** Same result shapes and error codes as `dns.promises.resolve`. Pass it to mailauth as is. */
  readonly resolve: ResolveFunction;
  readonly a: (name: string) => Promise<string[]>;
  readonly aaaa: (name: string) => Promise<string[]>;
  readonly mx: (name: string) => Promise<MxRecord[]>;
  readonly txt: (name: string) => Promise<string[][]>;
  /** PTR names of an IP address (the in-addr.arpa / ip6.arpa name is built here). */
  readonly ptr: (ip: string) => Promise<string[]>;
  /** A `dns.lookup`-compatible function for net.connect({ lookup }) and tls.connect. */
  readonly lookup: LookupFunction;
  /** The upstream servers in use ("host:port" or bare addresses). */
  readonly servers: readonly string[];
  /** Cancels every outstanding query (each rejects with ECANCELLED). */
  cancel(): void;
  /** The answer cache's size and hit/miss counts (absent on test doubles). */
  readonly cacheStats?: () => DnsCacheStats;
}

export interface ResolverOptions {
  /**
   * Upstream servers as "ip", "ip:port" or "[ipv6]:port". Empty or absent: the servers of the
   * system's /etc/resolv.conf (dev mode).
   */
  servers?: readonly string[];
  /** Milliseconds each server is given per attempt. Dev default 2000. */
  timeoutMs?: number;
  /** Attempts per server, the first one included: 2 means one retry. Default 2. */
  tries?: number;
  /** For cache expiry. Default the system clock. */
  clock?: Clock;
  /** Answer cache limits; false turns caching off (every question goes to the network). */
  cache?: false | { maxEntries?: number; maxTtlS?: number; maxNegativeTtlS?: number };
}

export const DEFAULT_TIMEOUT_MS = 2000;
export const DEFAULT_TRIES = 2;

/** The name does not exist, or exists without records of the asked type. */
const NO_RECORD_CODES = new Set(["ENOTFOUND", "ENODATA"]);

/** True for an answer that says "no such record" (NXDOMAIN or NODATA), not a failure. */
export function isNoRecord(err: unknown): boolean {
  return NO_RECORD_CODES.has(errorCode(err));
}

/** True for NXDOMAIN only: the name itself does not exist. */
export function isNxDomain(err: unknown): boolean {
  return errorCode(err) === "ENOTFOUND";
}

/**
 * True when the lookup failed without an answer (timeout, SERVFAIL, refused, network):
 * the caller should treat the outcome as unknown (temperror), never as "no record".
 */
export function isTemporary(err: unknown): boolean {
  const code = errorCode(err);
  return code !== "" && !NO_RECORD_CODES.has(code) && code !== "EBADNAME";
}

export function errorCode(err: unknown): string {
  if (typeof err === "object" && err !== null && "code" in err && typeof err.code === "string") return err.code;
  return "";
}

/** Reads the nameserver lines of a resolv.conf text (used when no servers are configured). */
export function parseResolvConf(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m) out.push(m[1].replace(/%.*$/, "")); // drop an IPv6 zone id, c-ares cannot use it
  }
  return out;
}

/** The in-addr.arpa (RFC 1035 §3.5) or ip6.arpa (RFC 3596 §2.5) name of an IP address. */
export function reverseName(ip: string): string {
  if (net.isIPv4(ip)) return `${ip.split(".").reverse().join(".")}.in-addr.arpa`;
  if (!net.isIPv6(ip)) throw Object.assign(new Error(`not an IP address: ${ip}`), { code: "EINVAL" });
  // Expand "::" and each group to 4 hex digits, then emit the 32 nibbles in reverse.
  const [head, tail = ""] = ip.includes("::") ? ip.split("::") : [ip, undefined];
  const groupsOf = (part: string | undefined): string[] => (part ? part.split(":") : []);
  let groups = [...groupsOf(head), ...groupsOf(tail)];
  const last = groups[groups.length - 1];
  if (last !== undefined && last.includes(".")) {
    // an embedded IPv4 tail (::ffff:1.2.3.4) is two groups
    const o = last.split(".").map(Number);
    groups = [...groups.slice(0, -1), ((o[0] << 8) | o[1]).toString(16), ((o[2] << 8) | o[3]).toString(16)];
  }
  const headCount = groupsOf(head).length;
  const missing = 8 - groups.length;
  const full = ip.includes("::") ? [...groups.slice(0, headCount), ...Array<string>(missing).fill("0"), ...groups.slice(headCount)] : groups;
  const nibbles = full.map((g) => g.padStart(4, "0")).join("");
  return `${nibbles.split("").reverse().join(".")}.ip6.arpa`;
}

export function createResolver(options: ResolverOptions = {}): Resolver {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const tries = options.tries ?? DEFAULT_TRIES;
  if (!(timeoutMs > 0)) throw new RangeError(`resolver timeoutMs must be positive, got ${timeoutMs}`);
  if (!Number.isInteger(tries) || tries < 1) throw new RangeError(`resolver tries must be an integer >= 1, got ${tries}`);

  // c-ares doubles the timeout on each retry; maxTimeout keeps every attempt at timeoutMs so the
  // worst case per query is timeoutMs × tries × servers, which is what an operator configures.
  const inner = new dns.promises.Resolver({ timeout: timeoutMs, tries, maxTimeout: timeoutMs });
  const configured = options.servers ?? [];
  if (configured.length > 0) {
    inner.setServers([...configured]);
  } else {
    // c-ares reads /etc/resolv.conf itself; read it here only to report the servers in use.
    try {
      const fromFile = parseResolvConf(readFileSync("/etc/resolv.conf", "utf8"));
      if (fromFile.length > 0) inner.setServers(fromFile);
    } catch {
      // no resolv.conf: keep c-ares' own defaults
    }
  }
  const servers = Object.freeze(inner.getServers());

  const wire = new WireClient({ servers: servers.map(parseServer), timeoutMs, tries });
  const cacheOpts = options.cache === false ? { maxEntries: 0 } : (options.cache ?? {});
  const cache = new DnsCache({ clock: options.clock ?? systemClock, ...cacheOpts });
  const inflight = new Map<string, Promise<CacheEntry>>();

  /** One question through the cache; concurrent identical questions share one query. */
  const cached = async (name: string, type: WireType): Promise<unknown> => {
    const syscall = SYSCALL[type];
    // Names are case-insensitive (RFC 4343 §3); the root dot is not part of the key.
    const key = `${type} ${name.toLowerCase().replace(/\.$/, "")}`;
    let entry = cache.get(key);
    if (!entry) {
      let p = inflight.get(key);
      if (!p) {
        p = fetchEntry(name, type, syscall, key).finally(() => inflight.delete(key));
        inflight.set(key, p);
      }
      entry = await p;
    }
    if (entry.kind === "negative") throw dnsError(entry.code, syscall, name);
    return copyRecords(entry.value);
  };

  const fetchEntry = async (name: string, type: WireType, syscall: string, key: string): Promise<CacheEntry> => {
    if (!validName(name)) throw dnsError("EBADNAME", syscall, name);
    const ans = await wire.query(name, type, syscall);
    const { entry, ttlS } = toEntry(name, type, ans.rcode, ans.answers, ans.authorities);
    cache.set(key, entry, ttlS);
    return entry;
  };

  // c-ares sends the name as given (no search list, no /etc/hosts): exactly the DNS answer.
  const resolve = ((name: string, rrtype: RRType) =>
    isWireType(rrtype) ? cached(name, rrtype) : inner.resolve(name, rrtype as "SOA")) as ResolveFunction;
  const a = (name: string) => cached(name, "A") as Promise<string[]>;
  const aaaa = (name: string) => cached(name, "AAAA") as Promise<string[]>;

  const resolver: Resolver = {
    resolve,
    a,
    aaaa,
    mx: (name) => cached(name, "MX") as Promise<MxRecord[]>,
    txt: (name) => cached(name, "TXT") as Promise<string[][]>,
    // Never /etc/hosts (c-ares' reverse() reads it first): a PTR check (SPF "ptr", FCrDNS)
    // must see only the DNS.
    ptr: (ip) => cached(reverseName(ip), "PTR") as Promise<string[]>,
    lookup: createLookup((name, family) => (family === 4 ? a(name) : aaaa(name))),
    servers,
    cancel: () => {
      inner.cancel();
      wire.cancel();
    },
    cacheStats: () => cache.stats(),
  };
  return resolver;
}

const WIRE_TYPES = ["A", "AAAA", "MX", "TXT", "PTR", "NS", "CNAME"] as const;
type WireType = (typeof WIRE_TYPES)[number];
function isWireType(t: string): t is WireType {
  return (WIRE_TYPES as readonly string[]).includes(t);
}
/** node:dns's syscall names, kept in errors for parity. */
const SYSCALL: Record<WireType, string> = {
  A: "queryA",
  AAAA: "queryAaaa",
  MX: "queryMx",
  TXT: "queryTxt",
  PTR: "queryPtr",
  NS: "queryNs",
  CNAME: "queryCname",
};

/**
 * The records of `type` for `name` in an answer, following the CNAME chain in it (RFC 1034
 * §3.6.2), as node:dns shapes them; the TTL to cache them for; or a negative entry.
 */
export function toEntry(
  name: string,
  type: WireType,
  rcode: string,
  answers: readonly Answer[],
  authorities: readonly Answer[],
): { entry: CacheEntry; ttlS: number } {
  if (rcode === "NOERROR") {
    const names = new Set([name.toLowerCase().replace(/\.$/, "")]);
    let ttl = Infinity;
    // Walk the chain: each CNAME owned by a name already reached adds its target.
    for (let grew = true; grew; ) {
      grew = false;
      for (const rr of answers) {
        if (rr.type !== "CNAME" || type === "CNAME" || !names.has(rr.name.toLowerCase())) continue;
        const target = String((rr as { data?: unknown }).data).toLowerCase();
        ttl = Math.min(ttl, rr.ttl ?? 0);
        if (!names.has(target)) {
          names.add(target);
          grew = true;
        }
      }
    }
    const records: unknown[] = [];
    for (const rr of answers) {
      if (rr.type !== type || !names.has(rr.name.toLowerCase())) continue;
      ttl = Math.min(ttl, rr.ttl ?? 0);
      records.push(shape(rr));
    }
    if (records.length > 0) return { entry: { kind: "records", value: records }, ttlS: ttl };
  }
  // RFC 2308 §5: a negative answer is cached for min(SOA TTL, SOA MINIMUM); no SOA, no caching.
  const soa = authorities.find((rr) => rr.type === "SOA");
  const negTtl = soa && soa.type === "SOA" ? Math.min(soa.ttl ?? 0, soa.data.minimum ?? 0) : 0;
  return { entry: { kind: "negative", code: rcode === "NXDOMAIN" ? "ENOTFOUND" : "ENODATA" }, ttlS: negTtl };
}

function shape(rr: Answer): unknown {
  switch (rr.type) {
    case "MX":
      return { exchange: rr.data.exchange, priority: rr.data.preference };
    case "TXT": {
      // node:dns gives each character-string as a one-byte (latin1) string.
      const parts = Array.isArray(rr.data) ? rr.data : [rr.data];
      return parts.map((p) => (typeof p === "string" ? p : Buffer.from(p).toString("latin1")));
    }
    default:
      return String((rr as { data?: unknown }).data);
  }
}

/** Callers may sort or change what they get; the cached copy stays as it came. */
function copyRecords(value: unknown): unknown {
  return (value as unknown[]).map((r) => (Array.isArray(r) ? [...r] : typeof r === "object" && r !== null ? { ...r } : r));
}
