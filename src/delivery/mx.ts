// Where to deliver mail for a domain: the ordered list of IP addresses to try (RFC 5321 §5.1),
// as a function of an injected resolver, our own identity and a source of randomness.
//
// The resolver is the minimal slice of node:dns/promises' Resolver that this needs, so the real
// Resolver in src/dns/ (or node's) plugs in directly and tests use an in-memory one. Errors
// follow node:dns codes: ENOTFOUND is NXDOMAIN, ENODATA is "the name exists, no record of this
// type"; an empty answer counts as ENODATA; anything else (ESERVFAIL, ETIMEOUT, EREFUSED …) is a
// temporary failure. Resolvers should validate DNSSEC or not as configured; this file does not
// look at it (DANE is decided elsewhere).
import net from "node:net";
import { domainToASCII } from "node:url";

export interface MxRecord {
  exchange: string;
  priority: number;
}

export interface MxResolver {
  resolveMx(name: string): Promise<MxRecord[]>;
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
}

/**
 * Adapts the project's Resolver (src/dns/resolver.ts: `mx`, `a`, `aaaa`, same error codes as
 * node:dns) to the interface here, without importing it: any object of that shape works.
 */
export function mxResolverOf(r: {
  mx(name: string): Promise<MxRecord[]>;
  a(name: string): Promise<string[]>;
  aaaa(name: string): Promise<string[]>;
}): MxResolver {
  return { resolveMx: (n) => r.mx(n), resolve4: (n) => r.a(n), resolve6: (n) => r.aaaa(n) };
}

export interface MxOptions {
  /** Our own host names (lower-case, A-labels): an MX naming one of them is ourselves. */
  ourHostnames: readonly string[];
  /** Our own public addresses: an MX resolving to one of them is ourselves. */
  ourAddresses: readonly string[];
  /** Try IPv4 addresses of a host before its IPv6 ones (default: IPv6 first, RFC 6724). */
  preferIPv4?: boolean;
  /** Skip IPv6 entirely, for hosts without IPv6 connectivity (default true: use it). */
  useIPv6?: boolean;
  /** 0 ≤ r < 1; shuffles MX hosts of equal preference (RFC 5321 §5.1). */
  random: () => number;
}

/** One address to connect to, in the order to try. */
export interface MxTarget {
  /** The MX host name (for SNI, MTA-STS matching, logs); the domain for an implicit MX. */
  host: string;
  preference: number;
  address: string;
  family: 4 | 6;
}

export type MxPlan =
  | {
      ok: true;
      targets: MxTarget[];
      /** True when the domain has no MX and its own address is used (RFC 5321 §5.1). */
      implicit: boolean;
      /** Host names in order, with the reason a host gave no address, for logs and DSNs. */
      hosts: { host: string; preference: number; addresses: number; error?: string }[];
    }
  | {
      ok: false;
      /** Temporary: retry later (4xx DSN status); permanent: bounce now. */
      permanent: boolean;
      /** RFC 3463 enhanced status for the DSN. */
      status: string;
      message: string;
    };

type Lookup<T> = { kind: "ok"; value: T[] } | { kind: "nxdomain" } | { kind: "nodata" } | { kind: "temp"; error: string };

async function lookup<T>(fn: () => Promise<T[]>): Promise<Lookup<T>> {
  try {
    const value = await fn();
    return value.length > 0 ? { kind: "ok", value } : { kind: "nodata" };
  } catch (err) {
    const code = (err as { code?: string }).code;
    // EBADNAME: a name that cannot exist is as final as NXDOMAIN.
    if (code === "ENOTFOUND" || code === "EBADNAME") return { kind: "nxdomain" };
    if (code === "ENODATA") return { kind: "nodata" };
    return { kind: "temp", error: code ?? String(err) };
  }
}

function normalizeName(name: string): string {
  const trimmed = name.replace(/\.$/, "");
  // RFC 5890: DNS is asked for A-labels. domainToASCII returns "" for invalid names.
  return (domainToASCII(trimmed) || trimmed).toLowerCase();
}

/** Fisher-Yates within each run of equal preference, after a stable sort by preference. */
function orderByPreference(records: MxRecord[], random: () => number): MxRecord[] {
  const sorted = [...records].sort((a, b) => a.priority - b.priority);
  let start = 0;
  while (start < sorted.length) {
    let end = start;
    while (end < sorted.length && sorted[end].priority === sorted[start].priority) end++;
    for (let i = end - 1; i > start; i--) {
      const j = start + Math.floor(random() * (i - start + 1));
      [sorted[i], sorted[j]] = [sorted[j], sorted[i]];
    }
    start = end;
  }
  return sorted;
}

function fail(permanent: boolean, status: string, message: string): MxPlan {
  return { ok: false, permanent, status, message };
}

async function addressesOf(
  resolver: MxResolver,
  host: string,
  opts: MxOptions,
): Promise<{ v4: Lookup<string>; v6: Lookup<string> }> {
  const useV6 = opts.useIPv6 ?? true;
  const [v4, v6] = await Promise.all([
    lookup(() => resolver.resolve4(host)),
    useV6 ? lookup(() => resolver.resolve6(host)) : Promise.resolve<Lookup<string>>({ kind: "nodata" }),
  ]);
  return { v4, v6 };
}

function orderAddresses(v4: string[], v6: string[], opts: MxOptions): { address: string; family: 4 | 6 }[] {
  const a4 = v4.map((address) => ({ address, family: 4 as const }));
  const a6 = v6.map((address) => ({ address, family: 6 as const }));
  return opts.preferIPv4 ? [...a4, ...a6] : [...a6, ...a4];
}

/**
 * Resolves the delivery targets for `domain` (the part after "@" of a recipient).
 *
 * - RFC 7505 §3: a lone MX "." (null MX) means the domain accepts no mail: 5.1.10 at once.
 * - RFC 5321 §5.1: MX records sorted by preference, equal preferences in random order; only
 *   when there is no MX at all (the name exists, no MX record) the domain itself is the
 *   implicit MX with preference 0. A domain that does not exist (NXDOMAIN) gets no implicit
 *   MX: 5.1.2.
 * - RFC 5321 §5.1: the relay host "MUST then inspect the list for any of the names or
 *   addresses by which it might be known"; if one matches, "all records at that preference
 *   level and higher-numbered ones MUST be discarded", and if none are left the message "MUST
 *   be returned as undeliverable": 5.4.6 (RFC 3463 "routing loop detected").
 * - Every address of every remaining host is a target, in order.
 * - A temporary DNS failure anywhere that leaves us with no target is a temporary failure
 *   (4.4.3, "directory server failure"), so the queue retries instead of bouncing.
 */
export async function resolveMxTargets(domain: string, resolver: MxResolver, opts: MxOptions): Promise<MxPlan> {
  const selfNames = new Set(opts.ourHostnames.map(normalizeName));
  const selfAddrs = new Set(opts.ourAddresses.map((a) => a.toLowerCase()));

  // RFC 5321 §4.1.3 address literal: deliver to that address, no DNS involved.
  const literal = /^\[(?:ipv6:)?([^\]]+)\]$/i.exec(domain.trim());
  if (literal) {
    const ip = literal[1];
    const family = net.isIP(ip);
    if (family === 0) return fail(true, "5.1.2", `invalid address literal ${domain}`);
    if (selfAddrs.has(ip.toLowerCase())) return fail(true, "5.4.6", `address literal ${domain} is this server`);
    return {
      ok: true,
      implicit: true,
      targets: [{ host: ip, preference: 0, address: ip, family: family as 4 | 6 }],
      hosts: [{ host: ip, preference: 0, addresses: 1 }],
    };
  }

  const name = normalizeName(domain);
  const mx = await lookup(() => resolver.resolveMx(name));
  if (mx.kind === "temp") return fail(false, "4.4.3", `MX lookup for ${name} failed: ${mx.error}`);
  if (mx.kind === "nxdomain") return fail(true, "5.1.2", `domain ${name} does not exist`);

  let records: MxRecord[];
  let implicit = false;
  if (mx.kind === "nodata") {
    implicit = true;
    records = [{ exchange: name, priority: 0 }];
  } else {
    const isNull = (r: MxRecord) => r.exchange === "" || r.exchange === ".";
    // RFC 7505 §3: a null MX is the only MX of its domain. If a domain publishes it beside
    // real MX records (a misconfiguration the RFC forbids), the "." host cannot be connected
    // to anyway, so we drop it and use the others rather than refuse mail the owner expects.
    if (mx.value.every(isNull)) return fail(true, "5.1.10", `${name} does not accept mail (null MX, RFC 7505)`);
    records = mx.value.filter((r) => !isNull(r)).map((r) => ({ exchange: normalizeName(r.exchange), priority: r.priority }));
  }

  const ordered = orderByPreference(records, opts.random);
  const resolved = await Promise.all(ordered.map(async (r) => ({ r, ...(await addressesOf(resolver, r.exchange, opts)) })));

  // Where do we appear in the list? By name or by any address of the host.
  let selfPreference = Infinity;
  for (const { r, v4, v6 } of resolved) {
    const addrs = [...(v4.kind === "ok" ? v4.value : []), ...(v6.kind === "ok" ? v6.value : [])];
    if (selfNames.has(r.exchange) || addrs.some((a) => selfAddrs.has(a.toLowerCase()))) {
      selfPreference = Math.min(selfPreference, r.priority);
    }
  }

  const targets: MxTarget[] = [];
  const hosts: { host: string; preference: number; addresses: number; error?: string }[] = [];
  let tempErrors = 0;
  for (const { r, v4, v6 } of resolved) {
    if (r.priority >= selfPreference) continue;
    const list = orderAddresses(v4.kind === "ok" ? v4.value : [], v6.kind === "ok" ? v6.value : [], opts);
    const errors = [v4, v6].filter((l): l is { kind: "temp"; error: string } => l.kind === "temp");
    if (errors.length > 0) tempErrors++;
    // A host with one family failing temporarily still has the other family to try.
    hosts.push({
      host: r.exchange,
      preference: r.priority,
      addresses: list.length,
      ...(errors.length ? { error: errors.map((e) => e.error).join(", ") } : list.length ? {} : { error: "no address" }),
    });
    for (const a of list) targets.push({ host: r.exchange, preference: r.priority, ...a });
  }

  if (targets.length > 0) return { ok: true, targets, implicit, hosts };
  if (selfPreference !== Infinity && hosts.length === 0) {
    // RFC 5321 §5.1: "MX points to self" (Postfix: "mail for X loops back to myself").
    return fail(true, "5.4.6", `MX for ${name} points to this server`);
  }
  if (tempErrors > 0) {
    // The codes go into the queue's last reply (`freehold queue show`): the operator sees ETIMEOUT
    // or ENETUNREACH, not only "failed".
    const why = hosts.filter((h) => h.error).map((h) => `${h.host}: ${h.error}`).join("; ");
    return fail(false, "4.4.3", `address lookup for the MX hosts of ${name} failed temporarily (${why})`);
  }
  if (implicit) return fail(true, "5.1.2", `${name} has no MX and no address`);
  // RFC 3463 X.4.4 "unable to route": MX hosts exist but none has an address.
  return fail(true, "5.4.4", `no MX host of ${name} has an address`);
}
