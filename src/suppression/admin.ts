// The suppression list for the HTTP API (docs/api.md "Suppression"): the same list/add/remove as
// `freehold suppress` (service.ts), with the roles of the other admin routes: server admins see
// and change every sending domain, domain admins their own domain's entries only (another
// domain is "not found"), plain users nothing. Every change is written to the audit log.
import type { Actor } from "../accounts/authz.ts";
import { actorName, actorSource } from "../accounts/authz.ts";
import { AccountError } from "../accounts/errors.ts";
import type { MetadataStore } from "../store/types.ts";
import type { SuppressionEntry, SuppressionService } from "./service.ts";

export class SuppressionAdmin {
  readonly #svc: Pick<SuppressionService, "list" | "add" | "remove">;
  readonly #store: Pick<MetadataStore, "accounts" | "audit">;

  constructor(d: { suppression: Pick<SuppressionService, "list" | "add" | "remove">; store: Pick<MetadataStore, "accounts" | "audit"> }) {
    this.#svc = d.suppression;
    this.#store = d.store;
  }

  /** The sending domain the actor may manage: null = every domain (server admins). */
  async #scope(actor: Actor): Promise<string | null> {
    if (actor.kind === "system" || actor.user.role === "admin") return null;
    if (actor.user.role !== "domain-admin" || actor.user.disabled) throw new AccountError("forbidden", `${actorName(actor)} may not manage the suppression list`);
    const d = await this.#store.accounts.getDomainById(actor.user.domainId);
    if (!d) throw new AccountError("forbidden", `${actorName(actor)} has no domain`);
    return d.name;
  }

  async #check(actor: Actor, senderDomain: string): Promise<string> {
    const d = senderDomain.toLowerCase().replace(/\.$/, "");
    const scope = await this.#scope(actor);
    if (scope !== null && scope !== d) throw new AccountError("not-found", `no suppression list for ${d}`);
    return d;
  }

  async list(actor: Actor, senderDomain?: string): Promise<SuppressionEntry[]> {
    if (senderDomain !== undefined) return this.#svc.list(await this.#check(actor, senderDomain));
    const scope = await this.#scope(actor);
    return this.#svc.list(scope ?? undefined);
  }

  async add(actor: Actor, senderDomain: string, address: string, reason: string, days?: number): Promise<SuppressionEntry> {
    const d = await this.#check(actor, senderDomain);
    const e = await this.#svc.add(d, address, reason, days);
    await this.#audit(actor, "suppression.add", d, e.address, { after: { reason: e.reason, expiresAt: e.expiresAt } });
    return e;
  }

  async remove(actor: Actor, senderDomain: string, address: string): Promise<void> {
    const d = await this.#check(actor, senderDomain);
    const before = (await this.#svc.list(d)).find((e) => e.address === address.toLowerCase());
    if (!before || !(await this.#svc.remove(d, address))) throw new AccountError("not-found", `${address} is not on the list of ${d}`);
    await this.#audit(actor, "suppression.remove", d, before.address, { before: { reason: before.reason, bounces: before.bounces, suppressedAt: before.suppressedAt } });
  }

  #audit(actor: Actor, action: string, domain: string, address: string, change: { before?: unknown; after?: unknown }): Promise<unknown> {
    return this.#store.audit.append({
      actor: actorName(actor),
      source: actorSource(actor),
      action,
      target: `${address} (sending domain ${domain})`,
      domain,
      before: change.before === undefined ? null : JSON.stringify(change.before),
      after: change.after === undefined ? null : JSON.stringify(change.after),
    });
  }
}
