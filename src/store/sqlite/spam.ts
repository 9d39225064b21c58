// The spam filter's tables in <dataDir>/spam.sqlite (migration-spam.ts): each call is one
// statement or one synchronous transaction, never a lock held across an await.
import { join } from "node:path";
import type { Clock } from "../../clock.ts";
import { systemClock } from "../../clock.ts";
import { SqliteDb } from "./db.ts";
import { migrate } from "./migrations.ts";
import { SPAM_MIGRATIONS } from "./migration-spam.ts";
import type { ClassifierTotals, TokenCounts } from "../../spam/bayes.ts";
import { decay } from "../../spam/repo.ts";
import type { RepKind, RepUpdate, Reputation, SpamRepo } from "../../spam/repo.ts";

/** Opens (creating and migrating) <dataDir>/spam.sqlite. */
export function openSpamDb(dataDir: string, opts: { clock?: Clock } = {}): SqliteDb {
  const db = new SqliteDb(join(dataDir, "spam.sqlite"));
  migrate(db.db, (opts.clock ?? systemClock).now(), SPAM_MIGRATIONS);
  return db;
}

/** Token hashes per IN (...) query (SQLite's default limit on variables is 32766). */
const CHUNK = 500;

export class SqliteSpamRepo implements SpamRepo {
  #db: SqliteDb;
  constructor(db: SqliteDb) {
    this.#db = db;
  }

  totals(userId: number): Promise<ClassifierTotals & { bootstrappedAt: number | null }> {
    return this.#db.call(() => {
      const r = this.#db.get<{ ham: number; spam: number; bootstrapped_at: number | null }>(
        "SELECT ham, spam, bootstrapped_at FROM spam_accounts WHERE user_id = ?",
        userId,
      );
      return { ham: r?.ham ?? 0, spam: r?.spam ?? 0, bootstrappedAt: r?.bootstrapped_at ?? null };
    });
  }

  tokenCounts(userId: number, hashes: readonly number[]): Promise<Map<number, TokenCounts>> {
    return this.#db.call(() => {
      const out = new Map<number, TokenCounts>();
      for (let i = 0; i < hashes.length; i += CHUNK) {
        const part = hashes.slice(i, i + CHUNK);
        const rows = this.#db.all<{ token: number; ham: number; spam: number }>(
          `SELECT token, ham, spam FROM spam_tokens WHERE user_id = ? AND token IN (${part.map(() => "?").join(",")})`,
          userId,
          ...part,
        );
        for (const r of rows) out.set(r.token, { ham: r.ham, spam: r.spam });
      }
      return out;
    });
  }

  trainedClass(userId: number, blobId: number): Promise<"ham" | "spam" | null> {
    return this.#db.call(() => this.#db.get<{ class: "ham" | "spam" }>("SELECT class FROM spam_trained WHERE user_id = ? AND blob_id = ?", userId, blobId)?.class ?? null);
  }

  train(userId: number, blobId: number, cls: "ham" | "spam" | null, hashes: readonly number[], now: number): Promise<boolean> {
    return this.#db.call(() =>
      this.#db.atomic(() => {
        const db = this.#db;
        const prev = db.get<{ class: "ham" | "spam" }>("SELECT class FROM spam_trained WHERE user_id = ? AND blob_id = ?", userId, blobId)?.class ?? null;
        if (prev === cls) return false;
        db.run("INSERT INTO spam_accounts (user_id) VALUES (?) ON CONFLICT (user_id) DO NOTHING", userId);
        if (prev) {
          db.run(`UPDATE spam_accounts SET ${prev} = max(0, ${prev} - 1) WHERE user_id = ?`, userId);
          for (const h of hashes) db.run(`UPDATE spam_tokens SET ${prev} = max(0, ${prev} - 1) WHERE user_id = ? AND token = ?`, userId, h);
          for (let i = 0; i < hashes.length; i += CHUNK) {
            const part = hashes.slice(i, i + CHUNK);
            db.run(`DELETE FROM spam_tokens WHERE user_id = ? AND ham = 0 AND spam = 0 AND token IN (${part.map(() => "?").join(",")})`, userId, ...part);
          }
        }
        if (cls) {
          db.run(`UPDATE spam_accounts SET ${cls} = ${cls} + 1 WHERE user_id = ?`, userId);
          for (const h of hashes) {
            db.run(`INSERT INTO spam_tokens (user_id, token, ${cls}) VALUES (?, ?, 1) ON CONFLICT (user_id, token) DO UPDATE SET ${cls} = ${cls} + 1`, userId, h);
          }
          db.run(
            "INSERT INTO spam_trained (user_id, blob_id, class, at) VALUES (?, ?, ?, ?) ON CONFLICT (user_id, blob_id) DO UPDATE SET class = excluded.class, at = excluded.at",
            userId, blobId, cls, now,
          );
        } else {
          db.run("DELETE FROM spam_trained WHERE user_id = ? AND blob_id = ?", userId, blobId);
        }
        return true;
      }),
    );
  }

  markBootstrapped(userId: number, at: number): Promise<void> {
    return this.#db.call(() => {
      this.#db.atomic(() => {
        this.#db.run("INSERT INTO spam_accounts (user_id, bootstrapped_at) VALUES (?1, ?2) ON CONFLICT (user_id) DO UPDATE SET bootstrapped_at = ?2", userId, at);
      });
    });
  }

  reputation(userId: number, kind: RepKind, key: string, now: number, halfLifeMs: number): Promise<Reputation | null> {
    return this.#db.call(() => {
      const r = this.#db.get<Reputation & { updated_at: number }>(
        "SELECT seen, ham, spam, wrote, updated_at FROM spam_reputation WHERE user_id = ? AND kind = ? AND key = ?",
        userId, kind, key,
      );
      if (!r) return null;
      const age = now - r.updated_at;
      return { seen: decay(r.seen, age, halfLifeMs), ham: decay(r.ham, age, halfLifeMs), spam: decay(r.spam, age, halfLifeMs), wrote: decay(r.wrote, age, halfLifeMs) };
    });
  }

  updateReputation(userId: number, updates: readonly RepUpdate[], now: number, halfLifeMs: number): Promise<void> {
    return this.#db.call(() => {
      this.#db.atomic(() => {
        for (const u of updates) {
          const r = this.#db.get<Reputation & { updated_at: number }>(
            "SELECT seen, ham, spam, wrote, updated_at FROM spam_reputation WHERE user_id = ? AND kind = ? AND key = ?",
            userId, u.kind, u.key,
          );
          const age = r ? now - r.updated_at : 0;
          const v = (old: number | undefined, d: number | undefined) => Math.max(0, decay(old ?? 0, age, halfLifeMs) + (d ?? 0));
          this.#db.run(
            `INSERT INTO spam_reputation (user_id, kind, key, seen, ham, spam, wrote, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (user_id, kind, key) DO UPDATE SET seen = ?4, ham = ?5, spam = ?6, wrote = ?7, updated_at = ?8`,
            userId, u.kind, u.key, v(r?.seen, u.seen), v(r?.ham, u.ham), v(r?.spam, u.spam), v(r?.wrote, u.wrote), now,
          );
        }
      });
    });
  }

  count(userId: number, name: string, by = 1): Promise<void> {
    return this.#db.call(() => {
      this.#db.atomic(() => {
        this.#db.run(
          "INSERT INTO spam_counters (user_id, name, value) VALUES (?1, ?2, ?3) ON CONFLICT (user_id, name) DO UPDATE SET value = value + ?3",
          userId, name, by,
        );
      });
    });
  }

  counters(userId?: number): Promise<Array<{ userId: number; name: string; value: number }>> {
    return this.#db.call(() =>
      userId === undefined
        ? this.#db.all<{ userId: number; name: string; value: number }>("SELECT user_id AS userId, name, value FROM spam_counters ORDER BY user_id, name")
        : this.#db.all<{ userId: number; name: string; value: number }>("SELECT user_id AS userId, name, value FROM spam_counters WHERE user_id = ? ORDER BY name", userId),
    );
  }

  purgeUsersExcept(keep: readonly number[]): Promise<number> {
    return this.#db.call(() =>
      this.#db.atomic(() => {
        const ids = new Set(keep);
        let n = 0;
        for (const t of ["spam_accounts", "spam_tokens", "spam_trained", "spam_reputation", "spam_counters"]) {
          for (const { user_id } of this.#db.all<{ user_id: number }>(`SELECT DISTINCT user_id FROM ${t}`)) {
            if (!ids.has(user_id)) n += this.#db.run(`DELETE FROM ${t} WHERE user_id = ?`, user_id).changes;
          }
        }
        return n;
      }),
    );
  }

  tokenRows(userId?: number): Promise<Array<{ userId: number; tokens: number }>> {
    return this.#db.call(() =>
      userId === undefined
        ? this.#db.all<{ userId: number; tokens: number }>("SELECT user_id AS userId, count(*) AS tokens FROM spam_tokens GROUP BY user_id")
        : this.#db.all<{ userId: number; tokens: number }>("SELECT user_id AS userId, count(*) AS tokens FROM spam_tokens WHERE user_id = ? GROUP BY user_id", userId),
    );
  }
}
