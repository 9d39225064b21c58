// SPF record checks (RFC 7208): exactly one record (§4.5), at most 10 DNS-querying terms counted
// across includes and redirects (§4.6.4), at most 2 void lookups (§4.6.4).
import { isNoRecord } from "../dns/resolver.ts";
import type { ResolveFunction } from "../dns/resolver.ts";
import type { CheckResult } from "./identity.ts";

export const MAX_LOOKUPS = 10;
export const MAX_VOID = 2;

async function spfRecords(resolve: ResolveFunction, domain: string): Promise<string[] | "void" | "error"> {
  try {
    const txt = await resolve(domain, "TXT");
    return txt.map((t) => t.join("")).filter((t) => /^v=spf1(\s|$)/i.test(t));
  } catch (err) {
    return isNoRecord(err) ? "void" : "error";
  }
}

interface Count { lookups: number; voids: number; error?: string; stopped?: boolean }

async function walk(resolve: ResolveFunction, record: string, count: Count, depth: number): Promise<void> {
  if (depth > 12) return;
  for (const term of record.split(/\s+/).slice(1)) {
    const m = /^[+\-~?]?(include|a|mx|ptr|exists|redirect)(?:[:=]([^/\s]+))?(?:\/\S*)?$/i.exec(term);
    if (!m) continue;
    // RFC 7208 §4.6.4: past the limit the evaluation is a permerror; stop walking, since includes
    // that fan out or loop (each naming several others) would otherwise take exponential time.
    if (count.lookups > MAX_LOOKUPS) {
      count.stopped = true;
      return;
    }
    const kind = m[1].toLowerCase();
    count.lookups++;
    const target = m[2];
    if ((kind === "include" || kind === "redirect") && target) {
      const recs = await spfRecords(resolve, target);
      if (recs === "error") { count.error = target; continue; }
      if (recs === "void" || recs.length === 0) { count.voids++; continue; }
      await walk(resolve, recs[0], count, depth + 1);
    } else if ((kind === "a" || kind === "exists") && target && !target.includes("%")) {
      try { await resolve(target, "A"); } catch (err) { if (isNoRecord(err)) count.voids++; }
    } else if (kind === "mx" && target) {
      try { await resolve(target, "MX"); } catch (err) { if (isNoRecord(err)) count.voids++; }
    }
  }
}

export async function checkSpf(resolve: ResolveFunction, domain: string, expected: string): Promise<CheckResult[]> {
  const recs = await spfRecords(resolve, domain);
  const add = `${domain}. TXT "${expected}"`;
  if (recs === "error") return [{ id: "spf.record", status: "unknown", message: `TXT lookup for ${domain} failed` }];
  if (recs === "void" || recs.length === 0) return [{ id: "spf.record", status: "fail", message: `${domain} has no SPF record`, fix: `add ${add}` }];
  if (recs.length > 1) return [{ id: "spf.record", status: "fail", message: `${domain} has ${recs.length} SPF records; receivers treat that as a permanent error (RFC 7208 §4.5)`, fix: `keep only ${add}` }];
  const out: CheckResult[] = [];
  out.push(recs[0] === expected
    ? { id: "spf.record", status: "ok", message: `SPF: ${recs[0]}` }
    : { id: "spf.record", status: "warn", message: `SPF is "${recs[0]}", expected "${expected}"`, fix: `replace with ${add}` });
  const count: Count = { lookups: 0, voids: 0 };
  await walk(resolve, recs[0], count, 0);
  if (count.error) out.push({ id: "spf.lookups", status: "unknown", message: `lookup of ${count.error} failed while counting SPF lookups` });
  else if (count.lookups > MAX_LOOKUPS) out.push({ id: "spf.lookups", status: "fail", message: count.stopped ? `SPF needs more than ${MAX_LOOKUPS} DNS lookups (RFC 7208 §4.6.4); counting stopped at ${count.lookups}` : `SPF needs ${count.lookups} DNS lookups, more than ${MAX_LOOKUPS} (RFC 7208 §4.6.4)`, fix: `replace includes with ip4:/ip6: terms: ${add}` });
  else out.push({ id: "spf.lookups", status: "ok", message: `SPF needs ${count.lookups} DNS lookups (limit ${MAX_LOOKUPS})` });
  if (count.voids > MAX_VOID) out.push({ id: "spf.void", status: "fail", message: `SPF has ${count.voids} void lookups, more than ${MAX_VOID} (RFC 7208 §4.6.4)`, fix: `remove the terms naming domains that do not exist: ${add}` });
  return out;
}
