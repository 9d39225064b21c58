// The health service: gathers the record inputs from the live configuration (freehold.yaml's
// hostname and server.publicIps, relays.yaml's relays and routes) and the store (DKIM keys) and
// hands them to the pure cores. The CLI calls this, never the store.
import type { Config } from "../config/schema.ts";
import type { DkimService } from "../emailauth/dkim-service.ts";
import { recordsToPublish } from "../emailauth/dkim-keys.ts";
import type { RelayFile } from "../delivery/relays.ts";
import { computeRecords } from "./records.ts";
import type { DnsRecord } from "./records.ts";

export interface RecordsOptions {
  /** Public IPs; default config.server.publicIps (the CLI's --ip overrides). */
  ips?: string[];
  /** SPF includes; default those of the relays whose routes serve the domain (--include overrides). */
  relayIncludes?: string[];
  /** relays.yaml, for the relay includes. */
  relays?: RelayFile;
}

const norm = (d: string) => d.toLowerCase().replace(/\.$/, "");

/** True when a rule key ("example.com" covers "a.example.com") matches the domain. */
function covers(key: string, domain: string): boolean {
  const k = norm(key).replace(/^\./, "");
  return domain === k || domain.endsWith(`.${k}`);
}

/**
 * The relays that may carry mail from `domain`: those named in the default route, in a sender
 * rule for the domain, and in any recipient rule (a recipient rule sends mail of every sender
 * through its relay). Each such relay's IPs must pass the domain's SPF.
 */
export function relaysServing(file: RelayFile, domain: string): RelayFile["relays"] {
  const d = norm(domain);
  const names = new Set<string>(file.routes.default);
  for (const [k, list] of Object.entries(file.routes.senderDomains)) if (covers(k, d)) list.forEach((n) => names.add(n));
  for (const list of Object.values(file.routes.recipientDomains)) list.forEach((n) => names.add(n));
  return file.relays.filter((r) => names.has(r.name));
}

export function relayIncludes(file: RelayFile | undefined, domain: string): string[] {
  if (!file) return [];
  return [...new Set(relaysServing(file, domain).flatMap((r) => (r.spfInclude ? [r.spfInclude] : [])))];
}

export function domainRecords(config: Pick<Config, "hostname" | "server">, dkim: Pick<DkimService, "list">, domain: string, opts: RecordsOptions = {}): DnsRecord[] {
  const d = norm(domain);
  const host = config.hostname;
  const hostDomain = host.split(".").slice(1).join(".");
  return computeRecords({
    domain: d,
    mailHost: host,
    heloName: host,
    ips: opts.ips ?? config.server.publicIps,
    dkim: recordsToPublish(dkim.list(d)),
    relayIncludes: opts.relayIncludes ?? relayIncludes(opts.relays, d),
    reportDomain: hostDomain || d,
  });
}
