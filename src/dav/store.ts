// dav.sqlite: address books, calendars and the original bytes of every resource in them.
// Its own file, as spam.sqlite and suppression.sqlite, so DAV writes never wait on meta.sqlite.
//
// Sync (RFC 6578 §3.2): each collection has a revision counter `rev`; every change (PUT,
// DELETE) bumps it and stamps the resource with the new value. A deleted resource stays as a
// tombstone (bytes NULL) so that sync-collection can report it as 404 to a client holding an
// older token. The sync token is `${SYNC_PREFIX}${collectionId}-${rev}`; getctag is the same.
import { createHash } from "node:crypto";
import { join } from "node:path";
import type { Clock } from "../clock.ts";
import { systemClock } from "../clock.ts";
import { SqliteDb } from "../store/sqlite/db.ts";
import { migrate } from "../store/sqlite/migrations.ts";
import type { Migration } from "../store/sqlite/migrations.ts";

export type CollectionKind = "addressbook" | "calendar";

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: "dav collections and resources",
    sql: `CREATE TABLE collections (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  owner TEXT NOT NULL,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  displayname TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  color TEXT NOT NULL DEFAULT '',
  rev INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  UNIQUE (owner, kind, name)
);
CREATE TABLE resources (
  collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  uid TEXT,
  etag TEXT NOT NULL,
  content_type TEXT NOT NULL,
  bytes BLOB,
  rev INTEGER NOT NULL,
  modified_at INTEGER NOT NULL,
  PRIMARY KEY (collection_id, name)
) WITHOUT ROWID;
CREATE INDEX resources_rev ON resources (collection_id, rev);
CREATE TABLE settings (owner TEXT PRIMARY KEY, collect_addresses INTEGER NOT NULL DEFAULT 1) WITHOUT ROWID;`,
  },
];

export const SYNC_PREFIX = "http://freehold.invalid/ns/sync/";

export interface Collection {
  id: number;
  owner: string;
  kind: CollectionKind;
  name: string;
  displayname: string;
  description: string;
  color: string;
  rev: number;
}

export interface Resource {
  collectionId: number;
  name: string;
  uid: string | null;
  /** A strong ETag, quoted (RFC 9110 §8.8.3). */
  etag: string;
  contentType: string;
  /** Null for a tombstone. */
  bytes: Buffer | null;
  rev: number;
}

interface CollRow { id: number; owner: string; kind: string; name: string; displayname: string; description: string; color: string; rev: number }
interface ResRow { collection_id: number; name: string; uid: string | null; etag: string; content_type: string; bytes: Uint8Array | null; rev: number }

const toColl = (r: CollRow): Collection => ({ id: r.id, owner: r.owner, kind: r.kind as CollectionKind, name: r.name, displayname: r.displayname, description: r.description, color: r.color, rev: r.rev });
const toRes = (r: ResRow): Resource => ({ collectionId: r.collection_id, name: r.name, uid: r.uid, etag: r.etag, contentType: r.content_type, bytes: r.bytes ? Buffer.from(r.bytes) : null, rev: r.rev });

export function openDavDb(dataDir: string, opts: { clock?: Clock } = {}): SqliteDb {
  const db = new SqliteDb(join(dataDir, "dav.sqlite"));
  migrate(db.db, (opts.clock ?? systemClock).now(), MIGRATIONS);
  return db;
}

/** A strong ETag from the stored bytes: the same bytes always give the same tag. */
export function etagOf(bytes: Buffer): string {
  return `"${createHash("sha256").update(bytes).digest("base64url").slice(0, 27)}"`;
}

export function syncToken(c: Pick<Collection, "id" | "rev">): string {
  return `${SYNC_PREFIX}${c.id}-${c.rev}`;
}

/** The revision a token names, or null when it is not one of this collection's (RFC 6578 §3.2: valid-sync-token). */
export function parseSyncToken(c: Pick<Collection, "id" | "rev">, token: string): number | null {
  if (!token.startsWith(SYNC_PREFIX)) return null;
  const m = /^(\d+)-(\d+)$/.exec(token.slice(SYNC_PREFIX.length));
  if (!m || Number(m[1]) !== c.id) return null;
  const rev = Number(m[2]);
  return rev <= c.rev ? rev : null;
}

export class DavStore {
  readonly #db: SqliteDb;
  readonly #clock: Clock;
  /** Owners whose defaults exist: a read (PROPFIND, GET) then writes nothing. */
  readonly #defaultsDone = new Set<string>();
  constructor(db: SqliteDb, clock: Clock = systemClock) {
    this.#db = db;
    this.#clock = clock;
  }

  listCollections(owner: string, kind: CollectionKind): Promise<Collection[]> {
    return this.#db.call(() => this.#db.all<CollRow>("SELECT * FROM collections WHERE owner = ? AND kind = ? ORDER BY id", owner, kind).map(toColl));
  }

  getCollection(owner: string, kind: CollectionKind, name: string): Promise<Collection | null> {
    return this.#db.call(() => {
      const r = this.#db.get<CollRow>("SELECT * FROM collections WHERE owner = ? AND kind = ? AND name = ?", owner, kind, name);
      return r ? toColl(r) : null;
    });
  }

  /** Creates the collection; false when the name is taken. */
  createCollection(owner: string, kind: CollectionKind, name: string, props: { displayname?: string; description?: string; color?: string } = {}): Promise<boolean> {
    return this.#db.call(() =>
      this.#db.atomic(() => {
        const r = this.#db.run(
          "INSERT OR IGNORE INTO collections (owner, kind, name, displayname, description, color, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
          owner, kind, name, props.displayname ?? name, props.description ?? "", props.color ?? "", this.#clock.now(),
        );
        return r.changes === 1;
      }),
    );
  }

  /** The user's default address book and calendar, created on first use (once per process and owner; a client that deletes one gets it back after a restart). */
  async ensureDefaults(owner: string): Promise<void> {
    if (this.#defaultsDone.has(owner)) return;
    this.#defaultsDone.add(owner);
    await this.createCollection(owner, "addressbook", "default", { displayname: "Contacts" });
    await this.createCollection(owner, "calendar", "default", { displayname: "Calendar" });
  }

  setProps(id: number, props: { displayname?: string; description?: string; color?: string }): Promise<void> {
    return this.#db.call(() =>
      this.#db.atomic(() => {
        if (props.displayname !== undefined) this.#db.run("UPDATE collections SET displayname = ? WHERE id = ?", props.displayname, id);
        if (props.description !== undefined) this.#db.run("UPDATE collections SET description = ? WHERE id = ?", props.description, id);
        if (props.color !== undefined) this.#db.run("UPDATE collections SET color = ? WHERE id = ?", props.color, id);
      }),
    );
  }

  deleteCollection(id: number): Promise<void> {
    return this.#db.call(() => this.#db.atomic(() => void this.#db.run("DELETE FROM collections WHERE id = ?", id)));
  }

  /** Live resources (no tombstones). */
  listResources(collectionId: number): Promise<Resource[]> {
    return this.#db.call(() => this.#db.all<ResRow>("SELECT * FROM resources WHERE collection_id = ? AND bytes IS NOT NULL ORDER BY name", collectionId).map(toRes));
  }

  getResource(collectionId: number, name: string): Promise<Resource | null> {
    return this.#db.call(() => {
      const r = this.#db.get<ResRow>("SELECT * FROM resources WHERE collection_id = ? AND name = ? AND bytes IS NOT NULL", collectionId, name);
      return r ? toRes(r) : null;
    });
  }

  /** Resources changed after `rev`, tombstones included (RFC 6578 §3.5). */
  changesSince(collectionId: number, rev: number): Promise<Resource[]> {
    return this.#db.call(() => this.#db.all<ResRow>("SELECT * FROM resources WHERE collection_id = ? AND rev > ? ORDER BY rev", collectionId, rev).map(toRes));
  }

  /**
   * Stores a resource if the precondition still holds when the write runs (checked inside the
   * same atomic block, so two clients racing on one If-Match cannot both win).
   * `ifMatch`: the ETag the client holds ("*" = must exist); `ifNoneMatch`: must not exist.
   */
  putResource(
    collectionId: number,
    r: { name: string; uid: string | null; contentType: string; bytes: Buffer },
    pre: { ifMatch?: string; ifNoneMatch?: boolean },
  ): Promise<{ ok: true; etag: string; created: boolean } | { ok: false; reason: "precondition" | "uid-conflict" }> {
    const etag = etagOf(r.bytes);
    return this.#db.call(() =>
      this.#db.atomic(() => {
        const old = this.#db.get<ResRow>("SELECT * FROM resources WHERE collection_id = ? AND name = ? AND bytes IS NOT NULL", collectionId, r.name);
        if (pre.ifNoneMatch && old) return { ok: false as const, reason: "precondition" as const };
        if (pre.ifMatch !== undefined && (!old || (pre.ifMatch !== "*" && pre.ifMatch !== old.etag))) return { ok: false as const, reason: "precondition" as const };
        if (r.uid !== null) {
          // RFC 6352 §6.3.2.1 no-uid-conflict / RFC 4791 §5.3.2.1: one UID per collection.
          const same = this.#db.get<{ name: string }>("SELECT name FROM resources WHERE collection_id = ? AND uid = ? AND bytes IS NOT NULL AND name <> ?", collectionId, r.uid, r.name);
          if (same) return { ok: false as const, reason: "uid-conflict" as const };
        }
        this.#db.run("UPDATE collections SET rev = rev + 1 WHERE id = ?", collectionId);
        const rev = this.#db.get<{ rev: number }>("SELECT rev FROM collections WHERE id = ?", collectionId)!.rev;
        this.#db.run(
          `INSERT INTO resources (collection_id, name, uid, etag, content_type, bytes, rev, modified_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (collection_id, name) DO UPDATE SET uid = excluded.uid, etag = excluded.etag, content_type = excluded.content_type, bytes = excluded.bytes, rev = excluded.rev, modified_at = excluded.modified_at`,
          collectionId, r.name, r.uid, etag, r.contentType, r.bytes, rev, this.#clock.now(),
        );
        return { ok: true as const, etag, created: !old };
      }),
    );
  }

  /** Deletes (leaving a tombstone); false when absent or the If-Match does not hold. */
  deleteResource(collectionId: number, name: string, ifMatch?: string): Promise<"deleted" | "absent" | "precondition"> {
    return this.#db.call(() =>
      this.#db.atomic(() => {
        const old = this.#db.get<ResRow>("SELECT * FROM resources WHERE collection_id = ? AND name = ? AND bytes IS NOT NULL", collectionId, name);
        if (!old) return "absent" as const;
        if (ifMatch !== undefined && ifMatch !== "*" && ifMatch !== old.etag) return "precondition" as const;
        this.#db.run("UPDATE collections SET rev = rev + 1 WHERE id = ?", collectionId);
        const rev = this.#db.get<{ rev: number }>("SELECT rev FROM collections WHERE id = ?", collectionId)!.rev;
        this.#db.run("UPDATE resources SET bytes = NULL, uid = NULL, rev = ?, modified_at = ? WHERE collection_id = ? AND name = ?", rev, this.#clock.now(), collectionId, name);
        return "deleted" as const;
      }),
    );
  }

  collectAddresses(owner: string): Promise<boolean> {
    return this.#db.call(() => (this.#db.get<{ collect_addresses: number }>("SELECT collect_addresses FROM settings WHERE owner = ?", owner)?.collect_addresses ?? 1) === 1);
  }

  setCollectAddresses(owner: string, on: boolean): Promise<void> {
    return this.#db.call(() => this.#db.atomic(() => void this.#db.run("INSERT INTO settings (owner, collect_addresses) VALUES (?, ?) ON CONFLICT (owner) DO UPDATE SET collect_addresses = excluded.collect_addresses", owner, on ? 1 : 0)));
  }
}
