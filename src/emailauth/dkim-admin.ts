// DKIM keys as operators manage them (CLI `freehold dkim`, HTTP API): rights per domain
// (server admins, or the domain's own domain admin) and an audit entry for every rotation.
// The key material itself never leaves: views carry the public record only.
import type { Actor } from "../accounts/authz.ts";
import { actorName, actorSource, requireDomainManager } from "../accounts/authz.ts";
import { AccountError } from "../accounts/errors.ts";
import type { MetadataStore } from "../store/types.ts";
import type { DkimService } from "./dkim-service.ts";
import { dkimRecordName, dkimTxtRecord } from "./dkim-keys.ts";
import type { DkimKey } from "./dkim-keys.ts";

export interface DkimKeyView {
  domain: string;
  selector: string;
  type: DkimKey["type"];
  state: DkimKey["state"];
  createdAt: number;
  /** The TXT record to publish: its owner name and value. */
  name: string;
  txt: string;
}

export function dkimView(k: DkimKey): DkimKeyView {
  return { domain: k.domain, selector: k.selector, type: k.type, state: k.state, createdAt: k.createdAt, name: dkimRecordName(k), txt: dkimTxtRecord(k) };
}

export class DkimAdmin {
  #store: MetadataStore;
  #dkim: Pick<DkimService, "list" | "rotate">;
  constructor(deps: { store: MetadataStore; dkim: Pick<DkimService, "list" | "rotate"> }) {
    this.#store = deps.store;
    this.#dkim = deps.dkim;
  }

  async #domain(actor: Actor, name: string, what: string): Promise<string> {
    const d = await this.#store.accounts.getDomain(name.toLowerCase().replace(/\.$/, ""));
    if (!d) throw new AccountError("not-found", `no domain ${name}`);
    try {
      requireDomainManager(actor, d.id, what);
    } catch {
      // Another tenant's domain is not found, not forbidden: its existence is not revealed.
      throw new AccountError("not-found", `no domain ${name}`);
    }
    return d.name;
  }

  async list(actor: Actor, domain: string): Promise<DkimKeyView[]> {
    const d = await this.#domain(actor, domain, `see the DKIM keys of ${domain}`);
    return this.#dkim.list(d).map(dkimView);
  }

  async rotate(actor: Actor, domain: string): Promise<DkimKeyView[]> {
    const d = await this.#domain(actor, domain, `rotate the DKIM keys of ${domain}`);
    const made = (await this.#dkim.rotate(d)).map(dkimView);
    await this.#store.audit.append({
      actor: actorName(actor),
      source: actorSource(actor),
      action: "dkim.rotate",
      target: d,
      domain: d,
      // Selectors only: private keys never go into the log.
      after: JSON.stringify({ selectors: made.map((k) => k.selector) }),
    });
    return made;
  }
}
