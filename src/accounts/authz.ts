// Who may do what. Three roles (store/types.ts Role):
//   - "admin" (server admin): everything;
//   - "domain-admin": users and aliases of their own domain, never a server admin's account,
//     never a role above their own;
//   - "user": their own password only.
// The CLI acts as `SYSTEM`: whoever can read the data folder already owns the server.
import type { AuditSource, Role, UserRecord } from "../store/types.ts";
import { AccountError } from "./errors.ts";

/** `source` records the door in the audit log: a web login ("session") or an API token ("token"). */
export type Actor = { kind: "system" } | { kind: "user"; user: UserRecord; source?: AuditSource };

export const SYSTEM: Actor = { kind: "system" };

export function actorSource(a: Actor): AuditSource {
  return a.kind === "system" ? "cli" : (a.source ?? "api");
}

export function actorName(a: Actor): string {
  return a.kind === "system" ? "cli" : a.user.address;
}

function isServerAdmin(a: Actor): boolean {
  return a.kind === "system" || a.user.role === "admin";
}

function forbidden(a: Actor, what: string): never {
  throw new AccountError("forbidden", `${actorName(a)} may not ${what}`);
}

/** Domains themselves (add, remove, list all) are for server admins. */
export function requireServerAdmin(a: Actor, what: string): void {
  if (!isServerAdmin(a)) forbidden(a, what);
}

/** Managing users and aliases inside a domain. */
export function requireDomainManager(a: Actor, domainId: number, what: string): void {
  if (isServerAdmin(a)) return;
  if (a.kind === "user" && a.user.role === "domain-admin" && a.user.domainId === domainId && !a.user.disabled) return;
  forbidden(a, what);
}

/** Changing one account (password, disable, quota, remove). */
export function requireAccountManager(a: Actor, target: UserRecord, what: string, opts: { selfAllowed?: boolean } = {}): void {
  if (isServerAdmin(a)) return;
  if (a.kind === "user" && opts.selfAllowed && a.user.id === target.id && !a.user.disabled) return;
  if (target.role === "admin") forbidden(a, what);
  requireDomainManager(a, target.domainId, what);
}

const RANK: Record<Role, number> = { user: 0, "domain-admin": 1, admin: 2 };

/** Granting a role: nobody grants more than they have. */
export function requireMayGrant(a: Actor, role: Role): void {
  if (isServerAdmin(a)) return;
  if (a.kind === "user" && RANK[role] <= RANK[a.user.role]) return;
  forbidden(a, `grant the role ${role}`);
}
