// API tokens (docs/api.md "Tokens"): a random 32-byte secret shown once at creation; only its
// SHA-256 is stored, so a copy of the database does not hand out API access. A token is scoped:
//   - "server": acts with its owner's role (only server admins may create one);
//   - "domain": at most a domain admin of the owner's own domain;
//   - "user": self-service only (the owner's own account), whatever the owner's role.
// A token dies with its owner (ON DELETE CASCADE) and on revoke; each use stamps last-used.
import { createHash, randomBytes } from "node:crypto";
import type { Actor } from "../accounts/authz.ts";
import { actorName, actorSource } from "../accounts/authz.ts";
import { AccountError } from "../accounts/errors.ts";
import type { Clock } from "../clock.ts";
import type { ApiTokenRecord, SqliteApiTokens, TokenScope } from "../store/sqlite/tokens.ts";
import type { MetadataStore, Role, UserRecord } from "../store/types.ts";

/** Tokens look like `fh_<43 base64url characters>`: recognisable in a leak scan. */
export const TOKEN_PREFIX = "fh_";

export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

const SCOPE_ROLE: Record<TokenScope, Role> = { server: "admin", "domain": "domain-admin", user: "user" };
const RANK: Record<Role, number> = { user: 0, "domain-admin": 1, admin: 2 };

/** The role a token acts with: the lower of its owner's role and its scope. */
export function effectiveRole(owner: Role, scope: TokenScope): Role {
  const s = SCOPE_ROLE[scope];
  return RANK[s] < RANK[owner] ? s : owner;
}

export class ApiTokenService {
  #repo: SqliteApiTokens;
  #store: MetadataStore;
  #clock: Clock;
  constructor(deps: { repo: SqliteApiTokens; store: MetadataStore; clock: Clock }) {
    this.#repo = deps.repo;
    this.#store = deps.store;
    this.#clock = deps.clock;
  }

  /** Creates a token for the actor's own account. The secret is in the result only. */
  async create(actor: Actor, name: string, scope: TokenScope): Promise<{ token: string; record: ApiTokenRecord }> {
    if (actor.kind !== "user") throw new AccountError("invalid", "tokens belong to an account");
    if (RANK[SCOPE_ROLE[scope]] > RANK[actor.user.role]) throw new AccountError("forbidden", `${actorName(actor)} may not create a ${scope} token`);
    const token = TOKEN_PREFIX + randomBytes(32).toString("base64url");
    const record = this.#repo.create({ hash: hashToken(token), name, userId: actor.user.id, scope, now: this.#clock.now() });
    await this.#audit(actor, "token.create", record);
    return { token, record };
  }

  list(actor: Actor): ApiTokenRecord[] {
    if (actor.kind !== "user") return [];
    return this.#repo.listByUser(actor.user.id);
  }

  /** Revokes one of the actor's own tokens (another's is not found). */
  async revoke(actor: Actor, id: number): Promise<void> {
    const t = this.#repo.get(id);
    if (!t || actor.kind !== "user" || t.userId !== actor.user.id || t.revokedAt !== null) throw new AccountError("not-found", `no token ${id}`);
    this.#repo.revoke(id, this.#clock.now());
    await this.#audit(actor, "token.revoke", t);
  }

  /**
   * The actor a presented token acts as, or null (unknown, revoked, owner gone or disabled).
   * Lookup is by the hash (an index probe), so response time says nothing about the secret.
   */
  async authenticate(presented: string): Promise<{ actor: Actor; token: ApiTokenRecord } | null> {
    if (!presented.startsWith(TOKEN_PREFIX) || presented.length > 100) return null;
    const t = this.#repo.byHash(hashToken(presented));
    if (!t) return null;
    const owner = await this.#store.accounts.getUserById(t.userId);
    if (!owner || owner.disabled) return null;
    const domain = await this.#store.accounts.getDomainById(owner.domainId);
    if (!domain || domain.disabled) return null;
    this.#repo.touch(t.id, this.#clock.now());
    const user: UserRecord = { ...owner, role: effectiveRole(owner.role, t.scope) };
    return { actor: { kind: "user", user, source: "token" }, token: t };
  }

  #audit(actor: Actor, action: string, t: ApiTokenRecord): Promise<unknown> {
    const owner = actor.kind === "user" ? actor.user.address : "";
    return this.#store.audit.append({
      actor: actorName(actor),
      source: actorSource(actor),
      action,
      target: `token:${t.id}`,
      domain: owner.slice(owner.lastIndexOf("@") + 1) || null,
      // Name and scope only: the secret and its hash never go into the log.
      after: JSON.stringify({ name: t.name, scope: t.scope }),
    });
  }
}
