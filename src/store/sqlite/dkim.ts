// DKIM key rows (table dkim_keys, migration-dkim.ts) and the submission parameters of queue
// entries (queue_messages.body / smtputf8).
//
// These repos sit on their own connection to meta.sqlite (openSideDb) instead of in StoreRepos,
// so they could be added without touching the shared store types. Every call is one short
// statement or one synchronous transaction: it never holds a lock across an await, so it cannot
// deadlock with the main connection's gated transactions in the same process.
import { join } from "node:path";
import type { Clock } from "../../clock.ts";
import { systemClock } from "../../clock.ts";
import type { DkimKey, DkimKeyState, DkimKeyType } from "../../emailauth/dkim-keys.ts";
import { SqliteDb } from "./db.ts";
import { migrate } from "./migrations.ts";

interface KeyRow {
  id: number;
  domain: string;
  selector: string;
  algorithm: DkimKeyType;
  private_key_pem: string;
  public_key: string;
  state: DkimKeyState;
  created_at: number;
  published_at: number | null;
  activated_at: number | null;
  retiring_at: number | null;
  retired_at: number | null;
}

const opt = (v: number | null): number | undefined => (v === null ? undefined : v);

function toKey(r: KeyRow): DkimKey {
  return {
    domain: r.domain,
    selector: r.selector,
    type: r.algorithm,
    privateKeyPem: r.private_key_pem,
    publicKey: r.public_key,
    state: r.state,
    createdAt: r.created_at,
    publishedAt: opt(r.published_at),
    activatedAt: opt(r.activated_at),
    retiringAt: opt(r.retiring_at),
    retiredAt: opt(r.retired_at),
  };
}

/** A second connection to <dataDir>/meta.sqlite for the repos below. Applies pending migrations. */
export function openSideDb(dataDir: string, opts: { clock?: Clock; fileName?: string } = {}): SqliteDb {
  const db = new SqliteDb(join(dataDir, opts.fileName ?? "meta.sqlite"));
  migrate(db.db, (opts.clock ?? systemClock).now());
  return db;
}

export class SqliteDkimKeys {
  #db: SqliteDb;
  constructor(db: SqliteDb) {
    this.#db = db;
  }

  /** Keys of one domain (or all), oldest first. */
  list(domain?: string): DkimKey[] {
    const rows =
      domain === undefined
        ? this.#db.all<KeyRow>("SELECT * FROM dkim_keys ORDER BY domain, created_at, id")
        : this.#db.all<KeyRow>("SELECT * FROM dkim_keys WHERE domain = ? ORDER BY created_at, id", domain.toLowerCase());
    return rows.map(toKey);
  }

  /** The active keys of a domain (what signs). */
  active(domain: string): DkimKey[] {
    return this.#db.all<KeyRow>("SELECT * FROM dkim_keys WHERE domain = ? AND state = 'active' ORDER BY algorithm", domain.toLowerCase()).map(toKey);
  }

  /**
   * Writes a domain's key list as decided by dkim-keys.ts: inserts new selectors, updates the
   * state and timestamps of existing ones, in one transaction (an activation and the retiring
   * of the previous key are never seen apart).
   */
  save(keys: readonly DkimKey[]): void {
    this.#db.db.exec("BEGIN IMMEDIATE");
    try {
      for (const k of keys) {
        this.#db.run(
          `INSERT INTO dkim_keys (domain, selector, algorithm, private_key_pem, public_key, state, created_at, published_at, activated_at, retiring_at, retired_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (domain, selector) DO UPDATE SET state = excluded.state, private_key_pem = excluded.private_key_pem,
             published_at = excluded.published_at, activated_at = excluded.activated_at,
             retiring_at = excluded.retiring_at, retired_at = excluded.retired_at`,
          k.domain,
          k.selector,
          k.type,
          k.privateKeyPem,
          k.publicKey,
          k.state,
          k.createdAt,
          k.publishedAt ?? null,
          k.activatedAt ?? null,
          k.retiringAt ?? null,
          k.retiredAt ?? null,
        );
      }
      this.#db.db.exec("COMMIT");
    } catch (e) {
      this.#db.db.exec("ROLLBACK");
      throw e;
    }
  }

  /** Forget a removed domain's keys. */
  removeDomain(domain: string): number {
    return this.#db.run("DELETE FROM dkim_keys WHERE domain = ?", domain.toLowerCase()).changes;
  }
}

export interface QueueSubmissionParams {
  /** RFC 6152 / RFC 3030 BODY= as declared ("7BIT", "8BITMIME", "BINARYMIME"), or null. */
  body: string | null;
  /** RFC 6531: the message needs SMTPUTF8 from every next hop. */
  smtputf8: boolean;
}

/** queue_messages.body and .smtputf8 (written right after the entry is committed). */
export class SqliteQueueParams {
  #db: SqliteDb;
  constructor(db: SqliteDb) {
    this.#db = db;
  }

  set(queueIds: readonly number[], p: QueueSubmissionParams): void {
    for (const id of queueIds) this.#db.run("UPDATE queue_messages SET body = ?, smtputf8 = ? WHERE id = ?", p.body, p.smtputf8 ? 1 : 0, id);
  }

  get(queueId: number): QueueSubmissionParams | null {
    const r = this.#db.get<{ body: string | null; smtputf8: number }>("SELECT body, smtputf8 FROM queue_messages WHERE id = ?", queueId);
    return r ? { body: r.body, smtputf8: r.smtputf8 === 1 } : null;
  }
}
