// The health service: gathers the record inputs from the live configuration (freehold.yaml's
// hostname and server.publicIps, relays.yaml's relays and routes) and the store (DKIM keys) and
// hands them to the pure cores. The CLI calls this, never the store.
import type { Config } from "../config/schema.ts";
import type { DkimService } from "../emailauth/dkim-service.ts";
import { recordsToPublish } from "../emailauth/dkim-keys.ts";
import type { RelayFile } from "../delivery/relays.ts";
import { computeRecords, mtaStsPolicyText } from "./records.ts";
import type { DnsRecord } from "./records.ts";

export interface RecordsOptions {
  /** Public IPs; default config.server.publicIps (the CLI's --ip overrides). */
  ips?: string[];
  /** SPF includes; default those of the relays whose routes serve the domain (--include overrides). */
  relayIncludes?: string[];
  /** relays.yaml, for the relay includes. */
  relays?: RelayFile;
}

/**
 * The MTA-STS policy text this server serves for every domain (config mtaSts; RFC 8461 §3.2):
 * the same text the _mta-sts TXT id is computed from.
 */
export function mtaStsPolicy(config: Pick<Config, "hostname" | "mtaSts">): string {
  return mtaStsPolicyText([config.hostname, ...config.mtaSts.mx], config.mtaSts.mode, config.mtaSts.maxAgeSeconds);
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

export function domainRecords(config: Pick<Config, "hostname" | "server" | "mtaSts">, dkim: Pick<DkimService, "list">, domain: string, opts: RecordsOptions = {}): DnsRecord[] {
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
    mtaStsPolicy: mtaStsPolicy(config),
  });
}

// ---- `freehold check`: the dependencies of runChecks from an opened data folder ----

import net from "node:net";
import path from "node:path";
import type * as Mailauth from "mailauth";
import { lazyRequire } from "../lazy.ts";
import type { Clock } from "../clock.ts";
import { createResolver } from "../dns/resolver.ts";
import type { Resolver, ResolveFunction } from "../dns/resolver.ts";
import type { MetadataStore } from "../store/types.ts";
import type { AccountsService } from "../accounts/service.ts";
import { SYSTEM } from "../accounts/authz.ts";
import type { RelayCredentials, Relay } from "../delivery/relays.ts";
import { relayAddresses } from "../delivery/transport.ts";
import { openSession } from "../delivery/smtp-client.ts";
import type { TlsPolicy } from "../delivery/smtp-client.ts";
import { silentLogger } from "../log/logger.ts";
import type { CheckDeps } from "./check.ts";
import type { ComplaintStats } from "../suppression/service.ts";
import type { TlsTarget } from "./tls-check.ts";
import { loadPsl, pslCandidates } from "./psl.ts";

const mailauth = lazyRequire<typeof Mailauth>("mailauth");

/** SPF check_host() (RFC 7208 §4) of mail from `ip` for postmaster@domain, through `resolve`. */
export function spfEvaluator(resolve: ResolveFunction, hostname: string): (ip: string, domain: string) => Promise<string> {
  return async (ip, domain) => {
    const r = (await mailauth().spf({ ip, helo: hostname, sender: `postmaster@${domain}`, mta: hostname, resolver: resolve as (name: string, type: string) => Promise<string[][] | string[]> })) as { status?: { result?: string } };
    return r.status?.result ?? "none";
  };
}

export interface CheckContext {
  config: Config;
  store: Pick<MetadataStore, "queue">;
  accounts: Pick<AccountsService, "listDomains">;
  dkim: Pick<DkimService, "list">;
  relays: RelayFile;
  secrets: Record<string, RelayCredentials>;
  clock: Clock;
  /** Complaint counts per domain (SuppressionService.complaintStats); absent: no complaints check. */
  complaintStats?: (days: number) => Promise<ComplaintStats[]>;
}

/** The TLS listeners to connect to; a wildcard listen address is asked on loopback. */
export function tlsTargets(config: Pick<Config, "listeners">): TlsTarget[] {
  return config.listeners
    .filter((l) => l.role !== "http" && l.tls !== "none")
    .map((l) => ({
      host: l.address === "0.0.0.0" ? "127.0.0.1" : l.address === "::" ? "::1" : l.address,
      port: l.port,
      mode: l.tls === "implicit" ? ("implicit" as const) : ("starttls" as const),
      protocol: l.role === "imap" || l.role === "imaps" ? ("imap" as const) : ("smtp" as const),
      label: `${l.role} ${net.isIPv6(l.address) ? `[${l.address}]` : l.address}:${l.port}`,
    }));
}

/** EHLO, STARTTLS (verified), AUTH when credentials are set, then QUIT (session close). */
export async function verifyRelay(resolver: Resolver, localName: string, relay: Relay, creds?: RelayCredentials, tlsOptions?: { ca?: string }): Promise<string> {
  const addresses = await relayAddresses(resolver, relay.host);
  if (addresses.length === 0) throw Object.assign(new Error(`${relay.host} has no A or AAAA record`), { stage: "resolve" });
  const tls: TlsPolicy = relay.tls === "implicit" ? "implicit-verified" : relay.tls === "starttls" ? "starttls-verified" : "none";
  const s = await openSession(
    { address: addresses[0], port: relay.port, servername: relay.host, tls, localName, tlsOptions, ...(creds ? { auth: { user: creds.username, pass: creds.password } } : {}), timeouts: { connectMs: 15_000, greetingMs: 30_000, socketMs: 30_000 } },
    silentLogger(),
  );
  s.close();
  return `answers EHLO${relay.tls === "none" ? "" : `, ${relay.tls} TLS verified`}${creds ? `, accepts AUTH for ${creds.username}` : " (no credentials configured)"}`;
}

/**
 * runChecks' dependencies from the live configuration. The resolver has its answer cache off
 * (a fix shows at once); `close()` cancels what is outstanding.
 */
export function checkDeps(ctx: CheckContext, overrides: Partial<CheckDeps> = {}): CheckDeps & { close(): void } {
  const { config } = ctx;
  const resolvers: Resolver[] = [];
  const newResolver = (servers: readonly string[]) => {
    const r = createResolver({ servers, timeoutMs: config.dns.timeoutMs, tries: config.dns.tries, cache: false, clock: ctx.clock });
    resolvers.push(r);
    return r;
  };
  const resolver = newResolver(config.dns.servers);
  const deps: CheckDeps = {
    clock: ctx.clock,
    resolve: resolver.resolve,
    hostname: config.hostname,
    publicIps: config.server.publicIps,
    domains: async () => (await ctx.accounts.listDomains(SYSTEM)).map((d) => d.name),
    expectedRecords: (d) => domainRecords(config, ctx.dkim, d, { relays: ctx.relays }),
    dkimKeys: (d) => ctx.dkim.list(d),
    spfResult: spfEvaluator(resolver.resolve, config.hostname),
    tlsTargets: tlsTargets(config),
    certFile: path.resolve(config.dataDir, config.tls.cert),
    blocklists: { ip: config.server.blocklists.ip, domain: config.server.blocklists.domain },
    psl: loadPsl(pslCandidates(config.dataDir)),
    relays: ctx.relays.relays.map((relay) => ({ relay, creds: ctx.secrets[relay.name] })),
    verifyRelay: (relay, creds) => verifyRelay(resolver, config.hostname, relay, creds),
    queue: () => ctx.store.queue.list(),
    dataDir: config.dataDir,
    dbFiles: ["meta.sqlite", "meta.sqlite-wal"],
    ...(ctx.complaintStats
      ? { complaints: { stats: ctx.complaintStats, days: config.suppression.complaintWindowDays, warn: config.suppression.complaintRateWarn, fail: config.suppression.complaintRateFail, minSent: config.suppression.complaintMinSent } }
      : {}),
    authoritative: {
      resolverFor: (server) => {
        const r = newResolver([server]);
        return { resolve: r.resolve, close: () => r.cancel() };
      },
    },
    ...overrides,
  };
  return { ...deps, close: () => resolvers.forEach((r) => r.cancel()) };
}
