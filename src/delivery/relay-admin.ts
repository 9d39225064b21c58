// Relays and routes as the CLI (`freehold relay`) and the HTTP API change them (server admins
// only), with an audit entry for every change and secrets redacted. The files and their
// validation are relays.ts's; a change that does not validate is refused before anything is
// written.
import type { Actor } from "../accounts/authz.ts";
import { actorName, actorSource, requireServerAdmin } from "../accounts/authz.ts";
import { AccountError } from "../accounts/errors.ts";
import type { MetadataStore } from "../store/types.ts";
import { loadRelayFile, loadRelaySecrets, RelayConfigError, saveRelayFile, saveRelaySecrets } from "./relays.ts";
import type { RelayFile, RelayTlsMode, Routes } from "./relays.ts";

export interface RelayInput {
  host: string;
  port: number;
  tls: RelayTlsMode;
  maxConnections?: number;
  /** AUTH credentials; both or neither. */
  username?: string;
  password?: string;
  /** The relay's SPF domain (dns records adds include: for domains it serves). */
  spfInclude?: string;
}

export type RuleKind = "recipient-domain" | "sender-domain";

export class RelayAdmin {
  #dataDir: string;
  #store: MetadataStore;
  constructor(deps: { dataDir: string; store: MetadataStore }) {
    this.#dataDir = deps.dataDir;
    this.#store = deps.store;
  }

  async view(actor: Actor): Promise<{ relays: Array<RelayFile["relays"][number] & { username: string | null }>; routes: Routes }> {
    requireServerAdmin(actor, "see relays");
    const file = await this.#load();
    const secrets = await loadRelaySecrets(this.#dataDir);
    return { relays: file.relays.map((r) => ({ ...r, username: secrets[r.name]?.username ?? null })), routes: file.routes };
  }

  /** Adds or replaces a relay; without credentials any stored ones are dropped. */
  async put(actor: Actor, name: string, input: RelayInput): Promise<{ created: boolean }> {
    requireServerAdmin(actor, "change relays");
    const file = await this.#load();
    const before = file.relays.find((r) => r.name === name);
    const entry = { name, host: input.host, port: input.port, tls: input.tls, maxConnections: input.maxConnections ?? 10, ...(input.spfInclude ? { spfInclude: input.spfInclude.toLowerCase() } : {}) };
    await this.#save({ ...file, relays: [...file.relays.filter((r) => r.name !== name), entry] });
    const secrets = await loadRelaySecrets(this.#dataDir);
    if (input.username !== undefined && input.password !== undefined) secrets[name] = { username: input.username, password: input.password };
    else delete secrets[name];
    await saveRelaySecrets(this.#dataDir, secrets);
    await this.#audit(actor, "relay.put", `relay:${name}`, before, { ...entry, username: input.username ?? null, password: input.password === undefined ? null : "[redacted]" });
    return { created: before === undefined };
  }

  /** Refused while a route uses the relay. */
  async remove(actor: Actor, name: string): Promise<void> {
    requireServerAdmin(actor, "change relays");
    const file = await this.#load();
    const before = file.relays.find((r) => r.name === name);
    if (!before) throw new AccountError("not-found", `no relay ${name}`);
    const users = [
      ...(file.routes.default.includes(name) ? ["default"] : []),
      ...Object.entries(file.routes.recipientDomains).filter(([, l]) => l.includes(name)).map(([d]) => `recipient-domain ${d}`),
      ...Object.entries(file.routes.senderDomains).filter(([, l]) => l.includes(name)).map(([d]) => `sender-domain ${d}`),
    ];
    if (users.length > 0) throw new AccountError("in-use", `relay ${name} is used by routes: ${users.join("; ")}`);
    await this.#save({ ...file, relays: file.relays.filter((r) => r.name !== name) });
    const secrets = await loadRelaySecrets(this.#dataDir);
    delete secrets[name];
    await saveRelaySecrets(this.#dataDir, secrets);
    await this.#audit(actor, "relay.remove", `relay:${name}`, before, undefined);
  }

  /** The ordered failover list: the default, or a recipient- or sender-domain rule. */
  async setRoute(actor: Actor, kind: "default" | RuleKind, domain: string | null, routes: string[]): Promise<void> {
    requireServerAdmin(actor, "change routes");
    const file = await this.#load();
    let next: RelayFile;
    let before: string[] | undefined;
    if (kind === "default") {
      before = file.routes.default;
      next = { ...file, routes: { ...file.routes, default: routes } };
    } else {
      const key = kind === "recipient-domain" ? "recipientDomains" : "senderDomains";
      const d = (domain ?? "").toLowerCase();
      before = file.routes[key][d];
      next = { ...file, routes: { ...file.routes, [key]: { ...file.routes[key], [d]: routes } } };
    }
    await this.#save(next);
    await this.#audit(actor, "route.set", kind === "default" ? "route:default" : `route:${kind}:${(domain ?? "").toLowerCase()}`, before, routes);
  }

  async removeRoute(actor: Actor, kind: RuleKind, domain: string): Promise<void> {
    requireServerAdmin(actor, "change routes");
    const file = await this.#load();
    const key = kind === "recipient-domain" ? "recipientDomains" : "senderDomains";
    const d = domain.toLowerCase();
    const map = { ...file.routes[key] };
    if (!(d in map)) throw new AccountError("not-found", `no ${kind} rule for ${d}`);
    const before = map[d];
    delete map[d];
    await this.#save({ ...file, routes: { ...file.routes, [key]: map } });
    await this.#audit(actor, "route.remove", `route:${kind}:${d}`, before, undefined);
  }

  async #load(): Promise<RelayFile> {
    try {
      return await loadRelayFile(this.#dataDir);
    } catch (e) {
      if (e instanceof RelayConfigError) throw new AccountError("in-use", `the relay file does not load: ${e.message}`);
      throw e;
    }
  }

  async #save(file: RelayFile): Promise<void> {
    try {
      await saveRelayFile(this.#dataDir, file);
    } catch (e) {
      if (e instanceof RelayConfigError) throw new AccountError("invalid", e.message);
      throw e;
    }
  }

  #audit(actor: Actor, action: string, target: string, before: unknown, after: unknown): Promise<unknown> {
    return this.#store.audit.append({
      actor: actorName(actor),
      source: actorSource(actor),
      action,
      target,
      before: before === undefined ? null : JSON.stringify(before),
      after: after === undefined ? null : JSON.stringify(after),
    });
  }
}
