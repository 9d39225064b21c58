// The health service: gathers the record inputs from the live configuration and the store
// (DKIM keys) and hands them to the pure cores. The CLI calls this, never the store.
import type { Config } from "../config/schema.ts";
import type { DkimService } from "../emailauth/dkim-service.ts";
import { recordsToPublish } from "../emailauth/dkim-keys.ts";
import { computeRecords, mtaStsPolicyText } from "./records.ts";
import type { DnsRecord } from "./records.ts";

export interface RecordsOptions {
  /** Public IPs. Until a config key exists (left to do), the CLI passes --ip. */
  ips: string[];
  relayIncludes?: string[];
}

/**
 * The MTA-STS policy text this server serves for every domain (config mtaSts; RFC 8461 §3.2):
 * the same text the _mta-sts TXT id is computed from.
 */
export function mtaStsPolicy(config: Pick<Config, "hostname" | "mtaSts">): string {
  return mtaStsPolicyText([config.hostname, ...config.mtaSts.mx], config.mtaSts.mode, config.mtaSts.maxAgeSeconds);
}

export function domainRecords(config: Pick<Config, "hostname" | "mtaSts">, dkim: Pick<DkimService, "list">, domain: string, opts: RecordsOptions): DnsRecord[] {
  const d = domain.toLowerCase().replace(/\.$/, "");
  const host = config.hostname;
  const hostDomain = host.split(".").slice(1).join(".");
  return computeRecords({
    domain: d,
    mailHost: host,
    heloName: host,
    ips: opts.ips,
    dkim: recordsToPublish(dkim.list(d)),
    relayIncludes: opts.relayIncludes ?? [],
    reportDomain: hostDomain || d,
    mtaStsPolicy: mtaStsPolicy(config),
  });
}
