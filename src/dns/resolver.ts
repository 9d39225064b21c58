// The one Resolver. Every DNS lookup in Freehold goes through an instance of this: our own
// (MX routing, checks), mailauth's (its `resolver` option takes `resolve` below), and every
// socket's hostname lookup (`lookup`, passed to net.connect / tls.connect), so nothing ever
// asks the system's getaddrinfo and tests can point the whole server at a DNS server on
// 127.0.0.1:PORT.
//
// Built on node:dns `Resolver` (c-ares): it speaks UDP, retries over TCP when an answer comes
// back truncated (RFC 1035 §4.2.1, RFC 7766 §5; tested against the fault server), accepts
// "host:port" upstreams, and caches answers per TTL inside the instance. Results and error
// codes are exactly those of `dns.promises`, because that is what mailauth expects:
//   ENOTFOUND = NXDOMAIN, ENODATA = the name exists without records of that type (NODATA),
//   EBADNAME = a name that cannot exist; everything else (ETIMEOUT, ESERVFAIL, EREFUSED,
//   ECONNREFUSED, ...) is a temporary failure, which SPF/DKIM/DMARC report as temperror.
import dns from "node:dns";
import type { AnyRecord, MxRecord, SoaRecord, SrvRecord, CaaRecord, NaptrRecord, TlsaRecord } from "node:dns";
import { readFileSync } from "node:fs";
import net from "node:net";
import { createLookup } from "./lookup.ts";
import type { LookupFunction } from "./lookup.ts";

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

  // c-ares sends the name as given (no search list, no /etc/hosts): exactly the DNS answer.
  const resolve = ((name: string, rrtype: RRType) => inner.resolve(name, rrtype as "A")) as ResolveFunction;

  const resolver: Resolver = {
    resolve,
    a: (name) => inner.resolve4(name),
    aaaa: (name) => inner.resolve6(name),
    mx: (name) => inner.resolveMx(name),
    txt: (name) => inner.resolveTxt(name),
    // Not inner.reverse(): c-ares answers that from /etc/hosts first, and a PTR check (SPF
    // "ptr", FCrDNS) must see only the DNS.
    ptr: (ip) => inner.resolvePtr(reverseName(ip)),
    lookup: createLookup((name, family) => (family === 4 ? inner.resolve4(name) : inner.resolve6(name))),
    servers,
    cancel: () => inner.cancel(),
  };
  return resolver;
}
