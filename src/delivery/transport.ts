// Carrying one message to the recipients of one domain over one route: "direct" (the domain's
// MX hosts, RFC 5321 §5.1) or a named relay. The queue runner decides what happens with the
// results (retry, bounce, next route); this file only talks SMTP.
//
// Failover within a route: every address of every MX host is tried in order until one session
// is established (connect, greeting, TLS). A 4xx for a whole session at greeting moves to the next
// address too (RFC 5321 §5.1: "try the next host"). Once a transaction has run, its per-recipient
// results stand.
import type { Logger } from "../log/logger.ts";
import type { Resolver } from "../dns/resolver.ts";
import { isNoRecord } from "../dns/resolver.ts";
import { mxResolverOf, resolveMxTargets } from "./mx.ts";
import type { MtaStsPolicies } from "./mta-sts.ts";
import type { Relay, RelayCredentials } from "./relays.ts";
import { SessionError, openSession } from "./smtp-client.ts";
import type { OutboundTransaction, RecipientResult, SessionTarget, TlsPolicy } from "./smtp-client.ts";
import type { ConnectionOptions } from "node:tls";
import type { SessionLease, SessionPool } from "./session-pool.ts";

export interface TransportDeps {
  resolver: Resolver;
  logger: Logger;
  /** Our host name: EHLO, MX-to-self detection. */
  hostname: string;
  ourAddresses: readonly string[];
  mtaSts?: MtaStsPolicies;
  /** Port of remote MX hosts (25; tests may change it). */
  mxPort?: number;
  preferIPv4?: boolean;
  random?: () => number;
  /** Extra TLS options for every session (tests: the test CA). */
  tlsOptions?: ConnectionOptions;
  timeouts?: SessionTarget["timeouts"];
  /** Sessions kept open between messages (session-pool.ts); without it, one session per message. */
  sessions?: SessionPool;
}

export type RouteOutcome =
  | {
      kind: "sent";
      results: RecipientResult[];
      /** The host that answered (Remote-MTA). */
      host: string;
      /** Whether the next hop took the RFC 3461 parameters. */
      dsnCapable: boolean;
    }
  | {
      /** The route could not take the message at all: next route, or retry/bounce per `permanent`. */
      kind: "route-failed";
      permanent: boolean;
      status: string;
      reply: string;
      host: string | null;
    };

export async function deliverDirect(deps: TransportDeps, domain: string, tx: OutboundTransaction): Promise<RouteOutcome> {
  const plan = await resolveMxTargets(domain, mxResolverOf(deps.resolver), {
    ourHostnames: [deps.hostname.toLowerCase()],
    ourAddresses: deps.ourAddresses,
    preferIPv4: deps.preferIPv4,
    random: deps.random ?? Math.random,
  });
  if (!plan.ok) return { kind: "route-failed", permanent: plan.permanent, status: plan.status, reply: plan.message, host: null };
  const sts = deps.mtaSts ? await deps.mtaSts.verdict(domain) : null;
  const enforce = sts?.mode === "enforce";
  let last: RouteOutcome = { kind: "route-failed", permanent: false, status: "4.4.1", reply: "no MX host answered", host: null };
  for (const t of plan.targets) {
    // RFC 8461 §4.1: with "enforce", only MX hosts the policy lists, over verified TLS.
    if (enforce && !sts.allows(t.host)) {
      last = { kind: "route-failed", permanent: false, status: "4.7.5", reply: `MX ${t.host} not allowed by the MTA-STS policy of ${domain}`, host: t.host };
      continue;
    }
    const tls: TlsPolicy = enforce ? "starttls-verified" : "opportunistic";
    const r = await viaTarget(deps, { address: t.address, port: deps.mxPort ?? 25, servername: t.host, tls, localName: deps.hostname, tlsOptions: deps.tlsOptions, timeouts: deps.timeouts }, tx);
    if (r.kind === "sent") return r;
    last = r;
  }
  return last;
}

export async function deliverRelay(deps: TransportDeps, relay: Relay, creds: RelayCredentials | undefined, tx: OutboundTransaction): Promise<RouteOutcome> {
  let addresses: string[];
  try {
    addresses = await relayAddresses(deps.resolver, relay.host);
  } catch (err) {
    return { kind: "route-failed", permanent: false, status: "4.4.3", reply: `cannot resolve relay ${relay.host}: ${(err as Error).message}`, host: relay.host };
  }
  const tls: TlsPolicy = relay.tls === "implicit" ? "implicit-verified" : relay.tls === "starttls" ? "starttls-verified" : "none";
  let last: RouteOutcome = { kind: "route-failed", permanent: false, status: "4.4.1", reply: `relay ${relay.name} has no address`, host: relay.host };
  for (const address of addresses) {
    const r = await viaTarget(
      deps,
      {
        address,
        port: relay.port,
        servername: relay.host,
        tls,
        localName: deps.hostname,
        auth: creds ? { user: creds.username, pass: creds.password } : undefined,
        tlsOptions: deps.tlsOptions,
        timeouts: deps.timeouts,
      },
      tx,
    );
    if (r.kind === "sent") return r;
    last = r;
    // A refused login is the relay's answer, not the address's: the next address says the same.
    if (r.reply.startsWith("auth:")) break;
  }
  return last;
}

/** IP literal as is; else A then AAAA through our Resolver (never the system's). */
export async function relayAddresses(resolver: Resolver, host: string): Promise<string[]> {
  const { isIP } = await import("node:net");
  if (isIP(host)) return [host];
  const out: string[] = [];
  for (const q of [resolver.a, resolver.aaaa]) {
    try {
      out.push(...(await q(host)));
    } catch (err) {
      if (!isNoRecord(err)) throw err;
    }
  }
  return out;
}

async function viaTarget(deps: TransportDeps, target: SessionTarget, tx: OutboundTransaction): Promise<RouteOutcome> {
  const log = deps.logger;
  const pool = deps.sessions;
  // Twice at most: a reused session the server closed while idle fails before the final dot
  // (nothing was delivered), and then a new session carries the message at once.
  for (let attempt = 0; ; attempt++) {
    let lease: SessionLease;
    try {
      lease = pool ? await pool.acquire(target, log) : { session: await openSession(target, log), reused: false, key: "", openedAt: 0, uses: 0 };
    } catch (err) {
      const e = err instanceof SessionError ? err : new SessionError("connect", (err as Error).message, null);
      log.info({ host: target.servername, address: target.address, stage: e.stage, reply: e.reply }, "outbound session failed");
      const status = e.stage === "auth" ? "4.7.8" : e.stage === "tls" ? "4.7.5" : "4.4.1";
      return { kind: "route-failed", permanent: false, status, reply: `${e.stage}: ${e.reply}`, host: target.servername };
    }
    const session = lease.session;
    let results;
    try {
      results = await session.send(tx);
    } catch (err) {
      if (pool) pool.release(lease, false);
      else session.close();
      throw err;
    }
    const dsnCapable = session.supportsDsn;
    const clean = results.every((r) => r.kind === "ok");
    if (pool) pool.release(lease, clean);
    else session.close();
    if (lease.reused && attempt === 0 && results.length > 0 && results.every((r) => r.code === null && !r.unknownOutcome)) {
      log.debug({ host: target.servername, address: target.address }, "reused session was closed by the server; sending on a new one");
      continue;
    }
    return { kind: "sent", results, host: target.servername, dsnCapable };
  }
}
