// `freehold check`: every live check of item 2 (issue 8), run once. The watcher in serve calls
// runChecks on a schedule; this file only runs them. Each check gives ok / warn / fail / unknown
// with the exact record or command that fixes it (types.ts).
//
// Groups: dns (records present and equal, dns-checks.ts), identity (FCrDNS per outbound IP
// matching the HELO name, identity.ts), tls (the certificate each listener serves, tls-check.ts),
// blocklist (RFC 5782 lists, dnsbl.ts; ids blocklist.<zone>.<subject>), relay (EHLO, STARTTLS,
// AUTH, QUIT), queue (oldest deferred message), disk (free space and inodes, database size).
import fs from "node:fs/promises";
import path from "node:path";
import { X509Certificate } from "node:crypto";
import type { Clock } from "../clock.ts";
import type { ResolveFunction } from "../dns/resolver.ts";
import type { DkimKey } from "../emailauth/dkim-keys.ts";
import type { QueueRecord } from "../store/types.ts";
import type { Relay, RelayCredentials } from "../delivery/relays.ts";
import type { DnsRecord } from "./records.ts";
import { checkDomainRecords } from "./dns-checks.ts";
import { checkReverseDns } from "./identity.ts";
import { judgeCertificate, servedCertificate } from "./tls-check.ts";
import type { TlsTarget } from "./tls-check.ts";
import { HEALTH_DOMAIN_ZONES, HEALTH_IP_ZONES, queryList, testSubject, untrustedList, zenMeaning } from "../dnsbl/dnsbl.ts";
import type { ListAnswer } from "../dnsbl/dnsbl.ts";
import type { PublicSuffixList } from "./psl.ts";
import type { CheckGroup, CheckReport, CheckResult, CheckStatus } from "./types.ts";
import { compareAuthoritative } from "./authoritative.ts";
import type { ComplaintStats } from "../suppression/service.ts";
import type { AuthoritativeDeps } from "./authoritative.ts";

/** RFC 5782 IP lists asked by default (Spamhaus ZEN, SpamCop, Barracuda, UCEPROTECT level 1, PSBL). */
export const DEFAULT_IP_BLOCKLISTS = HEALTH_IP_ZONES;
/** Domain lists asked by default (Spamhaus DBL, SURBL). */
export const DEFAULT_DOMAIN_BLOCKLISTS = HEALTH_DOMAIN_ZONES;

const DAY = 86_400_000;
const HOUR = 3_600_000;
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

export interface CheckDeps {
  clock: Clock;
  /** The one Resolver's resolve, with its answer cache off (so a fix shows at once). */
  resolve: ResolveFunction;
  hostname: string;
  /** server.publicIps: the outbound IPs. */
  publicIps: string[];
  /** The domains checked when no domain is given. */
  domains(): Promise<string[]>;
  /** What `freehold dns records` prints for a domain. */
  expectedRecords(domain: string): DnsRecord[];
  /** Every DKIM key of a domain, retired ones included. */
  dkimKeys(domain: string): DkimKey[];
  /** SPF result for mail from `ip` claiming `domain` (mailauth through the same resolver). */
  spfResult?: (ip: string, domain: string) => Promise<string>;
  /** TLS listeners to connect to. */
  tlsTargets: TlsTarget[];
  /** tls.cert on disk (PEM), to tell a renewal not yet served. */
  certFile?: string;
  blocklists: { ip: string[]; domain: string[] };
  /** For registrable domains; null: names are checked as given, and a result says so. */
  psl: PublicSuffixList | null;
  relays: { relay: Relay; creds?: RelayCredentials }[];
  /** Opens an SMTP session to the relay (EHLO, STARTTLS, AUTH when creds) and closes it with QUIT. */
  verifyRelay?: (relay: Relay, creds?: RelayCredentials) => Promise<string>;
  queue?: () => Promise<QueueRecord[]>;
  dataDir?: string;
  /** Database files whose sizes are summed (meta.sqlite and its -wal). */
  dbFiles?: string[];
  /** For --authoritative: how to reach a zone's NS servers. */
  authoritative?: AuthoritativeDeps;
  /** Feedback-loop complaints per sending domain (src/suppression/) and the limits they are judged by. */
  complaints?: ComplaintDeps;
}

export interface ComplaintDeps {
  stats(days: number): Promise<ComplaintStats[]>;
  /** suppression.complaintWindowDays, complaintRateWarn, complaintRateFail, complaintMinSent. */
  days: number;
  warn: number;
  fail: number;
  minSent: number;
}

export interface CheckOptions {
  domain?: string;
  authoritative?: boolean;
  only?: string[];
}

const want = (opts: CheckOptions, g: CheckGroup) => !opts.only || opts.only.length === 0 || opts.only.includes(g);

export async function runChecks(deps: CheckDeps, opts: CheckOptions = {}): Promise<CheckReport> {
  const startedAt = new Date(deps.clock.now()).toISOString();
  const results: CheckResult[] = [];
  const domains = opts.domain ? [opts.domain.toLowerCase().replace(/\.$/, "")] : await deps.domains();
  const tasks: Promise<CheckResult[]>[] = [];

  if (want(opts, "dns")) {
    for (const d of domains) {
      const expected = deps.expectedRecords(d);
      tasks.push(checkDomainRecords(deps.resolve, { domain: d, mailHost: deps.hostname, heloName: deps.hostname, ips: deps.publicIps, expected, dkimKeys: deps.dkimKeys(d), spfResult: deps.spfResult }));
      if (opts.authoritative && deps.authoritative) tasks.push(compareAuthoritative(deps.resolve, deps.authoritative, d, expected));
    }
    if (deps.publicIps.length === 0) {
      results.push({ id: "dns.public-ips", status: "fail", message: "no public IP is configured: SPF, A/AAAA, reverse DNS and blocklists cannot be checked", fix: "set server.publicIps in freehold.yaml, e.g. server: { publicIps: [\"192.0.2.10\"] }", group: "dns" });
    }
  }
  if (want(opts, "identity")) for (const ip of deps.publicIps) tasks.push(checkReverseDns(deps.resolve, ip, deps.hostname).then((r) => [{ ...r, subject: ip, group: "identity" as const }]));
  if (want(opts, "tls")) tasks.push(checkTls(deps));
  if (want(opts, "blocklist")) tasks.push(checkBlocklists(deps, domains));
  if (want(opts, "relay")) tasks.push(checkRelays(deps));
  if (want(opts, "queue") && deps.queue) tasks.push(checkQueue(deps));
  if (want(opts, "disk") && deps.dataDir) tasks.push(checkDisk(deps));
  if (want(opts, "complaints") && deps.complaints) tasks.push(checkComplaints(deps.complaints, domains));
  for (const r of await Promise.all(tasks)) results.push(...r);
  return { startedAt, results };
}

async function checkTls(deps: CheckDeps): Promise<CheckResult[]> {
  let onDisk: X509Certificate | null = null;
  if (deps.certFile) {
    try {
      onDisk = new X509Certificate(await fs.readFile(deps.certFile));
    } catch {
      onDisk = null;
    }
  }
  return Promise.all(
    deps.tlsTargets.map(async (t): Promise<CheckResult> => {
      try {
        return judgeCertificate(t.label, await servedCertificate(t), deps.hostname, deps.clock.now(), onDisk);
      } catch (err) {
        return { id: `tls.${t.label.replace(/\s+/g, ".")}`, status: "fail", message: `${t.label}: could not read the certificate: ${(err as Error).message}`, fix: "check that freehold serve is running and the listener accepts TLS", subject: t.label, group: "tls" };
      }
    }),
  );
}

/** What a listing means and how to fix it, per list. */
function listingAdvice(zone: string, subject: string, codes: string[], reason?: string): { message: string; fix: string; list?: string } {
  const z = zone.toLowerCase();
  const why = reason ? ` ("${reason}")` : "";
  if (z.startsWith("zen.spamhaus")) {
    const meanings = codes.map((c) => zenMeaning(c)).filter((m) => m !== undefined);
    if (meanings.length > 0) {
      const lists = [...new Set(meanings.map((m) => m.list))];
      return { message: `${subject} is listed in Spamhaus ${lists.join("+")} (${codes.join(", ")})${why}`, fix: meanings[0].fix, list: lists.join("+") };
    }
  }
  if (z.startsWith("dbl.spamhaus")) return { message: `${subject} is listed in the Spamhaus DBL (${codes.join(", ")})${why}`, fix: `find why ${subject} is listed (a compromised website, links in spam) and request removal at https://check.spamhaus.org` };
  if (z.includes("spamcop")) return { message: `${subject} is listed in SpamCop (${codes.join(", ")})${why}`, fix: "SpamCop listings expire by themselves 24 hours after the last spam report: find and stop what sends spam from this IP" };
  if (z.includes("uceprotect")) return { message: `${subject} is listed in UCEPROTECT level 1 (${codes.join(", ")})${why}`, fix: "stop the spam; the listing expires after 7 days without spam (see https://www.uceprotect.net)" };
  if (z.includes("barracuda")) return { message: `${subject} is listed in Barracuda (${codes.join(", ")})${why}`, fix: "request removal at https://www.barracudacentral.org/rbl/removal-request" };
  if (z.includes("psbl")) return { message: `${subject} is listed in PSBL (${codes.join(", ")})${why}`, fix: "remove it yourself at https://psbl.org" };
  if (z.includes("surbl")) return { message: `${subject} is listed in SURBL (${codes.join(", ")})${why}`, fix: "request removal at https://surbl.org/surbl-analysis" };
  return { message: `${subject} is listed in ${zone} (${codes.join(", ")})${why}`, fix: `find why ${subject} is listed and follow ${zone}'s removal procedure` };
}

async function checkBlocklists(deps: CheckDeps, domains: string[]): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const regs = new Set<string>();
  for (const d of [...domains, deps.hostname]) {
    const r = deps.psl ? deps.psl.registrableDomain(d) : d;
    if (r) regs.add(r);
  }
  if (!deps.psl && deps.blocklists.domain.length > 0) {
    out.push({ id: "blocklist.psl", status: "warn", message: "no Public Suffix List found: domains are looked up in domain lists as given, not as registrable domains", fix: "apt-get install publicsuffix (or put public_suffix_list.dat in the data folder)", group: "blocklist" });
  }
  const jobs: [string, string, "ip" | "domain"][] = [
    ...deps.publicIps.flatMap((ip) => deps.blocklists.ip.map((z) => [z, ip, "ip"] as [string, string, "ip"])),
    ...[...regs].flatMap((d) => deps.blocklists.domain.map((z) => [z, d, "domain"] as [string, string, "domain"])),
  ];
  // Each list's RFC 5782 §5 test entry is asked once per run, not once per subject.
  const probes = new Map<string, Promise<ListAnswer>>();
  const probe = (zone: string, kind: "ip" | "domain") => {
    const key = `${kind} ${zone}`;
    let p = probes.get(key);
    if (!p) probes.set(key, (p = queryList(deps.resolve, testSubject(kind), zone, false)));
    return p;
  };
  await Promise.all(
    jobs.map(async ([zone, subject, kind]) => {
      const pr = await probe(zone, kind);
      const a: ListAnswer = untrustedList(pr) ?? (await queryList(deps.resolve, subject, zone));
      const id = `blocklist.${zone}.${subject}`;
      const base = { id, subject, group: "blocklist" as const };
      if (a.status === "listed") {
        const adv = listingAdvice(zone, subject, a.codes, a.reason);
        out.push({ ...base, status: "fail", message: adv.message, fix: adv.fix, data: { zone, codes: a.codes, ...(adv.list ? { list: adv.list } : {}), ...(a.reason ? { reason: a.reason } : {}) } });
      } else if (a.status === "unknown") {
        const refused = a.codes.some((c) => c.startsWith("127.255.255.")) || a.detail?.includes("refused-code");
        out.push({
          ...base,
          status: "unknown",
          message: refused
            ? `${zone} refused our query (${a.codes.join(", ")}): this resolver is blocked or over the free limit, so ${subject} is not known to be clean`
            : `${zone} gave no usable answer (${a.detail ?? "no answer"}), so ${subject} is not known to be clean`,
          fix: "use a local recursive resolver (unbound or knot-resolver on this host) in dns.servers, not a public or forwarding one",
          data: { zone, codes: a.codes, detail: a.detail },
        });
      } else out.push({ ...base, status: "ok", message: `${subject} is not listed in ${zone}`, data: { zone } });
    }),
  );
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

async function checkRelays(deps: CheckDeps): Promise<CheckResult[]> {
  if (!deps.verifyRelay) return [];
  return Promise.all(
    deps.relays.map(async ({ relay, creds }): Promise<CheckResult> => {
      const base = { id: `relay.${relay.name}`, subject: relay.name, group: "relay" as const };
      try {
        const detail = await deps.verifyRelay!(relay, creds);
        return { ...base, status: "ok", message: `relay ${relay.name} (${relay.host}:${relay.port}) ${detail}` };
      } catch (err) {
        const e = err as Error & { stage?: string; reply?: string };
        const stage = e.stage ?? "connect";
        const fix =
          stage === "auth"
            ? `check the relay's user name and password: printf %s "$PASSWORD" | freehold relay add ${relay.name} --host ${relay.host} --port ${relay.port} --tls ${relay.tls} --user USER`
            : `check the relay's host, port and TLS mode (freehold relay test ${relay.name})`;
        return { ...base, status: "fail", message: `relay ${relay.name} (${relay.host}:${relay.port}) failed at ${stage}: ${(e.reply ?? e.message).trim()}`, fix, data: { stage } };
      }
    }),
  );
}

/** Age thresholds of the oldest deferred message. */
export const QUEUE_WARN_MS = 1 * HOUR;
export const QUEUE_FAIL_MS = 24 * HOUR;

async function checkQueue(deps: CheckDeps): Promise<CheckResult[]> {
  const list = await deps.queue!();
  const now = deps.clock.now();
  const deferred = list.filter((q) => q.recipients.some((r) => r.state === "pending" && r.attempts > 0));
  const base = { id: "queue.deferred", group: "queue" as const };
  if (deferred.length === 0) return [{ ...base, status: "ok", message: `no deferred message (${list.length} queued)`, data: { queued: list.length, deferred: 0 } }];
  const oldest = deferred.reduce((a, b) => (a.createdAt <= b.createdAt ? a : b));
  const age = now - oldest.createdAt;
  const hours = Math.floor(age / HOUR);
  const r = oldest.recipients.find((x) => x.state === "pending" && x.attempts > 0)!;
  const data = { queued: list.length, deferred: deferred.length, oldestAgeS: Math.floor(age / 1000), oldestId: oldest.id };
  const msg = `${deferred.length} deferred message(s); the oldest (queue id ${oldest.id}, to ${r.recipient}) waits for ${hours} h: ${r.lastReply ?? "no reply"}`;
  const status: CheckStatus = age >= QUEUE_FAIL_MS ? "fail" : age >= QUEUE_WARN_MS ? "warn" : "ok";
  return [{ ...base, status, message: msg, ...(status !== "ok" ? { fix: `freehold queue show ${oldest.id}` } : {}), data }];
}

async function checkDisk(deps: CheckDeps): Promise<CheckResult[]> {
  const dir = deps.dataDir!;
  const out: CheckResult[] = [];
  const st = await fs.statfs(dir);
  const free = st.bavail * st.bsize;
  const total = st.blocks * st.bsize;
  const pct = total > 0 ? (100 * free) / total : 100;
  const space: CheckStatus = free < 200 * MiB || pct < 2 ? "fail" : free < GiB || pct < 10 ? "warn" : "ok";
  out.push({ id: "disk.space", group: "disk", subject: dir, status: space, message: `${(free / GiB).toFixed(1)} GiB free (${pct.toFixed(0)}%) for the data folder`, ...(space !== "ok" ? { fix: `free space on the file system of ${dir} or move the data folder to a bigger disk` } : {}), data: { freeBytes: free, totalBytes: total } });
  if (st.files > 0) {
    const ipct = (100 * st.ffree) / st.files;
    const inodes: CheckStatus = ipct < 2 ? "fail" : ipct < 10 ? "warn" : "ok";
    out.push({ id: "disk.inodes", group: "disk", subject: dir, status: inodes, message: `${st.ffree} inodes free (${ipct.toFixed(0)}%)`, ...(inodes !== "ok" ? { fix: `delete small files on the file system of ${dir}, or recreate it with more inodes` } : {}), data: { freeInodes: st.ffree, totalInodes: st.files } });
  }
  let size = 0;
  for (const f of deps.dbFiles ?? []) size += await fs.stat(path.resolve(dir, f)).then((s) => s.size, () => 0);
  out.push({ id: "disk.database", group: "disk", subject: dir, status: "ok", message: `database ${(size / MiB).toFixed(1)} MiB`, data: { bytes: size } });
  return out;
}

/**
 * Complaint rate per domain (issue 19 §2): feedback-loop complaints / messages submitted over
 * the window. Gmail's bulk-sender guideline keeps it under 0.1% and never at 0.3%; Yahoo's is
 * the same. Below minSent messages the rate says little (one complaint in ten messages is 10%),
 * so it is reported without a verdict.
 */
export async function checkComplaints(c: ComplaintDeps, domains: string[]): Promise<CheckResult[]> {
  const byDomain = new Map((await c.stats(c.days)).map((s) => [s.senderDomain, s]));
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  return domains.map((d): CheckResult => {
    const s = byDomain.get(d) ?? { senderDomain: d, complaints: 0, sent: 0, rate: 0 };
    const base = { id: `complaints.${d}`, subject: d, group: "complaints" as const, data: { sent: s.sent, complaints: s.complaints, rate: s.rate, days: c.days } };
    const figures = `${s.complaints} complaint(s) for ${s.sent} message(s) sent from ${d} in ${c.days} days`;
    if (s.sent < c.minSent) return { ...base, status: "ok", message: `${figures}: too few messages to judge the rate (under ${c.minSent})` };
    const status: CheckStatus = s.rate >= c.fail ? "fail" : s.rate > c.warn ? "warn" : "ok";
    if (status === "ok") return { ...base, status, message: `${figures}: complaint rate ${pct(s.rate)} (warn above ${pct(c.warn)})` };
    return {
      ...base,
      status,
      message: `${figures}: complaint rate ${pct(s.rate)} is above ${pct(status === "fail" ? c.fail : c.warn)}; receivers will start filing ${d}'s mail as spam`,
      fix: `find who sent what (freehold suppress stats, freehold trace), stop mail recipients did not ask for, and make unsubscribing easy (List-Unsubscribe)`,
    };
  });
}

export { DAY };
