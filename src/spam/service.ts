// The spam service: the filter the MX calls, the trainer IMAP and submission call, and the
// operator's view (`freehold spam stats`, later the API). Built once by the composition root.
import type { Actor } from "../accounts/authz.ts";
import { AccountError } from "../accounts/errors.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log/logger.ts";
import type { Resolver } from "../dns/resolver.ts";
import type { BlobStore, MetadataStore } from "../store/types.ts";
import type { SpamConfig } from "./config-schema.ts";
import type { SpamRepo } from "./repo.ts";
import { SpamFilter } from "./filter.ts";
import { SpamTrainer } from "./trainer.ts";

export interface SpamServiceDeps {
  config: SpamConfig;
  store: MetadataStore;
  blobs: BlobStore;
  repo: SpamRepo;
  resolver: Resolver;
  clock: Clock;
  logger: Logger;
  ourNames: string[];
}

export class SpamService {
  readonly filter: SpamFilter | null;
  readonly trainer: SpamTrainer;
  readonly #d: SpamServiceDeps;

  constructor(d: SpamServiceDeps) {
    this.#d = d;
    const halfLifeMs = d.config.reputationHalfLifeDays * 86_400_000;
    const r = d.config.rspamd;
    this.trainer = new SpamTrainer({
      store: d.store,
      blobs: d.blobs,
      repo: d.repo,
      clock: d.clock,
      logger: d.logger,
      halfLifeMs,
      bootstrapMessages: d.config.bootstrapMessages,
      rspamd: r.url ? { url: r.url, learnUrl: r.learnUrl, password: r.password, timeoutMs: r.timeoutMs, lookup: d.resolver.lookup } : null,
    });
    this.filter = d.config.enabled
      ? new SpamFilter({ config: d.config, repo: d.repo, resolver: d.resolver, clock: d.clock, logger: d.logger, ourNames: d.ourNames, onFirstUse: (id) => this.trainer.bootstrap(id) })
      : null;
  }

  /**
   * `freehold spam stats` for the HTTP API, by role: server admins any user, domain or all;
   * domain admins their own domain's users (another domain's user or domain is "not found");
   * plain users themselves only.
   */
  async statsFor(actor: Actor, q: { user?: string; domain?: string } = {}): Promise<SpamStatsRow[]> {
    const domainOfAddr = (a: string) => a.slice(a.lastIndexOf("@") + 1).toLowerCase();
    let domain = q.domain?.toLowerCase().replace(/\.$/, "");
    let user = q.user?.toLowerCase();
    if (actor.kind === "user" && actor.user.role !== "admin") {
      const own = domainOfAddr(actor.user.address);
      if (actor.user.role === "user") {
        if ((user !== undefined && user !== actor.user.address) || (domain !== undefined && domain !== own)) throw new AccountError("not-found", "no such user");
        user = actor.user.address;
      } else {
        if ((user !== undefined && domainOfAddr(user) !== own) || (domain !== undefined && domain !== own)) throw new AccountError("not-found", "no such user or domain");
        domain = own;
      }
    }
    if (user !== undefined) {
      if (!(await this.#d.store.accounts.getUserByAddress(user))) throw new AccountError("not-found", `no such user: ${user}`);
      const rows = await spamStats(this.#d.store, this.#d.repo, user);
      return domain === undefined ? rows : rows.filter((r) => domainOfAddr(r.address) === domain);
    }
    if (domain !== undefined && !(await this.#d.store.accounts.getDomain(domain))) throw new AccountError("not-found", `no such domain: ${domain}`);
    const rows = await spamStats(this.#d.store, this.#d.repo);
    return domain === undefined ? rows : rows.filter((r) => domainOfAddr(r.address) === domain);
  }

  /** Drops the filter's rows of accounts that no longer exist; returns the rows deleted. */
  async purgeRemovedUsers(): Promise<number> {
    const users = await this.#d.store.accounts.listUsers();
    return this.#d.repo.purgeUsersExcept(users.map((u) => u.id));
  }
}

export interface SpamStatsRow {
  address: string;
  /** Messages filed per verdict: inbox, junk, reject (refused recipients). */
  inbox: number;
  junk: number;
  reject: number;
  /** Training events (IMAP moves, keywords, first-use folders). */
  trainedSpam: number;
  trainedHam: number;
  /** Messages the classifier currently counts, per class, and its token rows. */
  modelSpam: number;
  modelHam: number;
  tokens: number;
}

/** Per-account figures, for one user (by address) or all; throws for an unknown user. */
export async function spamStats(store: MetadataStore, repo: SpamRepo, user?: string): Promise<SpamStatsRow[]> {
  const users = user ? [await store.accounts.getUserByAddress(user.toLowerCase())] : await store.accounts.listUsers();
  if (user && !users[0]) throw new Error(`no such user: ${user}`);
  const out: SpamStatsRow[] = [];
  const counters = await repo.counters(user ? users[0]!.id : undefined);
  const tokens = await repo.tokenRows(user ? users[0]!.id : undefined);
  for (const u of users) {
    if (!u) continue;
    const c = (name: string) => counters.find((x) => x.userId === u.id && x.name === name)?.value ?? 0;
    const totals = await repo.totals(u.id);
    out.push({
      address: u.address,
      inbox: c("inbox"),
      junk: c("junk"),
      reject: c("reject"),
      trainedSpam: c("trained_spam"),
      trainedHam: c("trained_ham"),
      modelSpam: totals.spam,
      modelHam: totals.ham,
      tokens: tokens.find((t) => t.userId === u.id)?.tokens ?? 0,
    });
  }
  return out;
}
