// What the connecting client says about itself: forward-confirmed reverse DNS (the PTR names of
// its IP, at least one of which resolves back to that IP: RFC 8601 §2.7.3 "iprev") and whether
// its HELO/EHLO name is plausible (RFC 5321 §4.1.1.1: a FQDN, or an address literal of the
// client's own address).
import { isNoRecord } from "../dns/resolver.ts";
import type { Resolver } from "../dns/resolver.ts";
import type { Signals } from "./verdict.ts";
import { isLoopbackIp } from "../smtp/ip.ts";

export interface Fcrdns {
  result: Signals["fcrdns"];
  /** The PTR names that resolve back to the IP. */
  names: string[];
}

const MAX_PTR = 5;

export async function checkFcrdns(resolver: Resolver, ip: string): Promise<Fcrdns> {
  let ptrs: string[];
  try {
    ptrs = await resolver.ptr(ip);
  } catch (err) {
    return { result: isNoRecord(err) ? "fail" : "unknown", names: [] };
  }
  const v6 = ip.includes(":");
  let unknown = false;
  const names: string[] = [];
  for (const name of ptrs.slice(0, MAX_PTR)) {
    try {
      const addrs = v6 ? await resolver.aaaa(name) : await resolver.a(name);
      if (addrs.some((a) => sameIp(a, ip))) names.push(name.toLowerCase().replace(/\.$/, ""));
    } catch (err) {
      if (!isNoRecord(err)) unknown = true;
    }
  }
  if (names.length > 0) return { result: "pass", names };
  return { result: unknown ? "unknown" : "fail", names };
}

function sameIp(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** HELO plausibility; `ours` are this server's own names (a client claiming them lies). */
export function heloCheck(helo: string, ip: string, ours: readonly string[]): Signals["helo"] {
  const h = helo.trim().toLowerCase().replace(/\.$/, "");
  if (h === "") return "not-fqdn";
  const literal = /^\[(?:ipv6:)?([^\]]+)\]$/.exec(h);
  if (literal) return sameIp(literal[1], ip) ? "ok" : "ip-literal-mismatch";
  if (h === "localhost" || h.endsWith(".localhost") || h === "localhost.localdomain") return isLoopbackIp(ip) ? "ok" : "localhost";
  if (ours.some((o) => o.toLowerCase() === h)) return isLoopbackIp(ip) ? "ok" : "ours";
  // A bare IP without brackets, or a single label: not a FQDN (RFC 5321 §2.3.5).
  if (/^[\d.]+$/.test(h) || !h.includes(".")) return "not-fqdn";
  return "ok";
}
