// The accounts service: the one layer the CLI, the HTTP API and the web UI call to manage
// domains, users and aliases. It validates input (address syntax, password length), checks the
// actor's rights (authz.ts), hashes passwords, creates a new user's mailboxes in the same
// transaction as the user, and writes an audit entry for every change.
import type { Clock } from "../clock.ts";
import { isStoreError } from "../store/errors.ts";
import type { AliasRecord, AuditEntry, AuditPageQuery, DomainRecord, MetadataStore, Role, StoreRepos, UserRecord } from "../store/types.ts";
import { hashPassword, needsRehash, verifyPassword } from "../login/password.ts";
import type { ScryptParams } from "../login/password.ts";
import { formatAddress, normalizeDomain, parseOwnAddress, parseTarget } from "./address.ts";
import { actorName, actorSource, requireAccountManager, requireDomainManager, requireMayGrant, requireServerAdmin } from "./authz.ts";
import type { Actor } from "./authz.ts";
import { AccountError } from "./errors.ts";
import { DEFAULT_MAILBOXES } from "./mailboxes.ts";
import { effectiveQuota } from "./quota.ts";
import { resolveRecipient } from "./resolve.ts";
import type { Resolution } from "./resolve.ts";

/** Shortest password we accept for an account (NIST SP 800-63B §3.1.1.2: at least 8). */
export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

export interface AccountsDeps {
  store: MetadataStore;
  clock: Clock;
  /** config.quota.defaultBytes: the quota of users without their own (0 = unlimited). */
  defaultQuotaBytes: number;
  /** Only tests lower these. */
  scrypt?: ScryptParams;
  /** Runs after a domain is created (its DKIM keys: src/emailauth/dkim-service.ts). */
  onDomainAdded?: (domain: DomainRecord) => Promise<void>;
}

export interface NewUserInput {
  address: string;
  password: string;
  displayName?: string;
  role?: Role;
  /** Bytes; null/undefined = the server default; 0 = unlimited. */
  quotaBytes?: number | null;
}

/** A user as shown by list commands and the API: no password hash, quota resolved, usage. */
export interface UserView {
  id: number;
  address: string;
  displayName: string;
  role: Role;
  disabled: boolean;
  /** The quota in force (own or default), bytes; 0 = unlimited. */
  quotaBytes: number;
  quotaIsDefault: boolean;
  usedBytes: number;
  messages: number;
  createdAt: number;
}

export class AccountsService {
  #store: MetadataStore;
  #clock: Clock;
  #defaultQuota: number;
  #scrypt: ScryptParams | undefined;
  #dummyHash: string | undefined;
  #onDomainAdded: AccountsDeps["onDomainAdded"];

  constructor(deps: AccountsDeps) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#defaultQuota = deps.defaultQuotaBytes;
    this.#scrypt = deps.scrypt;
    this.#onDomainAdded = deps.onDomainAdded;
  }

  // ---- domains ------------------------------------------------------------------------------

  async addDomain(actor: Actor, name: string): Promise<DomainRecord> {
    requireServerAdmin(actor, "add domains");
    const domain = requireDomain(name);
    try {
      const d = await this.#store.accounts.createDomain(domain);
      await this.#audit(actor, "domain.add", domain);
      await this.#onDomainAdded?.(d);
      return d;
    } catch (e) {
      if (isStoreError(e, "exists")) throw new AccountError("exists", `domain ${domain} already exists`);
      throw e;
    }
  }

  async listDomains(actor: Actor): Promise<DomainRecord[]> {
    const all = await this.#store.accounts.listDomains();
    if (actor.kind === "system" || actor.user.role === "admin") return all;
    if (actor.user.role === "domain-admin") return all.filter((d) => d.id === actor.user.domainId);
    requireServerAdmin(actor, "list domains");
    return [];
  }

  /** Removes a domain and its aliases. Refused while it has users (remove them first). */
  async removeDomain(actor: Actor, name: string): Promise<void> {
    requireServerAdmin(actor, "remove domains");
    const domain = requireDomain(name);
    try {
      if (!(await this.#store.accounts.removeDomain(domain))) throw new AccountError("not-found", `no domain ${domain}`);
    } catch (e) {
      if (isStoreError(e, "in-use")) {
        const d = await this.#store.accounts.getDomain(domain);
        const n = d ? (await this.#store.accounts.listUsers(d.id)).length : 0;
        throw new AccountError("in-use", `domain ${domain} still has ${n} user${n === 1 ? "" : "s"}; remove them first`);
      }
      throw e;
    }
    await this.#audit(actor, "domain.remove", domain);
  }

  // ---- users --------------------------------------------------------------------------------

  async addUser(actor: Actor, input: NewUserInput): Promise<UserRecord> {
    const addr = parseOwnAddress(input.address);
    const domain = await this.#domainOrThrow(addr.domain);
    requireDomainManager(actor, domain.id, `add users to ${domain.name}`);
    const role = input.role ?? "user";
    requireMayGrant(actor, role);
    checkPassword(input.password);
    checkQuotaValue(input.quotaBytes);
    const passwordHash = await hashPassword(input.password, this.#scrypt);
    const address = formatAddress(addr);
    let user: UserRecord;
    try {
      // One transaction: a user never exists without their mailboxes.
      user = await this.#store.transaction(async (tx) => {
        const u = await tx.accounts.createUser({
          domainId: domain.id,
          localPart: addr.local,
          displayName: input.displayName ?? "",
          passwordHash,
          role,
          quotaBytes: input.quotaBytes ?? null,
        });
        for (const m of DEFAULT_MAILBOXES) await tx.mail.createMailbox(u.id, m.name, m.specialUse);
        await auditIn(tx, actor, "user.add", address, role === "user" ? null : `role=${role}`, {
          after: { address, role, quotaBytes: input.quotaBytes ?? null, displayName: input.displayName ?? "" },
        });
        return u;
      });
    } catch (e) {
      if (isStoreError(e, "exists")) throw new AccountError("exists", `${address} already exists (as a user or an alias)`);
      throw e;
    }
    return user;
  }

  async getUser(actor: Actor, address: string): Promise<UserRecord> {
    const user = await this.#userOrThrow(address);
    requireAccountManager(actor, user, `see ${user.address}`, { selfAllowed: true });
    return user;
  }

  /** One user as the API shows them (users may see themselves). */
  async getUserView(actor: Actor, address: string): Promise<UserView> {
    const u = await this.getUser(actor, address);
    const usage = await this.#store.mail.userUsage(u.id);
    return {
      id: u.id,
      address: u.address,
      displayName: u.displayName,
      role: u.role,
      disabled: u.disabled,
      quotaBytes: effectiveQuota(u, this.#defaultQuota),
      quotaIsDefault: u.quotaBytes === null,
      usedBytes: usage.bytes,
      messages: usage.messages,
      createdAt: u.createdAt,
    };
  }

  async listUsers(actor: Actor, domainName?: string): Promise<UserView[]> {
    let users: UserRecord[];
    if (domainName !== undefined) {
      const d = await this.#domainOrThrow(requireDomain(domainName));
      requireDomainManager(actor, d.id, `list users of ${d.name}`);
      users = await this.#store.accounts.listUsers(d.id);
    } else if (actor.kind === "user" && actor.user.role !== "admin") {
      requireDomainManager(actor, actor.user.domainId, "list users");
      users = await this.#store.accounts.listUsers(actor.user.domainId);
    } else {
      users = await this.#store.accounts.listUsers();
    }
    const out: UserView[] = [];
    for (const u of users) {
      const usage = await this.#store.mail.userUsage(u.id);
      out.push({
        id: u.id,
        address: u.address,
        displayName: u.displayName,
        role: u.role,
        disabled: u.disabled,
        quotaBytes: effectiveQuota(u, this.#defaultQuota),
        quotaIsDefault: u.quotaBytes === null,
        usedBytes: usage.bytes,
        messages: usage.messages,
        createdAt: u.createdAt,
      });
    }
    return out;
  }

  /**
   * One page of users ordered by address (cursor: the last address of the previous page), for
   * the API: one indexed query whatever the number of users (docs/api.md "Pagination").
   */
  async listUsersPage(actor: Actor, q: { domain?: string; after?: string; limit: number; contains?: string }): Promise<UserView[]> {
    let domainId: number | undefined;
    if (q.domain !== undefined) {
      const d = await this.#domainOrThrow(requireDomain(q.domain));
      requireDomainManager(actor, d.id, `list users of ${d.name}`);
      domainId = d.id;
    } else if (actor.kind === "user" && actor.user.role !== "admin") {
      requireDomainManager(actor, actor.user.domainId, "list users");
      domainId = actor.user.domainId;
    }
    const rows = await this.#store.accounts.listUsersPage({ domainId, afterAddress: q.after, limit: q.limit, contains: q.contains });
    return rows.map((u) => ({
      id: u.id,
      address: u.address,
      displayName: u.displayName,
      role: u.role,
      disabled: u.disabled,
      quotaBytes: effectiveQuota(u, this.#defaultQuota),
      quotaIsDefault: u.quotaBytes === null,
      usedBytes: u.usage.bytes,
      messages: u.usage.messages,
      createdAt: u.createdAt,
    }));
  }

  async setPassword(actor: Actor, address: string, password: string): Promise<void> {
    const user = await this.#userOrThrow(address);
    requireAccountManager(actor, user, `change the password of ${user.address}`, { selfAllowed: true });
    checkPassword(password);
    await this.#store.accounts.updatePassword(user.id, await hashPassword(password, this.#scrypt));
    // The password itself never reaches the log.
    await this.#audit(actor, "user.passwd", user.address, null, { before: { password: "[redacted]" }, after: { password: "[redacted]" } });
  }

  async setDisabled(actor: Actor, address: string, disabled: boolean): Promise<void> {
    const user = await this.#userOrThrow(address);
    requireAccountManager(actor, user, `${disabled ? "disable" : "enable"} ${user.address}`);
    await this.#store.accounts.setUserDisabled(user.id, disabled);
    await this.#audit(actor, disabled ? "user.disable" : "user.enable", user.address, null, { before: { disabled: user.disabled }, after: { disabled } });
  }

  /** null = back to the server default; 0 = unlimited. */
  async setQuota(actor: Actor, address: string, quotaBytes: number | null): Promise<void> {
    const user = await this.#userOrThrow(address);
    requireAccountManager(actor, user, `change the quota of ${user.address}`);
    checkQuotaValue(quotaBytes);
    await this.#store.accounts.setUserQuota(user.id, quotaBytes);
    await this.#audit(actor, "user.quota", user.address, quotaBytes === null ? "default" : String(quotaBytes), {
      before: { quotaBytes: user.quotaBytes },
      after: { quotaBytes },
    });
  }

  async setRole(actor: Actor, address: string, role: Role): Promise<void> {
    const user = await this.#userOrThrow(address);
    requireAccountManager(actor, user, `change the role of ${user.address}`);
    requireMayGrant(actor, role);
    await this.#store.accounts.setUserRole(user.id, role);
    await this.#audit(actor, "user.role", user.address, role, { before: { role: user.role }, after: { role } });
  }

  /** Removes the user with all their mailboxes and messages. */
  async removeUser(actor: Actor, address: string): Promise<void> {
    const user = await this.#userOrThrow(address);
    requireAccountManager(actor, user, `remove ${user.address}`);
    await this.#store.accounts.removeUser(user.id);
    await this.#audit(actor, "user.remove", user.address, null, { before: { address: user.address, role: user.role, disabled: user.disabled } });
  }

  /**
   * Check a login. Returns the user when the password matches and the account (and its domain)
   * is enabled, else null. Upgrades the stored hash when its parameters are outdated.
   */
  async authenticate(address: string, password: string): Promise<UserRecord | null> {
    let addr;
    try {
      addr = parseOwnAddress(address);
    } catch {
      addr = { local: "invalid", domain: "invalid" };
    }
    const user = await this.#store.accounts.getUserByAddress(formatAddress(addr));
    if (!user || user.disabled) {
      // Spend the same time as a real check, so response times do not reveal which accounts exist.
      this.#dummyHash ??= await hashPassword("dummy password", this.#scrypt);
      await verifyPassword(password, this.#dummyHash);
      return null;
    }
    if (!(await verifyPassword(password, user.passwordHash))) return null;
    const domain = await this.#store.accounts.getDomainById(user.domainId);
    if (!domain || domain.disabled) return null;
    if (needsRehash(user.passwordHash, this.#scrypt)) {
      await this.#store.accounts.updatePassword(user.id, await hashPassword(password, this.#scrypt));
    }
    return user;
  }

  // ---- aliases ------------------------------------------------------------------------------

  /**
   * Create `address` (or `@domain`, the catch-all) pointing at `targets`. If the alias exists,
   * the targets are added to it. Local targets need not exist yet (they are resolved at
   * delivery, and an unknown one is skipped and logged).
   */
  async addAlias(actor: Actor, address: string, targets: string[]): Promise<{ alias: AliasRecord; created: boolean }> {
    const addr = parseOwnAddress(address, { allowCatchAll: true });
    const domain = await this.#domainOrThrow(addr.domain);
    requireDomainManager(actor, domain.id, `add aliases to ${domain.name}`);
    if (targets.length === 0) throw new AccountError("invalid", "an alias needs at least one target");
    const display = addr.local === "" ? `@${addr.domain}` : formatAddress(addr);
    const normalized: string[] = [];
    for (const t of targets) {
      const p = parseTarget(t);
      // Our own domains compare case-insensitively: store those lower-case.
      const ours = await this.#store.accounts.getDomain(p.domain);
      const n = ours ? `${p.local.toLowerCase()}@${p.domain}` : formatAddress(p);
      if (n === display) throw new AccountError("invalid", `${display} cannot point to itself`);
      if (!normalized.includes(n)) normalized.push(n);
    }
    const existing = await this.#store.accounts.getAliasByAddress(display);
    if (existing) {
      const merged = [...existing.targets, ...normalized.filter((t) => !existing.targets.includes(t))];
      await this.#store.accounts.setAliasTargets(existing.id, merged);
      await this.#audit(actor, "alias.update", display, merged.join(","), { before: { targets: existing.targets }, after: { targets: merged } });
      return { alias: { ...existing, targets: merged }, created: false };
    }
    try {
      const alias = await this.#store.accounts.createAlias({ domainId: domain.id, localPart: addr.local, targets: normalized });
      await this.#audit(actor, "alias.add", display, normalized.join(","), { after: { targets: normalized } });
      return { alias, created: true };
    } catch (e) {
      if (isStoreError(e, "exists")) throw new AccountError("exists", `${display} is already a user`);
      throw e;
    }
  }

  async listAliases(actor: Actor, domainName?: string): Promise<AliasRecord[]> {
    if (domainName !== undefined) {
      const d = await this.#domainOrThrow(requireDomain(domainName));
      requireDomainManager(actor, d.id, `list aliases of ${d.name}`);
      return this.#store.accounts.listAliases(d.id);
    }
    if (actor.kind === "user" && actor.user.role !== "admin") {
      requireDomainManager(actor, actor.user.domainId, "list aliases");
      return this.#store.accounts.listAliases(actor.user.domainId);
    }
    return this.#store.accounts.listAliases();
  }

  /** Remove the whole alias, or only some of its targets (the alias goes when none remain). */
  async removeAlias(actor: Actor, address: string, targets: string[] = []): Promise<void> {
    const addr = parseOwnAddress(address, { allowCatchAll: true });
    const display = addr.local === "" ? `@${addr.domain}` : formatAddress(addr);
    const alias = await this.#store.accounts.getAliasByAddress(display);
    if (!alias) throw new AccountError("not-found", `no alias ${display}`);
    requireDomainManager(actor, alias.domainId, `remove aliases of ${addr.domain}`);
    if (targets.length > 0) {
      const drop = new Set(targets.map((t) => t.trim().toLowerCase()));
      const missing = [...drop].filter((t) => !alias.targets.some((x) => x.toLowerCase() === t));
      if (missing.length > 0) throw new AccountError("not-found", `${display} does not point to ${missing.join(", ")}`);
      const rest = alias.targets.filter((t) => !drop.has(t.toLowerCase()));
      if (rest.length > 0) {
        await this.#store.accounts.setAliasTargets(alias.id, rest);
        await this.#audit(actor, "alias.update", display, rest.join(","), { before: { targets: alias.targets }, after: { targets: rest } });
        return;
      }
    }
    await this.#store.accounts.removeAlias(display);
    await this.#audit(actor, "alias.remove", display, null, { before: { targets: alias.targets } });
  }

  // ---- audit log ----------------------------------------------------------------------------

  /** A page of the audit log: server admins see all, domain admins their own domain's only. */
  async auditPage(actor: Actor, q: AuditPageQuery): Promise<AuditEntry[]> {
    if (actor.kind === "user" && actor.user.role !== "admin") {
      requireDomainManager(actor, actor.user.domainId, "read the audit log");
      const own = await this.#store.accounts.getDomainById(actor.user.domainId);
      if (!own || (q.domain !== undefined && q.domain !== own.name)) throw new AccountError("not-found", "no such domain");
      q = { ...q, domain: own.name };
    }
    return this.#store.audit.page(q);
  }

  // ---- delivery -----------------------------------------------------------------------------

  /** See resolve.ts for the order and the limits. */
  resolveRecipient(address: string): Promise<Resolution> {
    return resolveRecipient(this.#store.accounts, address);
  }

  /** The quota that applies to a user (own or default), bytes; 0 = unlimited. */
  quotaOf(user: Pick<UserRecord, "quotaBytes">): number {
    return effectiveQuota(user, this.#defaultQuota);
  }

  // ---- helpers ------------------------------------------------------------------------------

  async #domainOrThrow(name: string): Promise<DomainRecord> {
    const d = await this.#store.accounts.getDomain(name);
    if (!d) throw new AccountError("not-found", `no domain ${name} (add it with: freehold domain add ${name})`);
    return d;
  }

  async #userOrThrow(address: string): Promise<UserRecord> {
    const addr = parseOwnAddress(address);
    const a = formatAddress(addr);
    const u = await this.#store.accounts.getUserByAddress(a);
    if (!u) throw new AccountError("not-found", `no user ${a}`);
    return u;
  }

  #audit(actor: Actor, action: string, target: string, detail: string | null = null, change: AuditChange = {}): Promise<unknown> {
    return auditIn(this.#store, actor, action, target, detail, change);
  }

  /** For tests and the API: the clock this service stamps with. */
  get clock(): Clock {
    return this.#clock;
  }
}

/** What an audit entry records besides the action: the state before and after (no secrets). */
export interface AuditChange {
  before?: unknown;
  after?: unknown;
}

function auditIn(repos: StoreRepos, actor: Actor, action: string, target: string, detail: string | null, change: AuditChange = {}): Promise<unknown> {
  // Targets are domain names, addresses or `@domain`: the domain is what follows the last "@".
  const at = target.lastIndexOf("@");
  return repos.audit.append({
    actor: actorName(actor),
    source: actorSource(actor),
    action,
    target,
    detail,
    domain: at < 0 ? target : target.slice(at + 1),
    before: change.before === undefined ? null : JSON.stringify(change.before),
    after: change.after === undefined ? null : JSON.stringify(change.after),
  });
}

function requireDomain(name: string): string {
  const d = normalizeDomain(name);
  if (!d) throw new AccountError("invalid", `"${name}" is not a valid domain name`);
  return d;
}

function checkPassword(pw: string): void {
  if (pw.length < MIN_PASSWORD_LENGTH) throw new AccountError("invalid", `password too short (at least ${MIN_PASSWORD_LENGTH} characters)`);
  if (pw.length > MAX_PASSWORD_LENGTH) throw new AccountError("invalid", `password too long (at most ${MAX_PASSWORD_LENGTH} characters)`);
  // Control characters cannot be typed into a login form and usually mean a pasting accident.
  if (/[\u0000-\u001f\u007f]/.test(pw)) throw new AccountError("invalid", "password contains control characters (a stray newline?)");
}

function checkQuotaValue(q: number | null | undefined): void {
  if (q === null || q === undefined) return;
  if (!Number.isSafeInteger(q) || q < 0) throw new AccountError("invalid", `quota must be a whole number of bytes, 0 or more (got ${q})`);
}
