// The watcher's store (tables of migration-health.ts) on the side connection to meta.sqlite
// (src/store/sqlite/dkim.ts openSideDb). Every call is one short synchronous statement or
// transaction, never held across an await.
import type { SqliteDb } from "../../store/sqlite/db.ts";
import type { CheckStatus } from "../identity.ts";
import type { CheckTrack } from "./transitions.ts";

export interface HistoryRow {
  at: number;
  checkId: string;
  status: CheckStatus;
  message: string;
}

export interface RouteState {
  mode: "direct" | "relay";
  relay: string | null;
  since: number;
  /** Consecutive runs (and receiver replies) that saw a listing. */
  listedRuns: number;
  /** Consecutive clean blocklist runs while on the relay. */
  cleanRuns: number;
  reason: string | null;
  /** The latest receiver reply naming a blocklisting (reply-patterns.ts), and when. */
  lastRefusal: string | null;
  lastRefusalAt: number | null;
}

export const INITIAL_ROUTE: RouteState = { mode: "direct", relay: null, since: 0, listedRuns: 0, cleanRuns: 0, reason: null, lastRefusal: null, lastRefusalAt: null };

export class WatchStore {
  #db: SqliteDb;
  constructor(db: SqliteDb) {
    this.#db = db;
  }

  /** Appends one run's results and the new tracks in one transaction. */
  record(at: number, rows: Array<{ checkId: string; status: CheckStatus; message: string }>, tracks: Map<string, CheckTrack>): void {
    this.#db.atomic(() => {
      for (const r of rows) this.#db.run("INSERT INTO health_runs (at, check_id, status, message) VALUES (?, ?, ?, ?)", at, r.checkId, r.status, r.message);
      for (const [id, t] of tracks) {
        this.#db.run(
          "INSERT INTO health_tracks (check_id, confirmed, streak_status, streak, since) VALUES (?, ?, ?, ?, ?) ON CONFLICT (check_id) DO UPDATE SET confirmed = excluded.confirmed, streak_status = excluded.streak_status, streak = excluded.streak, since = excluded.since",
          id,
          t.confirmed,
          t.streakStatus,
          t.streak,
          t.since,
        );
      }
    });
  }

  tracks(): Map<string, CheckTrack> {
    const rows = this.#db.all<{ check_id: string; confirmed: CheckStatus | null; streak_status: CheckStatus; streak: number; since: number }>("SELECT * FROM health_tracks");
    return new Map(rows.map((r) => [r.check_id, { confirmed: r.confirmed, streakStatus: r.streak_status, streak: r.streak, since: r.since }]));
  }

  history(checkId?: string, limit = 1000): HistoryRow[] {
    const rows =
      checkId === undefined
        ? this.#db.all<{ at: number; check_id: string; status: CheckStatus; message: string }>("SELECT at, check_id, status, message FROM health_runs ORDER BY id DESC LIMIT ?", limit)
        : this.#db.all<{ at: number; check_id: string; status: CheckStatus; message: string }>("SELECT at, check_id, status, message FROM health_runs WHERE check_id = ? ORDER BY id DESC LIMIT ?", checkId, limit);
    return rows.map((r) => ({ at: r.at, checkId: r.check_id, status: r.status, message: r.message }));
  }

  /** Drops history older than `before` (ms); returns the rows removed. */
  prune(before: number): number {
    return this.#db.run("DELETE FROM health_runs WHERE at < ?", before).changes;
  }

  route(): RouteState {
    const r = this.#db.get<{ mode: "direct" | "relay"; relay: string | null; since: number; listed_runs: number; clean_runs: number; reason: string | null; last_refusal: string | null; last_refusal_at: number | null }>(
      "SELECT * FROM health_route WHERE id = 1",
    );
    return r
      ? { mode: r.mode, relay: r.relay, since: r.since, listedRuns: r.listed_runs, cleanRuns: r.clean_runs, reason: r.reason, lastRefusal: r.last_refusal, lastRefusalAt: r.last_refusal_at }
      : { ...INITIAL_ROUTE };
  }

  saveRoute(s: RouteState): void {
    this.#db.run(
      "INSERT INTO health_route (id, mode, relay, since, listed_runs, clean_runs, reason, last_refusal, last_refusal_at) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET mode = excluded.mode, relay = excluded.relay, since = excluded.since, listed_runs = excluded.listed_runs, clean_runs = excluded.clean_runs, reason = excluded.reason, last_refusal = excluded.last_refusal, last_refusal_at = excluded.last_refusal_at",
      s.mode,
      s.relay,
      s.since,
      s.listedRuns,
      s.cleanRuns,
      s.reason,
      s.lastRefusal,
      s.lastRefusalAt,
    );
  }
}
