// The accounts service: the one layer the CLI, the HTTP API and the web UI call to manage
// domains, users and aliases. It validates input (address syntax, password length), checks the
// actor's rights (authz.ts), hashes passwords, creates a new user's mailboxes in the same
// transaction as the user, and writes an audit entry for every change.
import type { Clock } from "../clock.ts";
import { isStoreError } from "../store/errors.ts";
import type { AliasRecord, AppPasswordRecord, AuditEntry, AuditPageQuery, DomainRecord, Id, MetadataStore, Role, StoreRepos, UserRecord } from "../store/types.ts";
import { hashPassword, needsRehash, verifyPassword } from "../login/password.ts";
import type { ScryptParams } from "../login/password.ts";
import { formatAddress, normalizeDomain, parseOwnAddress, parseTarget } from "./address.ts";
import { actorName, actorSource, requireAccountManager, requireDomainManager, requireMayGrant, requireServerAdmin } from "./authz.ts";
import type { Actor } from "./authz.ts";
import { AccountError } from "./errors.ts";
import { DEFAULT_MAILBOXES } from "./mailboxes.ts";
import { effectiveQuota } from "./quota.ts";
import { MAX_APP_PASSWORDS, appPasswordTag, checkAppPasswordName, generateAppPassword, normalizeAppPassword } from "./app-passwords.ts";
import { resolveRecipient } from "./resolve.ts";
import type { Resolution } from "./resolve.ts";
import { stagedKey, stagedSince } from "./staged.ts";

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

/** A successful IMAP/SMTP login: the user, and the app password used (null: the account password). */
export interface MailLogin {
  user: UserRecord;
  appPassword: AppPasswordRecord | null;
}

/** An app password as listed: never the secret or its hash. */
export interface AppPasswordView {
  id: Id;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
}

/** A user's storage use (self-service page, API). */
export interface UsageView {
  address: string;
  usedBytes: number;
  messages: number;
  /** 0 = unlimited. */
  quotaBytes: number;
  quotaIsDefault: boolean;
}

/** last_used_at is written at most this often per app password (a cached login is cheap; a write is not). */
const TOUCH_EVERY_MS = 60_000;

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

  /**
   * Staged domains (src/accounts/staged.ts): receives and sends nothing until unstaged; import
   * works. Returns false when the domain already was in that state.
   */
  async stageDomain(actor: Actor, name: string): Promise<boolean> {
    requireServerAdmin(actor, "stage domains");
    const domain = requireDomain(name);
    if (!(await this.#store.accounts.getDomain(domain))) throw new AccountError("not-found", `no such domain: ${domain}`);
    if (await stagedSince(this.#store.settings, domain)) return false;
    await this.#store.settings.set(stagedKey(domain), new Date(this.#clock.now()).toISOString());
    await this.#audit(actor, "domain.stage", domain);
    return true;
  }

  async unstageDomain(actor: Actor, name: string): Promise<boolean> {
    requireServerAdmin(actor, "unstage domains");
    const domain = requireDomain(name);
    if (!(await this.#store.accounts.getDomain(domain))) throw new AccountError("not-found", `no such domain: ${domain}`);
    if (!(await stagedSince(this.#store.settings, domain))) return false;
    await this.#store.settings.delete(stagedKey(domain));
    await this.#audit(actor, "domain.unstage", domain);
    return true;
  }

  /** When the domain was staged (ISO), or null when live. */
  domainStagedSince(name: string): Promise<string | null> {
    return stagedSince(this.#store.settings, name);
  }

  async listDomains(actor: Actor): Promise<DomainRecord[]> {
    const all = await this.#store.accounts.listDomains();
    if (actor.kind === "system" || actor.user.role === "admin") return all;
    if (actor.user.role === "domain-admin") return all.filter((d) => d.id === actor.user.domainId);
    requireServerAdmin(actor, "list domains");
    return [];
  }

  /**
   * Does this server serve mail for the domain (it exists and is enabled)? For public endpoints
   * (client autoconfiguration, MTA-STS) that must answer 404 for every other name.
   */
  async servesDomain(name: string): Promise<boolean> {
    const d = normalizeDomain(name);
    if (!d) return false;
    const rec = await this.#store.accounts.getDomain(d);
    return rec !== null && !rec.disabled;
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

  /**
   * Reset a password without the old one: the CLI, or an admin for an account they manage. A
   * signed-in user changing their own password goes through changePassword, which asks for the
   * current one (so a hijacked session cannot lock the owner out).
   */
  async setPassword(actor: Actor, address: string, password: string): Promise<void> {
    const user = await this.#userOrThrow(address);
    if (actor.kind === "user" && actor.user.id === user.id) {
      throw new AccountError("forbidden", "changing your own password needs the current password");
    }
    requireAccountManager(actor, user, `change the password of ${user.address}`);
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
   * Change one's own password: the current one must match. Only the account itself (or the CLI).
   * App passwords stay valid (each is revoked on its own); cached logins with the old password
   * stop working at once (the login cache compares the stored hash, login/cache.ts).
   */
  async changePassword(actor: Actor, address: string, currentPassword: string, newPassword: string): Promise<void> {
    const user = await this.#userOrThrow(address);
    if (actor.kind === "user" && actor.user.id !== user.id) throw new AccountError("forbidden", `${actorName(actor)} may not change the password of ${user.address} this way`);
    if (actor.kind === "user" && actor.user.disabled) throw new AccountError("forbidden", `${user.address} is disabled`);
    checkPassword(newPassword);
    if (!(await verifyPassword(currentPassword, user.passwordHash))) throw new AccountError("forbidden", "the current password is not correct");
    await this.#store.accounts.updatePassword(user.id, await hashPassword(newPassword, this.#scrypt));
    await this.#audit(actor, "user.passwd", user.address, "self");
  }

  /**
   * The web login (account page, admin UI): the account password only, never an app password.
   * Returns the user when the password matches and the account (and its domain) is enabled.
   */
  verifyWebLogin(address: string, password: string): Promise<UserRecord | null> {
    return this.#passwordLogin(address, password, false).then((r) => r?.user ?? null);
  }

  /** The same as verifyWebLogin: the account password only. */
  authenticate(address: string, password: string): Promise<UserRecord | null> {
    return this.verifyWebLogin(address, password);
  }

  /**
   * IMAP LOGIN/AUTHENTICATE and SMTP AUTH: the account password or one of the account's app
   * passwords. Unknown users, disabled accounts and wrong passwords all give null after one
   * scrypt's worth of work (an app-password-shaped input whose tag matches costs one more).
   */
  verifyMailLogin(address: string, password: string): Promise<MailLogin | null> {
    return this.#passwordLogin(address, password, true);
  }

  async #passwordLogin(address: string, password: string, allowAppPasswords: boolean): Promise<MailLogin | null> {
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
    let appPassword: AppPasswordRecord | null = null;
    const normalized = allowAppPasswords ? normalizeAppPassword(password) : null;
    if (normalized !== null) {
      for (const row of await this.#store.appPasswords.findByTag(user.id, appPasswordTag(normalized))) {
        if (await verifyPassword(normalized, row.passwordHash)) {
          appPassword = row;
          break;
        }
      }
    }
    if (!appPassword && !(await verifyPassword(password, user.passwordHash))) return null;
    const domain = await this.#store.accounts.getDomainById(user.domainId);
    if (!domain || domain.disabled) return null;
    if (appPassword) {
      const now = this.#clock.now();
      await this.#store.appPasswords.touch(appPassword.id, now);
      return { user, appPassword: { ...appPassword, lastUsedAt: now } };
    }
    if (needsRehash(user.passwordHash, this.#scrypt)) {
      await this.#store.accounts.updatePassword(user.id, await hashPassword(password, this.#scrypt));
    }
    return { user, appPassword: null };
  }

  // ---- app passwords ------------------------------------------------------------------------

  /** Creates an app password; the secret is returned only here (store it nowhere, show it once). */
  async addAppPassword(actor: Actor, address: string, name: string): Promise<{ appPassword: AppPasswordView; secret: string }> {
    const user = await this.#userOrThrow(address);
    requireAccountManager(actor, user, `add app passwords to ${user.address}`, { selfAllowed: true });
    const bad = checkAppPasswordName(name);
    if (bad) throw new AccountError("invalid", bad);
    const n = name.trim();
    if ((await this.#store.appPasswords.list(user.id)).length >= MAX_APP_PASSWORDS) {
      throw new AccountError("invalid", `${user.address} already has ${MAX_APP_PASSWORDS} app passwords; revoke some first`);
    }
    const secret = generateAppPassword();
    const normalized = normalizeAppPassword(secret)!;
    const passwordHash = await hashPassword(normalized, this.#scrypt);
    try {
      const row = await this.#store.transaction(async (tx) => {
        const r = await tx.appPasswords.create({ userId: user.id, name: n, tag: appPasswordTag(normalized), passwordHash });
        await auditIn(tx, actor, "app-password.add", user.address, `${n} (id ${r.id})`);
        return r;
      });
      return { appPassword: appPasswordView(row), secret };
    } catch (e) {
      if (isStoreError(e, "exists")) throw new AccountError("exists", `${user.address} already has an app password named "${n}"`);
      throw e;
    }
  }

  async listAppPasswords(actor: Actor, address: string): Promise<AppPasswordView[]> {
    const user = await this.#userOrThrow(address);
    requireAccountManager(actor, user, `see the app passwords of ${user.address}`, { selfAllowed: true });
    return (await this.#store.appPasswords.list(user.id)).map(appPasswordView);
  }

  /**
   * Revokes by id or by name. Takes effect at the next login: verifyMailLogin no longer finds the
   * row, and a login cached with it is checked against the row on every hit (appPasswordValid).
   */
  async revokeAppPassword(actor: Actor, address: string, idOrName: string | number): Promise<AppPasswordView> {
    const user = await this.#userOrThrow(address);
    requireAccountManager(actor, user, `revoke app passwords of ${user.address}`, { selfAllowed: true });
    const rows = await this.#store.appPasswords.list(user.id);
    const key = String(idOrName).trim();
    const row = rows.find((r) => String(r.id) === key) ?? rows.find((r) => r.name === key);
    if (!row) throw new AccountError("not-found", `${user.address} has no app password ${JSON.stringify(key)}`);
    await this.#store.transaction(async (tx) => {
      await tx.appPasswords.remove(user.id, row.id);
      await auditIn(tx, actor, "app-password.revoke", user.address, `${row.name} (id ${row.id})`);
    });
    return appPasswordView(row);
  }

  /**
   * For a login cache hit made with an app password: is that app password still there, still the
   * same secret and still the user's? Notes the use (at most once a minute).
   */
  async appPasswordValid(userId: Id, appPasswordId: Id, passwordHash: string): Promise<boolean> {
    const row = await this.#store.appPasswords.get(appPasswordId);
    if (!row || row.userId !== userId || row.passwordHash !== passwordHash) return false;
    const now = this.#clock.now();
    if (row.lastUsedAt === null || now - row.lastUsedAt >= TOUCH_EVERY_MS) await this.#store.appPasswords.touch(row.id, now);
    return true;
  }

  /** Storage use against the quota, for the account page and the API. */
  async usage(actor: Actor, address: string): Promise<UsageView> {
    const user = await this.#userOrThrow(address);
    requireAccountManager(actor, user, `see the usage of ${user.address}`, { selfAllowed: true });
    const u = await this.#store.mail.userUsage(user.id);
    return { address: user.address, usedBytes: u.bytes, messages: u.messages, quotaBytes: this.quotaOf(user), quotaIsDefault: user.quotaBytes === null };
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

function appPasswordView(r: AppPasswordRecord): AppPasswordView {
  return { id: r.id, name: r.name, createdAt: r.createdAt, lastUsedAt: r.lastUsedAt };
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
