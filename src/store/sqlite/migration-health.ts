// Migration: the watcher's check history, the confirmed state of each check and the relay switch
// (issue 8 §3–4; src/health/watch/). History rows older than watch.historyDays are pruned by the
// watcher after each run.
import type { Migration } from "./migrations.ts";

export const HEALTH_MIGRATION: Migration = {
  version: 70,
  name: "health watch history, check states and the route switch",
  sql: `
CREATE TABLE health_runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  check_id TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('ok', 'warn', 'fail', 'unknown')),
  message TEXT NOT NULL
);
CREATE INDEX health_runs_at ON health_runs (at);
CREATE INDEX health_runs_check ON health_runs (check_id, at);
CREATE TABLE health_tracks (
  check_id TEXT PRIMARY KEY,
  confirmed TEXT,
  streak_status TEXT NOT NULL,
  streak INTEGER NOT NULL,
  since INTEGER NOT NULL
);
-- One row: whether direct deliveries go through the blocklist relay now.
CREATE TABLE health_route (
  id INTEGER PRIMARY KEY AUTOINCREMENT CHECK (id = 1),
  mode TEXT NOT NULL CHECK (mode IN ('direct', 'relay')),
  relay TEXT,
  since INTEGER NOT NULL,
  listed_runs INTEGER NOT NULL,
  clean_runs INTEGER NOT NULL,
  reason TEXT,
  -- The latest receiver reply that named a blocklisting, with its time (shown by check).
  last_refusal TEXT,
  last_refusal_at INTEGER
);
`,
};
