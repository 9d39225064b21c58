// The outbound queue as operators manage it (CLI `freehold queue`, HTTP API /api/v1/queue):
// paged listing, one entry with its attempts, retry now, remove. Rights: server admins see the
// whole queue; a domain admin sees and acts on the entries their domain's addresses sent (an
// entry of another domain is "not found", never "forbidden", so ids leak nothing). Every change
// is written to the audit log.
import type { Actor } from "../accounts/authz.ts";
import { actorName, actorSource } from "../accounts/authz.ts";
import { AccountError } from "../accounts/errors.ts";
import type { Clock } from "../clock.ts";
import type { DomainRecord, MetadataStore, QueueAttempt, QueueRecipientState, QueueRecord } from "../store/types.ts";

export interface QueuePage {
  items: QueueRecord[];
  /** Pass as `after` for the next page; null on the last page. */
  next: number | null;
}

function senderDomain(q: QueueRecord): string | null {
  const at = q.mailFrom.lastIndexOf("@");
  return at < 0 ? null : q.mailFrom.slice(at + 1).toLowerCase();
}

export class QueueAdmin {
  #store: MetadataStore;
  #clock: Clock;
  constructor(deps: { store: MetadataStore; clock: Clock }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
  }

  /** The domain an actor is confined to; null for server admins; throws for plain users. */
  async #scope(actor: Actor): Promise<DomainRecord | null> {
    if (actor.kind === "system" || actor.user.role === "admin") return null;
    if (actor.user.role === "domain-admin" && !actor.user.disabled) {
      const d = await this.#store.accounts.getDomainById(actor.user.domainId);
      if (d) return d;
    }
    throw new AccountError("forbidden", `${actorName(actor)} may not manage the queue`);
  }

  async list(actor: Actor, q: { after?: number; limit: number; state?: QueueRecipientState }): Promise<QueuePage> {
    const scope = await this.#scope(actor);
    const items = await this.#store.queue.page({ afterId: q.after, limit: q.limit + 1, state: q.state, senderDomain: scope?.name });
    const more = items.length > q.limit;
    if (more) items.pop();
    return { items, next: more ? items[items.length - 1].id : null };
  }

  async get(actor: Actor, id: number): Promise<{ entry: QueueRecord; attempts: QueueAttempt[] }> {
    const entry = await this.#visible(actor, id);
    return { entry, attempts: await this.#store.queue.attempts(id) };
  }

  /** Makes the entry's pending recipients due now; returns how many. */
  async retry(actor: Actor, id: number): Promise<number> {
    const entry = await this.#visible(actor, id);
    const n = await this.#store.queue.retryNow(id, this.#clock.now());
    await this.#audit(actor, "queue.retry", entry, { after: { due: n } });
    return n;
  }

  /** Every pending recipient due now (server admins only). */
  async retryAll(actor: Actor): Promise<number> {
    if ((await this.#scope(actor)) !== null) throw new AccountError("forbidden", `${actorName(actor)} may not flush the whole queue`);
    const n = await this.#store.queue.retryNow(null, this.#clock.now());
    await this.#store.audit.append({ actor: actorName(actor), source: actorSource(actor), action: "queue.flush", target: "*", after: JSON.stringify({ due: n }) });
    return n;
  }

  /** Deletes the entry without notifying anyone. */
  async remove(actor: Actor, id: number): Promise<void> {
    const entry = await this.#visible(actor, id);
    if (!(await this.#store.queue.remove(id))) throw new AccountError("not-found", `no queue entry ${id}`);
    await this.#audit(actor, "queue.remove", entry, {
      before: { mailFrom: entry.mailFrom, recipients: entry.recipients.map((r) => ({ recipient: r.recipient, state: r.state })) },
    });
  }

  async #visible(actor: Actor, id: number): Promise<QueueRecord> {
    const scope = await this.#scope(actor);
    const entry = await this.#store.queue.get(id);
    if (!entry || (scope !== null && senderDomain(entry) !== scope.name)) throw new AccountError("not-found", `no queue entry ${id}`);
    return entry;
  }

  #audit(actor: Actor, action: string, entry: QueueRecord, change: { before?: unknown; after?: unknown }): Promise<unknown> {
    return this.#store.audit.append({
      actor: actorName(actor),
      source: actorSource(actor),
      action,
      target: `queue:${entry.id}`,
      domain: senderDomain(entry),
      before: change.before === undefined ? null : JSON.stringify(change.before),
      after: change.after === undefined ? null : JSON.stringify(change.after),
    });
  }
}
