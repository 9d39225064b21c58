// Server identity: forward-confirmed reverse DNS (FCrDNS) of each outbound IP, matching the
// HELO/EHLO name. Receivers (Gmail, Microsoft) refuse or junk mail from an IP whose PTR does not
// name a host that resolves back to the same IP (RFC 8601 §2.7.3 "iprev"; RFC 5321 §4.1.4 asks
// for a HELO name that is the host's real name).
import net from "node:net";
import { isNoRecord, reverseName } from "../dns/resolver.ts";
import type { ResolveFunction } from "../dns/resolver.ts";

import type { CheckResult } from "./types.ts";
export type { CheckResult, CheckStatus } from "./types.ts";

const norm = (n: string) => n.toLowerCase().replace(/\.$/, "");

export async function checkReverseDns(resolve: ResolveFunction, ip: string, helo: string): Promise<CheckResult> {
  const id = `identity.ptr.${ip}`;
  const wanted = `${reverseName(ip)}. PTR ${norm(helo)}.`;
  let names: string[];
  try {
    names = await resolve(reverseName(ip), "PTR");
  } catch (err) {
    if (isNoRecord(err)) return { id, status: "fail", message: `${ip} has no reverse DNS (PTR)`, fix: `ask your hosting provider to set ${wanted}` };
    return { id, status: "unknown", message: `PTR lookup for ${ip} failed: ${(err as NodeJS.ErrnoException).code}` };
  }
  if (!names.some((n) => norm(n) === norm(helo))) {
    return { id, status: "fail", message: `${ip} reverse DNS is ${names.map(norm).join(", ")}, not the HELO name ${norm(helo)}`, fix: `ask your hosting provider to set ${wanted}` };
  }
  let addrs: string[];
  try {
    addrs = await resolve(helo, net.isIPv6(ip) ? "AAAA" : "A");
  } catch (err) {
    if (isNoRecord(err)) return { id, status: "fail", message: `${norm(helo)} does not resolve back to ${ip}`, fix: `${norm(helo)}. ${net.isIPv6(ip) ? "AAAA" : "A"} ${ip}` };
    return { id, status: "unknown", message: `address lookup for ${norm(helo)} failed: ${(err as NodeJS.ErrnoException).code}` };
  }
  if (!addrs.includes(ip)) return { id, status: "fail", message: `${norm(helo)} resolves to ${addrs.join(", ")}, not ${ip}`, fix: `${norm(helo)}. ${net.isIPv6(ip) ? "AAAA" : "A"} ${ip}` };
  return { id, status: "ok", message: `${ip} ⇄ ${norm(helo)} (forward-confirmed reverse DNS)` };
}
