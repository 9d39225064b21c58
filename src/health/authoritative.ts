// `freehold check --authoritative`: asks each of the zone's NS servers directly (no recursive
// resolver, no cache) for the records we check, and reports where they disagree. A secondary
// that missed a zone transfer (RFC 1996 NOTIFY lost, RFC 1995/5936 transfer refused) keeps
// serving the old SPF or DKIM key to part of the Internet.
import { isNoRecord } from "../dns/resolver.ts";
import type { ResolveFunction } from "../dns/resolver.ts";
import type { DnsRecord } from "./records.ts";
import type { CheckResult } from "./types.ts";

export interface AuthoritativeDeps {
  /** A resolve function that asks exactly this server ("ip" or "ip:port"), uncached. */
  resolverFor(server: string): { resolve: ResolveFunction; close(): void };
  /** The servers to ask for an NS host with these addresses; default the addresses on port 53. */
  serversFor?(nsName: string, addresses: string[]): string[];
}

const norm = (n: string) => n.toLowerCase().replace(/\.$/, "");

/** The zone apex holding `domain`: the nearest name with NS records. */
async function zoneOf(resolve: ResolveFunction, domain: string): Promise<{ apex: string; ns: string[] } | null> {
  const labels = norm(domain).split(".");
  for (let i = 0; i < labels.length - 1; i++) {
    const name = labels.slice(i).join(".");
    try {
      const ns = await resolve(name, "NS");
      if (ns.length > 0) return { apex: name, ns: ns.map(norm).sort() };
    } catch (err) {
      if (!isNoRecord(err)) throw err;
    }
  }
  return null;
}

async function answer(resolve: ResolveFunction, name: string, type: "MX" | "TXT" | "A" | "AAAA"): Promise<string> {
  try {
    const r = await resolve(name, type);
    const items = (r as unknown[]).map((x) => (type === "MX" ? `${(x as { priority: number }).priority} ${norm((x as { exchange: string }).exchange)}` : type === "TXT" ? (x as string[]).join("") : String(x)));
    return items.sort().join(" | ");
  } catch (err) {
    return isNoRecord(err) ? "(none)" : `(error ${(err as NodeJS.ErrnoException).code})`;
  }
}

export async function compareAuthoritative(resolve: ResolveFunction, deps: AuthoritativeDeps, domain: string, expected: DnsRecord[]): Promise<CheckResult[]> {
  const d = norm(domain);
  const id = `dns.authoritative.${d}`;
  const base = { id, subject: d, group: "dns" as const };
  let zone: { apex: string; ns: string[] } | null;
  try {
    zone = await zoneOf(resolve, d);
  } catch (err) {
    return [{ ...base, status: "unknown", message: `NS lookup for ${d} failed: ${(err as NodeJS.ErrnoException).code}` }];
  }
  if (!zone) return [{ ...base, status: "fail", message: `no NS records found for ${d} or its parents`, fix: `delegate ${d} to name servers at your registrar` }];
  // The questions: every name and type the record checks ask.
  const questions = new Map<string, { name: string; type: "MX" | "TXT" | "A" | "AAAA" }>();
  for (const r of expected) {
    if (r.type === "MX" || r.type === "TXT" || r.type === "A" || r.type === "AAAA") {
      const name = norm(r.name);
      if (name === zone.apex || name.endsWith(`.${zone.apex}`)) questions.set(`${name} ${r.type}`, { name, type: r.type });
    }
  }
  const servers: { ns: string; server: string }[] = [];
  for (const ns of zone.ns) {
    const addrs: string[] = [];
    for (const t of ["A", "AAAA"] as const) {
      try {
        addrs.push(...(await resolve(ns, t)));
      } catch {
        // an NS without an address of this family
      }
    }
    if (addrs.length === 0) return [{ ...base, status: "fail", message: `name server ${ns} of ${zone.apex} has no address`, fix: `give ${ns} an A record, or remove it from the NS records of ${zone.apex}` }];
    for (const s of deps.serversFor ? deps.serversFor(ns, addrs) : addrs) servers.push({ ns, server: s });
  }
  // server label → question → answer
  const answers = new Map<string, Map<string, string>>();
  await Promise.all(
    servers.map(async ({ ns, server }) => {
      const r = deps.resolverFor(server);
      try {
        const m = new Map<string, string>();
        for (const [k, q] of questions) m.set(k, await answer(r.resolve, q.name, q.type));
        answers.set(`${ns} (${server})`, m);
      } finally {
        r.close();
      }
    }),
  );
  const labels = [...answers.keys()].sort();
  const out: CheckResult[] = [];
  for (const k of questions.keys()) {
    const byAnswer = new Map<string, string[]>();
    for (const l of labels) {
      const a = answers.get(l)!.get(k)!;
      byAnswer.set(a, [...(byAnswer.get(a) ?? []), l]);
    }
    if (byAnswer.size > 1) {
      const parts = [...byAnswer].map(([a, ls]) => `${ls.join(", ")}: ${a}`);
      out.push({ id: `${id}.${k.replace(" ", ".")}`, subject: d, group: "dns", status: "warn", message: `the name servers of ${zone.apex} disagree on ${k}: ${parts.join("; ")}`, fix: `update the zone on every name server (a stale secondary: check its zone transfers, and raise the SOA serial of ${zone.apex} on the primary)`, data: Object.fromEntries([...byAnswer].map(([a, ls]) => [a, ls])) });
    }
  }
  if (out.length === 0) out.push({ ...base, status: "ok", message: `all ${labels.length} name servers of ${zone.apex} (${zone.ns.join(", ")}) give the same answers to ${questions.size} questions` });
  return out;
}
