// The DAV service layer: what the web listener, the CLI (freehold contacts|calendar) and the
// API call. It opens dav.sqlite beside the other databases and reads users through the store's
// accounts interface (the company directory).
import type { Clock } from "../clock.ts";
import type { SqliteDb } from "../store/sqlite/db.ts";
import type { MetadataStore } from "../store/types.ts";
import type { DavContext, DavUser } from "./handler.ts";
import { DavStore, openDavDb } from "./store.ts";

export interface DavServiceDeps {
  config: { dataDir: string };
  storage: { store: MetadataStore };
  clock: Clock;
}

/** The users of a domain (enabled ones) as the directory lists them. */
export function domainUsersOf(store: MetadataStore): (domain: string) => Promise<DavUser[]> {
  return async (name) => {
    const d = await store.accounts.getDomain(name);
    if (!d || d.disabled) return [];
    return (await store.accounts.listUsers(d.id)).filter((u) => !u.disabled).map((u) => ({ address: u.address, displayName: u.displayName }));
  };
}

export function davContext(services: DavServiceDeps): { db: SqliteDb; ctx: DavContext } {
  const db = openDavDb(services.config.dataDir, { clock: services.clock });
  return { db, ctx: { store: new DavStore(db, services.clock), domainUsers: domainUsersOf(services.storage.store) } };
}
