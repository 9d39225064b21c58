// The import checkpoint (src/migrate/): which source messages have been imported into which
// account folder, so a re-run adds nothing and an interrupted run resumes. Its own database
// file, <dataDir>/import.sqlite, so it needs no migration of meta.sqlite and can be deleted to
// forget past imports. Each key goes "pending" before its delivery and "done" after it; a
// pending key found at start-up is resolved against the folder's newest message (see
// src/migrate/import.ts).
import { join } from "node:path";
import { SqliteDb } from "./db.ts";

export interface CheckpointKey {
  userId: number;
  /** The source folder, e.g. "mbox:INBOX" or "imap://host/INBOX". */
  scope: string;
  key: string;
}

export class ImportCheckpoint {
  #db: SqliteDb;
  constructor(dataDir: string) {
    this.#db = new SqliteDb(join(dataDir, "import.sqlite"));
    // WAL with synchronous=NORMAL: a commit survives the process being killed (what resuming
    // needs), not a power cut, after which at most the last few messages are imported twice.
    this.#db.db.exec("PRAGMA synchronous = NORMAL");
    this.#db.db.exec(`
      CREATE TABLE IF NOT EXISTS import_seen (
        user_id INTEGER NOT NULL, scope TEXT NOT NULL, key TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending','done')),
        mailbox_id INTEGER, sha256 TEXT,
        PRIMARY KEY (user_id, scope, key)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS import_imap (
        user_id INTEGER NOT NULL, source TEXT NOT NULL, folder TEXT NOT NULL,
        uid_validity INTEGER NOT NULL, last_uid INTEGER NOT NULL,
        PRIMARY KEY (user_id, source, folder)) WITHOUT ROWID;`);
  }

  state(k: CheckpointKey): "pending" | "done" | null {
    return this.#db.get<{ state: "pending" | "done" }>("SELECT state FROM import_seen WHERE user_id = ? AND scope = ? AND key = ?", k.userId, k.scope, k.key)?.state ?? null;
  }

  async mark(k: CheckpointKey, state: "pending" | "done", mailboxId: number, sha256: string): Promise<void> {
    this.#db.atomic(() =>
      this.#db.run(
        "INSERT INTO import_seen (user_id, scope, key, state, mailbox_id, sha256) VALUES (?,?,?,?,?,?) ON CONFLICT (user_id, scope, key) DO UPDATE SET state = excluded.state, mailbox_id = excluded.mailbox_id, sha256 = excluded.sha256",
        k.userId, k.scope, k.key, state, mailboxId, sha256,
      ),
    );
    await this.#db.committed();
  }

  /** mark() for many keys in one commit. */
  async markMany(ks: Array<CheckpointKey & { mailboxId: number; sha256: string }>, state: "pending" | "done"): Promise<void> {
    this.#db.atomic(() => {
      for (const k of ks) {
        this.#db.run(
          "INSERT INTO import_seen (user_id, scope, key, state, mailbox_id, sha256) VALUES (?,?,?,?,?,?) ON CONFLICT (user_id, scope, key) DO UPDATE SET state = excluded.state, mailbox_id = excluded.mailbox_id, sha256 = excluded.sha256",
          k.userId, k.scope, k.key, state, k.mailboxId, k.sha256,
        );
      }
    });
    await this.#db.committed();
  }

  async forget(k: CheckpointKey): Promise<void> {
    this.#db.atomic(() => this.#db.run("DELETE FROM import_seen WHERE user_id = ? AND scope = ? AND key = ?", k.userId, k.scope, k.key));
    await this.#db.committed();
  }

  pending(userId: number): Array<CheckpointKey & { mailboxId: number; sha256: string }> {
    return this.#db
      .all<{ scope: string; key: string; mailbox_id: number; sha256: string }>("SELECT scope, key, mailbox_id, sha256 FROM import_seen WHERE user_id = ? AND state = 'pending'", userId)
      .map((r) => ({ userId, scope: r.scope, key: r.key, mailboxId: r.mailbox_id, sha256: r.sha256 }));
  }

  imapGet(userId: number, source: string, folder: string): { uidValidity: number; lastUid: number } | null {
    const r = this.#db.get<{ uid_validity: number; last_uid: number }>("SELECT uid_validity, last_uid FROM import_imap WHERE user_id = ? AND source = ? AND folder = ?", userId, source, folder);
    return r ? { uidValidity: r.uid_validity, lastUid: r.last_uid } : null;
  }

  async imapSet(userId: number, source: string, folder: string, uidValidity: number, lastUid: number): Promise<void> {
    this.#db.atomic(() =>
      this.#db.run(
        "INSERT INTO import_imap (user_id, source, folder, uid_validity, last_uid) VALUES (?,?,?,?,?) ON CONFLICT (user_id, source, folder) DO UPDATE SET uid_validity = excluded.uid_validity, last_uid = excluded.last_uid",
        userId, source, folder, uidValidity, lastUid,
      ),
    );
    await this.#db.committed();
  }

  close(): void {
    this.#db.close();
  }
}
