// Recipient resolution: which mailboxes (and which external addresses) a RCPT TO address reaches.
//
// Order for `local@domain` where domain is ours (first match wins):
//   1. a user `local@domain`
//   2. an alias `local@domain`
//   3. without the +tag: a user, then an alias `base@domain` (`bob+news` → `bob`)
//   4. the built-in `postmaster` (RFC 5321 §4.5.1: every domain must have one) and `abuse`
//      (RFC 2142 §2), which reach the server admins; an explicit user or alias of that name
//      (steps 1-3) overrides them, a catch-all does not
//   5. the catch-all alias `@domain`
// Local parts compare case-insensitively, domains as lower-case A-labels (see address.ts).
// `<Postmaster>` without a domain (RFC 5321 §4.1.1.3) is the built-in postmaster too.
//
// Aliases expand recursively: a target in one of our domains is resolved again by the same
// order, an external target is collected for the queue. Limits (Postfix has similar ones,
// virtual_alias_recursion_limit and virtual_alias_expansion_limit):
//   - MAX_ALIAS_DEPTH = 10 nested alias hops on one path,
//   - MAX_EXPANSION = 1000 addresses looked at for one recipient.
// A path that comes back to an address already on it is a loop: that branch is dropped and
// reported, the other branches still deliver. Each mailbox gets one copy however many paths
// reach it (the first path found is the one recorded); an alias reached again is not expanded
// again (unless by a shorter path); disabled users receive nothing.
import type { AccountsRepo, DomainRecord, UserRecord } from "../store/types.ts";
import { TAG_SEPARATOR, normalizeDomain, normalizeLocal, splitAddress } from "./address.ts";

export const MAX_ALIAS_DEPTH = 10;
export const MAX_EXPANSION = 1000;

export interface LocalTarget {
  user: UserRecord;
  /**
   * The addresses this copy was delivered through, from the original recipient to the last hop
   * that matched (e.g. ["sales@example.com", "bob@example.com"]; just ["bob+news@example.com"]
   * for a direct delivery). The SMTP layer writes one `Delivered-To:` trace header per entry
   * (prepended in order, so the last hop ends on top), as Postfix's local delivery does.
   */
  deliveredTo: string[];
}

export type ExpansionProblem =
  | { kind: "loop"; address: string; path: string[] }
  | { kind: "depth"; address: string; path: string[] }
  | { kind: "expansion"; address: string }
  | { kind: "unknown-target"; address: string; path: string[] }
  | { kind: "disabled-target"; address: string; path: string[] }
  | { kind: "no-admin"; address: string };

export type Resolution =
  /** Not one of our domains: relaying decides (the mx role refuses with 554 5.7.1). */
  | { kind: "not-local" }
  /** Our domain, no such recipient: 550 5.1.1. */
  | { kind: "unknown" }
  /** The user (or the whole domain) is disabled: 550 5.2.1 (RFC 3463 X.2.1, mailbox disabled). */
  | { kind: "disabled" }
  /**
   * At least one copy goes somewhere. `problems` lists dropped branches (for the log); the
   * external addresses go into the queue.
   */
  | { kind: "deliver"; local: LocalTarget[]; external: string[]; problems: ExpansionProblem[] }
  /**
   * An alias that expands to nothing deliverable (only loops, limits, unknown or disabled
   * targets). Suggested reply: 550 5.4.6 for loop/depth/expansion (RFC 3463 X.4.6 routing
   * loop), else 550 5.1.1.
   */
  | { kind: "failed"; problems: ExpansionProblem[] };

type Entry =
  | { type: "user"; user: UserRecord; matched: string }
  | { type: "alias"; targets: string[]; matched: string }
  | { type: "builtin"; matched: string };

const BUILTIN = new Set(["postmaster", "abuse"]);

/** Resolve one recipient address. Read-only; safe to call for every RCPT. */
export async function resolveRecipient(accounts: AccountsRepo, address: string): Promise<Resolution> {
  const r = new Resolver(accounts);
  return r.resolveTop(address);
}

class Resolver {
  #accounts: AccountsRepo;
  #domains = new Map<string, DomainRecord | null>();
  #admins: UserRecord[] | null = null;
  #seenUsers = new Set<number>();
  #seenExternal = new Set<string>();
  #local: LocalTarget[] = [];
  #external: string[] = [];
  #problems: ExpansionProblem[] = [];
  #looked = 0;
  /** Alias address → the smallest depth it was expanded at. */
  #expandedAt = new Map<string, number>();

  constructor(accounts: AccountsRepo) {
    this.#accounts = accounts;
  }

  async resolveTop(address: string): Promise<Resolution> {
    const parsed = await this.#parse(address);
    if (parsed === "not-local") return { kind: "not-local" };
    if (parsed === "disabled") return { kind: "disabled" };
    if (parsed === null) return { kind: "unknown" };
    const entry = await this.#lookup(parsed.local, parsed.domain);
    if (!entry) return { kind: "unknown" };
    if (entry.type === "user" && entry.user.disabled) return { kind: "disabled" };
    await this.#expandEntry(entry, parsed.display, [], 0);
    if (this.#local.length === 0 && this.#external.length === 0) return { kind: "failed", problems: this.#problems };
    return { kind: "deliver", local: this.#local, external: this.#external, problems: this.#problems };
  }

  /** Normalise; null for a syntactically hopeless address in our domain. */
  async #parse(address: string): Promise<{ local: string; domain: string | null; display: string } | "not-local" | "disabled" | null> {
    const parts = splitAddress(address.trim());
    if (!parts) {
      // RFC 5321 §4.1.1.3: "Postmaster" without a domain must be accepted.
      const local = normalizeLocal(address.trim());
      return local === "postmaster" ? { local, domain: null, display: local } : null;
    }
    const domain = normalizeDomain(parts.domain);
    if (!domain) return "not-local";
    const d = await this.#domain(domain);
    if (!d) return "not-local";
    if (d.disabled) return "disabled";
    const local = normalizeLocal(parts.local);
    if (local === "") return null;
    return { local, domain, display: `${local}@${domain}` };
  }

  async #domain(name: string): Promise<DomainRecord | null> {
    if (!this.#domains.has(name)) this.#domains.set(name, await this.#accounts.getDomain(name));
    return this.#domains.get(name) ?? null;
  }

  async #lookup(local: string, domain: string | null): Promise<Entry | null> {
    if (domain === null) return BUILTIN.has(local) ? { type: "builtin", matched: local } : null;
    const exact = await this.#named(local, domain);
    if (exact) return exact;
    const plus = local.indexOf(TAG_SEPARATOR);
    const base = plus > 0 ? local.slice(0, plus) : null;
    if (base !== null) {
      const untagged = await this.#named(base, domain);
      if (untagged) return { ...untagged, matched: `${local}@${domain}` };
    }
    if (BUILTIN.has(local) || (base !== null && BUILTIN.has(base))) return { type: "builtin", matched: `${local}@${domain}` };
    const catchAll = await this.#accounts.getAliasByAddress(`@${domain}`);
    if (catchAll) return { type: "alias", targets: catchAll.targets, matched: `${local}@${domain}` };
    return null;
  }

  async #named(local: string, domain: string): Promise<Entry | null> {
    const address = `${local}@${domain}`;
    const user = await this.#accounts.getUserByAddress(address);
    if (user) return { type: "user", user, matched: address };
    const alias = await this.#accounts.getAliasByAddress(address);
    if (alias) return { type: "alias", targets: alias.targets, matched: address };
    return null;
  }

  async #expandEntry(entry: Entry, address: string, path: string[], depth: number): Promise<void> {
    const here = [...path, entry.matched];
    switch (entry.type) {
      case "user":
        this.#deliverTo(entry.user, here);
        return;
      case "builtin": {
        const admins = await this.#serverAdmins();
        if (admins.length === 0) this.#problems.push({ kind: "no-admin", address });
        // The admins are reached through the built-in name: record it as a hop.
        for (const admin of admins) this.#deliverTo(admin, [...here, admin.address]);
        return;
      }
      case "alias": {
        // An alias reached again (diamond-shaped alias graphs) adds nothing new unless this path
        // is shorter, which may let it reach further before MAX_ALIAS_DEPTH. Without this, dense
        // alias graphs would be walked once per path: exponentially often.
        const before = this.#expandedAt.get(entry.matched);
        if (before !== undefined && before <= depth) return;
        this.#expandedAt.set(entry.matched, depth);
        for (const t of entry.targets) await this.#expandTarget(t, here, depth + 1);
        return;
      }
    }
  }

  async #expandTarget(target: string, path: string[], depth: number): Promise<void> {
    if (++this.#looked > MAX_EXPANSION) {
      if (!this.#problems.some((p) => p.kind === "expansion")) this.#problems.push({ kind: "expansion", address: path[0] });
      return;
    }
    if (depth > MAX_ALIAS_DEPTH) {
      this.#problems.push({ kind: "depth", address: target, path });
      return;
    }
    const parts = splitAddress(target);
    const domain = parts ? normalizeDomain(parts.domain) : null;
    if (!parts || !domain) {
      this.#problems.push({ kind: "unknown-target", address: target, path });
      return;
    }
    const d = await this.#domain(domain);
    if (!d) {
      // External: the local part keeps its case (RFC 5321 §2.4); one queue copy per address.
      const ext = `${parts.local}@${domain}`;
      if (!this.#seenExternal.has(ext)) {
        this.#seenExternal.add(ext);
        this.#external.push(ext);
      }
      return;
    }
    const local = normalizeLocal(parts.local);
    const address = `${local}@${domain}`;
    if (path.includes(address)) {
      this.#problems.push({ kind: "loop", address, path });
      return;
    }
    if (d.disabled) {
      this.#problems.push({ kind: "disabled-target", address, path });
      return;
    }
    const entry = await this.#lookup(local, domain);
    if (!entry) {
      this.#problems.push({ kind: "unknown-target", address, path });
      return;
    }
    await this.#expandEntry(entry, address, path, depth);
  }

  #deliverTo(user: UserRecord, deliveredTo: string[]): void {
    if (user.disabled) {
      this.#problems.push({ kind: "disabled-target", address: user.address, path: deliveredTo.slice(0, -1) });
      return;
    }
    if (this.#seenUsers.has(user.id)) return;
    this.#seenUsers.add(user.id);
    this.#local.push({ user, deliveredTo });
  }

  async #serverAdmins(): Promise<UserRecord[]> {
    // Small servers have few users; a role index in the store would make this one query.
    this.#admins ??= (await this.#accounts.listUsers()).filter((u) => u.role === "admin" && !u.disabled);
    return this.#admins;
  }
}
