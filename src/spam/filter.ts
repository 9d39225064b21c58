// The spam filter of the MX path: computes the signals of one message once (at the end of DATA),
// then each local recipient's score and verdict (the classifier and the reputation are per
// account). docs/spam.md describes the signals and verdicts.
//
// The work is bounded: tokenising is capped (tokenize.ts) and everything runs under a time
// budget; on overrun the message is delivered unfiltered and the overrun logged (a slow DNS
// server or rspamd must never hold mail back).
import type { Clock } from "../clock.ts";
import type { Logger } from "../log/logger.ts";
import type { Resolver } from "../dns/resolver.ts";
import type { SpamConfig } from "./config-schema.ts";
import type { RepUpdate, SpamRepo } from "./repo.ts";
import { extractFeatures } from "./tokenize.ts";
import type { MessageFeatures } from "./tokenize.ts";
import { hasGtube } from "./gtube.ts";
import { checkDomains, checkIp } from "../dnsbl/dnsbl.ts";
import { checkFcrdns, heloCheck } from "./client.ts";
import { BulkTracker } from "./bulk.ts";
import { Greylist, clientNetwork } from "./greylist.ts";
import type { GreylistAnswer } from "./greylist.ts";
import { classify, tokenHash } from "./bayes.ts";
import { rspamdCheck } from "./rspamd.ts";
import type { RspamdOptions } from "./rspamd.ts";
import { decideAll, decideFor, headerValue, scoreFor, scoreSignals, thresholdsFor } from "./verdict.ts";
import type { RecipientVerdict, RecipientView, Signals } from "./verdict.ts";
import { isLoopbackIp } from "../smtp/ip.ts";

export interface AuthSummary {
  spf: string;
  /** The SPF-checked (MAIL FROM or HELO) domain. */
  spfDomain: string;
  dkim: string;
  /** Domains of passing DKIM signatures. */
  dkimPassDomains: string[];
  dmarc: string;
  arc: string;
}

export interface FilterInput {
  cid: string;
  ip: string;
  helo: string;
  pregreet: Signals["pregreet"];
  mailFrom: string;
  /** The first bytes of the message (tokenize.ts MAX_SCAN are enough). */
  head: Buffer;
  /** The message is longer than `head`. */
  truncated: boolean;
  auth: AuthSummary;
  /** Local recipients: the account and the address the message was sent to. */
  recipients: ReadonlyArray<{ userId: number; address: string }>;
}

export interface FilterResult {
  /** Refuse the whole message at the end of DATA (every recipient's policy refuses). */
  reject: boolean;
  /** Per user id: the verdict and the X-Freehold-Spam header field to store with that copy. */
  perUser: Map<number, { verdict: RecipientVerdict; header: string }>;
  signals: Signals | null;
  /** The time budget ran out: nothing was filtered. */
  unfiltered: boolean;
  ms: number;
}

export interface SpamFilterDeps {
  config: SpamConfig;
  repo: SpamRepo;
  resolver: Resolver;
  clock: Clock;
  logger: Logger;
  /** Our own host names (HELO plausibility: a client claiming them lies). */
  ourNames: string[];
  /** Called with an account's id the first time it is filtered (bootstrap training). */
  onFirstUse?: (userId: number) => void;
}

export const HEADER_NAME = "X-Freehold-Spam";

function domainOf(address: string): string {
  const at = address.lastIndexOf("@");
  return at === -1 ? "" : address.slice(at + 1).toLowerCase();
}

export class SpamFilter {
  readonly #d: SpamFilterDeps;
  readonly bulk: BulkTracker;
  readonly greylist: Greylist | null;

  constructor(deps: SpamFilterDeps) {
    this.#d = deps;
    this.bulk = new BulkTracker(deps.clock, { windowMs: deps.config.bulkWindowSeconds * 1000 });
    const g = deps.config.greylist;
    this.greylist = g.enabled
      ? new Greylist(deps.clock, { delayMs: g.delaySeconds * 1000, retryWindowMs: g.retryWindowHours * 3_600_000, passLifetimeMs: g.passLifetimeDays * 86_400_000 })
      : null;
  }

  get halfLifeMs(): number {
    return this.#d.config.reputationHalfLifeDays * 86_400_000;
  }

  get rspamd(): RspamdOptions | null {
    const r = this.#d.config.rspamd;
    return r.url ? { url: r.url, learnUrl: r.learnUrl, password: r.password, timeoutMs: r.timeoutMs, lookup: this.#d.resolver.lookup } : null;
  }

  /**
   * Greylisting at RCPT (off unless configured). A sender the account trusts (wrote to) is never
   * greylisted; neither is a loopback client.
   */
  async greylistCheck(ip: string, mailFrom: string, recipient: string, userId: number | null): Promise<GreylistAnswer> {
    if (!this.greylist || (isLoopbackIpExempt(ip) && !this.#d.config.checkLoopback)) return { ok: true };
    if (userId !== null && mailFrom) {
      const rep = await this.#d.repo.reputation(userId, "addr", mailFrom.toLowerCase(), this.#d.clock.now(), this.halfLifeMs);
      if (rep && (rep.wrote >= 0.5 || rep.ham >= 1)) return { ok: true };
    }
    return this.greylist.check(ip, mailFrom, recipient);
  }

  /** Scores the message for every local recipient within the time budget. */
  async filter(input: FilterInput): Promise<FilterResult> {
    const started = this.#d.clock.now();
    const t0 = performance.now();
    const budget = this.#d.config.budgetMs;
    let timer: NodeJS.Timeout | undefined;
    const overrun = new Promise<"overrun">((resolve) => {
      timer = setTimeout(() => resolve("overrun"), budget);
    });
    const work = this.#run(input);
    // The work goes on in the background after an overrun; its result is dropped.
    work.catch(() => undefined);
    try {
      const r = await Promise.race([work, overrun]);
      const ms = Math.round(performance.now() - t0);
      if (r === "overrun") {
        this.#d.logger.warn({ cid: input.cid, budgetMs: budget }, "spam filter over its time budget: delivered unfiltered");
        return { reject: false, perUser: unfilteredHeaders(input, `time budget of ${budget} ms exceeded`), signals: null, unfiltered: true, ms };
      }
      return { ...r, ms };
    } catch (err) {
      this.#d.logger.error({ cid: input.cid, err }, "spam filter failed: delivered unfiltered");
      return { reject: false, perUser: unfilteredHeaders(input, "filter error"), signals: null, unfiltered: true, ms: this.#d.clock.now() - started };
    } finally {
      clearTimeout(timer);
    }
  }

  async #run(input: FilterInput): Promise<Omit<FilterResult, "ms">> {
    const d = this.#d;
    const cfg = d.config;
    const features = extractFeatures(input.head);
    const signals = await this.#signals(input, features);
    const base = scoreSignals(signals);
    const now = d.clock.now();
    const hashes = features.tokens.map(tokenHash);
    const views: RecipientVerdict[] = [];
    const perUser = new Map<number, { verdict: RecipientVerdict; header: string }>();
    const authenticated = isAuthenticated(input, features);
    const net = clientNetwork(input.ip);
    for (const r of input.recipients) {
      if (perUser.has(r.userId)) continue;
      const view = await this.#view(r.userId, features, hashes, authenticated, net, now);
      const t = thresholdsFor(r.address, { junk: cfg.junkScore, reject: cfg.rejectScore }, cfg.domains, cfg.users);
      const verdict = decideFor(scoreFor(base, view), view, t);
      views.push(verdict);
      perUser.set(r.userId, { verdict, header: "" });
    }
    const all = decideAll(views);
    let i = 0;
    for (const [userId, e] of perUser) {
      e.verdict = all.perRecipient[i++];
      e.header = `${HEADER_NAME}: ${headerValue(e.verdict, signalInfo(signals, input.ip))}\r\n`;
      await d.repo.count(userId, all.reject ? "reject" : e.verdict.action);
      const from = features.fromAddress;
      const updates: RepUpdate[] = [{ kind: "net", key: net, seen: 1 }];
      if (from) updates.push({ kind: "addr", key: from, seen: 1 }, { kind: "domain", key: domainOf(from), seen: 1 });
      await d.repo.updateReputation(userId, updates, now, this.halfLifeMs);
    }
    return { reject: all.reject, perUser, signals, unfiltered: false };
  }

  async #view(userId: number, f: MessageFeatures, hashes: number[], authenticated: boolean, net: string, now: number): Promise<RecipientView> {
    const d = this.#d;
    const totals = await d.repo.totals(userId);
    if (totals.bootstrappedAt === null) d.onFirstUse?.(userId);
    let bayes: number | null = null;
    if (totals.ham > 0 && totals.spam > 0) {
      const counts = await d.repo.tokenCounts(userId, hashes);
      const byToken = new Map<string, number>();
      f.tokens.forEach((t, i) => byToken.set(t, hashes[i]));
      const c = classify(f.tokens, (t) => counts.get(byToken.get(t)!), totals);
      bayes = c.trained ? c.probability : null;
    }
    const hl = this.halfLifeMs;
    const addr = f.fromAddress ? await d.repo.reputation(userId, "addr", f.fromAddress, now, hl) : null;
    const dom = f.fromDomain ? await d.repo.reputation(userId, "domain", f.fromDomain, now, hl) : null;
    const netRep = await d.repo.reputation(userId, "net", net, now, hl);
    // Trust needs an authenticated From: anyone can write a trusted address into From.
    const trusted = authenticated && !!((addr && (addr.wrote >= 0.5 || addr.ham - addr.spam >= 1.5)) || (dom && dom.wrote >= 1 && dom.spam < 0.5));
    const junked = Math.max(0, (addr?.spam ?? 0) - (addr?.ham ?? 0), ((dom?.spam ?? 0) - (dom?.ham ?? 0)) / 2, ((netRep?.spam ?? 0) - (netRep?.ham ?? 0)) / 2);
    const firstTime = !!f.fromAddress && (!addr || addr.seen + addr.ham + addr.spam + addr.wrote < 0.5);
    return { bayes, trusted, junked, firstTime };
  }

  async #signals(input: FilterInput, f: MessageFeatures): Promise<Signals> {
    const d = this.#d;
    const cfg = d.config;
    const skipNet = isLoopbackIpExempt(input.ip) && !cfg.checkLoopback;
    const domains = [...new Set([...(f.fromDomain ? [f.fromDomain] : []), ...f.urlHosts.map(registeredDomainOf)])];
    const rspamd = this.rspamd;
    const [dnsbl, domainLists, fc, rs] = await Promise.all([
      skipNet || cfg.ipBlocklists.length === 0 ? Promise.resolve({}) : checkIp(d.resolver, input.ip, cfg.ipBlocklists),
      cfg.domainBlocklists.length === 0 ? Promise.resolve({}) : checkDomains(d.resolver, domains, cfg.domainBlocklists),
      skipNet ? Promise.resolve({ result: "skipped" as const, names: [] }) : checkFcrdns(d.resolver, input.ip),
      rspamd
        ? rspamdCheck(rspamd, { ip: input.ip, helo: input.helo, mailFrom: input.mailFrom, recipients: input.recipients.map((r) => r.address), hostname: undefined }, input.head).catch(
            (err: Error) => {
              d.logger.warn({ cid: input.cid, err: err.message }, "rspamd check failed; scored without it");
              return null;
            },
          )
        : Promise.resolve(null),
    ]);
    return {
      gtube: hasGtube(input.head),
      spf: input.auth.spf,
      dkim: input.auth.dkim,
      dmarc: input.auth.dmarc,
      arc: input.auth.arc,
      dnsbl,
      domainLists,
      fcrdns: fc.result,
      helo: skipNet ? "skipped" : heloCheck(input.helo, input.ip, d.ourNames),
      pregreet: input.pregreet,
      bulkCount: this.bulk.record(f.bodyText),
      limited: f.limited || input.truncated,
      rspamd: rs ? rs.score : null,
    };
  }
}

function registeredDomainOf(host: string): string {
  const labels = host.split(".");
  return labels.length > 2 && labels[0] === "www" ? labels.slice(1).join(".") : host;
}

/** Loopback clients (local tools, the test suite) skip the client checks unless checkLoopback. */
function isLoopbackIpExempt(ip: string): boolean {
  return isLoopbackIp(ip);
}

/** The From domain is vouched for: DMARC pass, an aligned DKIM pass, or SPF pass for the same domain. */
export function isAuthenticated(input: Pick<FilterInput, "auth" | "mailFrom">, f: Pick<MessageFeatures, "fromDomain">): boolean {
  if (!f.fromDomain) return false;
  if (input.auth.dmarc === "pass") return true;
  if (input.auth.dkimPassDomains.some((d) => d.toLowerCase() === f.fromDomain)) return true;
  return input.auth.spf === "pass" && domainOf(input.mailFrom) === f.fromDomain;
}

function signalInfo(s: Signals, ip: string): Record<string, string> {
  const listed = (r: Record<string, { state: string }>) =>
    Object.entries(r)
      .filter(([, v]) => v.state !== "clean")
      .map(([k, v]) => `${k}:${v.state}`)
      .join(",");
  const out: Record<string, string> = { ip, spf: s.spf, dkim: s.dkim, dmarc: s.dmarc, arc: s.arc, fcrdns: s.fcrdns, helo: s.helo, pregreet: s.pregreet };
  const bl = listed(s.dnsbl);
  if (bl) out.dnsbl = bl;
  const dl = listed(s.domainLists);
  if (dl) out.uribl = dl;
  if (s.bulkCount > 1) out.bulk = String(s.bulkCount);
  if (s.rspamd !== null) out.rspamd = String(s.rspamd);
  if (s.limited) out.limited = "yes";
  return out;
}

function unfilteredHeaders(input: FilterInput, why: string): Map<number, { verdict: RecipientVerdict; header: string }> {
  const m = new Map<number, { verdict: RecipientVerdict; header: string }>();
  for (const r of input.recipients) {
    m.set(r.userId, { verdict: { action: "inbox", score: 0, rules: {} }, header: `${HEADER_NAME}: unfiltered (${why}); ip=${input.ip}\r\n` });
  }
  return m;
}
