// DKIM for the smtp-out case, the way an operator turns it on: `domain add` created the keys
// (state "new"); their TXT records are published (here: on the case's loopback DNS server) and
// `freehold dkim check` sees them live through the Resolver, which activates them. Nothing in
// Freehold is bypassed: signing starts only because the check passed.
import path from "node:path";
import type { FaultHandler } from "../../test/support/dns-fault.ts";
import { run } from "../../test/support/peer-util.ts";
import { Unavailable } from "./freehold-server.ts";

/** TXT records by owner name (lower case), each as its character-strings. */
export type TxtZone = Map<string, string[]>;

const SOA = {
  name: "test",
  type: "SOA" as const,
  ttl: 300,
  data: { mname: "ns.test", rname: "hostmaster.test", serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 300 },
};

/** Answers TXT questions from `zone` (filled later, before serve); everything else NXDOMAIN with the SOA (RFC 2308 §3). */
export function zoneHandler(zone: TxtZone): FaultHandler {
  return (q) => {
    const txt = q.type === "TXT" ? zone.get(q.name.toLowerCase()) : undefined;
    if (txt) return { kind: "answer", answers: [{ name: q.name, type: "TXT", ttl: 300, data: txt }] };
    return { kind: "rcode", rcode: "NXDOMAIN", authorities: [SOA] };
  };
}

/** RFC 1035 §3.3.14: a TXT record is a sequence of character-strings of at most 255 octets. */
function chunks(text: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += 255) out.push(text.slice(i, i + 255));
  return out;
}

/**
 * Publishes the domain's DKIM records in `zone` (from `freehold dkim list --json`) and runs
 * `freehold dkim check`; throws Unavailable unless every key ends "active". Returns the selectors.
 */
export async function activateDkim(root: string, data: string, domain: string, zone: TxtZone): Promise<string[]> {
  const cli = path.join(root, "src", "cli", "main.ts");
  const cmd = async (args: string[]) => {
    const r = await run(process.execPath, [cli, "--data", data, ...args], { cwd: root, timeoutMs: 60_000 });
    if (r.code !== 0) throw new Unavailable(`\`freehold ${args.join(" ")}\` failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().split("\n")[0]}`);
    return r.stdout;
  };
  const keys = JSON.parse(await cmd(["dkim", "list", domain, "--json"])) as Array<{ name: string; txt: string; selector: string; state: string }>;
  if (keys.length === 0) throw new Unavailable(`no DKIM keys for ${domain} after domain add`);
  for (const k of keys) zone.set(k.name.toLowerCase(), chunks(k.txt));
  await cmd(["dkim", "check", domain]);
  const after = JSON.parse(await cmd(["dkim", "list", domain, "--json"])) as Array<{ selector: string; state: string }>;
  const inactive = after.filter((k) => k.state !== "active");
  if (inactive.length > 0) throw new Unavailable(`DKIM keys not active after check: ${inactive.map((k) => `${k.selector}=${k.state}`).join(", ")}`);
  return after.map((k) => k.selector);
}
