// An in-memory `resolve` for unit tests (the idea of Mox's MockResolver): answers from a map,
// with the same result shapes and error codes as the real Resolver, so code under test cannot
// tell the difference. Not for production: it never expires or changes anything.
import type { MxRecord } from "node:dns";
import type { RRType, ResolveFunction } from "./resolver.ts";

export interface MemoryRecords {
  A?: string[];
  AAAA?: string[];
  MX?: MxRecord[];
  /** One entry per TXT record; a string is one character-string. */
  TXT?: Array<string | string[]>;
  PTR?: string[];
  CNAME?: string[];
  NS?: string[];
}

/** A name's records, or a failure every query for it gets. */
export type MemoryEntry = MemoryRecords | "SERVFAIL" | "TIMEOUT" | "REFUSED";

const FAILURES: Record<string, string> = { SERVFAIL: "ESERVFAIL", TIMEOUT: "ETIMEOUT", REFUSED: "EREFUSED" };

export function dnsError(code: string, syscall: string, hostname: string): NodeJS.ErrnoException {
  const err = new Error(`${syscall} ${code} ${hostname}`) as NodeJS.ErrnoException & { hostname: string };
  err.code = code;
  err.syscall = syscall;
  err.hostname = hostname;
  return err;
}

/** Names are matched case-insensitively and without a trailing dot. Absent names are NXDOMAIN. */
export function createMemoryResolve(zone: Record<string, MemoryEntry>): ResolveFunction & { queries: string[] } {
  const table = new Map<string, MemoryEntry>();
  for (const [name, entry] of Object.entries(zone)) table.set(name.toLowerCase().replace(/\.$/, ""), entry);
  const queries: string[] = [];
  const resolve = (async (name: string, rrtype: RRType) => {
    const key = name.toLowerCase().replace(/\.$/, "");
    queries.push(`${rrtype} ${key}`);
    const syscall = `query${rrtype[0]}${rrtype.slice(1).toLowerCase()}`;
    const entry = table.get(key);
    if (entry === undefined) throw dnsError("ENOTFOUND", syscall, name);
    if (typeof entry === "string") throw dnsError(FAILURES[entry], syscall, name);
    const records = (entry as Record<string, unknown[] | undefined>)[rrtype];
    if (!records || records.length === 0) throw dnsError("ENODATA", syscall, name);
    if (rrtype === "TXT") return (records as Array<string | string[]>).map((r) => (Array.isArray(r) ? [...r] : [r]));
    return structuredClone(records);
  }) as ResolveFunction & { queries: string[] };
  resolve.queries = queries;
  return resolve;
}

