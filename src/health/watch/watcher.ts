// The watcher inside `freehold serve` (issue 8 §3): runs the checks of `freehold check` on a
// schedule (blocklists every watch.blocklistIntervalSeconds, the rest every
// watch.otherIntervalSeconds), keeps every result in the database for watch.historyDays, and
// alerts when a check's confirmed state changes (transitions.ts). Blocklist runs also drive the
// relay switch (relay-switch.ts).
//
// The check function is injected (the shape of src/health/check.ts runChecks), and so is the
// clock: tick() does what is due at clock.now(); start() only calls tick() from a timer.
import type { Clock } from "../../clock.ts";
import type { Logger } from "../../log/logger.ts";
import type { CheckResult, CheckStatus } from "../identity.ts";
import type { Alert, AlertSink } from "./alerts.ts";
import type { WatchStore } from "./history.ts";
import type { RouteSwitch } from "./relay-switch.ts";
import { observe } from "./transitions.ts";
import type { CheckTrack } from "./transitions.ts";

export type WatchedResult = CheckResult & { subject?: string; group?: string };

export type RunChecks = (opts: { domain?: string; authoritative?: boolean; only?: string[] }) => Promise<{ startedAt: string; results: WatchedResult[] }>;

/** Groups the "other" schedule covers (issue 8 §2). */
export const OTHER_GROUPS = ["dns", "identity", "tls", "relay", "queue", "disk", "complaints"];

export interface WatcherConfig {
  blocklistIntervalSeconds: number;
  otherIntervalSeconds: number;
  confirmRuns: number;
  historyDays: number;
}

export interface WatcherDeps {
  runChecks: RunChecks;
  clock: Clock;
  logger: Logger;
  store: WatchStore;
  config: WatcherConfig;
  hostname: string;
  sinks: AlertSink[];
  /** Webhook outboxes to retry on every tick. */
  flushers?: Array<{ flush(): Promise<void> }>;
  routeSwitch?: RouteSwitch;
  /** Every run's results (metrics). */
  onResults?: (results: readonly WatchedResult[]) => void;
}

const groupOf = (r: WatchedResult): string => r.group ?? r.id.split(".")[0];

export class Watcher {
  #d: WatcherDeps;
  #last = { blocklist: -Infinity, other: -Infinity };
  #timer: NodeJS.Timeout | null = null;
  #ticking: Promise<void> | null = null;
  #stopped = true;

  constructor(deps: WatcherDeps) {
    this.#d = deps;
  }

  /** Runs what is due now; concurrent calls share one tick. */
  tick(): Promise<void> {
    this.#ticking ??= this.#tick().finally(() => (this.#ticking = null));
    return this.#ticking;
  }

  async #tick(): Promise<void> {
    const now = this.#d.clock.now();
    const c = this.#d.config;
    if (now - this.#last.blocklist >= c.blocklistIntervalSeconds * 1000) {
      this.#last.blocklist = now;
      await this.#run("blocklist", ["blocklist"]);
    }
    if (now - this.#last.other >= c.otherIntervalSeconds * 1000) {
      this.#last.other = now;
      await this.#run("other", OTHER_GROUPS);
    }
    for (const f of this.#d.flushers ?? []) await f.flush().catch((err) => this.#d.logger.error({ err }, "webhook flush failed"));
  }

  /** One run of one schedule: check, record, alert, switch. Returns the alerts sent. */
  async #run(schedule: "blocklist" | "other", groups: string[]): Promise<Alert[]> {
    const log = this.#d.logger;
    let results: WatchedResult[];
    try {
      // `only` names groups; results of other groups (a runChecks that ignores it) are dropped.
      results = (await this.#d.runChecks({ only: groups })).results.filter((r) => groups.includes(groupOf(r)));
    } catch (err) {
      log.error({ err, schedule }, "health checks failed to run");
      return [];
    }
    const now = this.#d.clock.now();
    const tracks = this.#d.store.tracks();
    const changed = new Map<string, CheckTrack>();
    const alerts: Alert[] = [];
    for (const r of results) {
      const { track, transition } = observe(tracks.get(r.id), r.status, this.#d.config.confirmRuns, now);
      changed.set(r.id, track);
      if (!transition) continue;
      const recovery = transition.to === "ok";
      alerts.push({
        kind: recovery ? "recovery" : "problem",
        checkId: r.id,
        status: transition.to,
        previous: transition.from,
        message: recovery ? `ok again: ${r.message}` : r.message,
        fix: recovery ? undefined : r.fix,
        at: now,
        hostname: this.#d.hostname,
      });
    }
    this.#d.store.record(now, results.map((r) => ({ checkId: r.id, status: r.status, message: r.message })), changed);
    this.#d.store.prune(now - this.#d.config.historyDays * 86_400_000);
    this.#d.onResults?.(results);
    log.info({ schedule, checks: results.length, counts: countByStatus(results), alerts: alerts.length }, "health checks ran");
    for (const a of alerts) await this.alert(a);
    if (schedule === "blocklist") await this.#d.routeSwitch?.afterBlocklistRun(results);
    return alerts;
  }

  /** Sends one alert to every sink; one failing sink does not stop the others. */
  async alert(a: Alert): Promise<void> {
    for (const s of this.#d.sinks) {
      try {
        await s.send(a);
      } catch (err) {
        this.#d.logger.error({ err, check: a.checkId }, "alert sink failed");
      }
    }
  }

  /**
   * Ticks every pollMs; the first after firstDelayMs (0 = at once). `serve` waits a while before
   * the first run: a server that just started (or restarts in a loop) is not checked while it is
   * still coming up, and short-lived servers never see their own TLS probes.
   */
  start(pollMs = 60_000, firstDelayMs = 0): void {
    this.#stopped = false;
    const loop = () => {
      if (this.#stopped) return;
      this.#timer = setTimeout(() => void this.tick().finally(loop), pollMs);
      this.#timer.unref();
    };
    if (firstDelayMs <= 0) {
      void this.tick().finally(loop);
      return;
    }
    this.#timer = setTimeout(() => void this.tick().finally(loop), firstDelayMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#ticking?.catch(() => undefined);
  }
}

function countByStatus(results: readonly WatchedResult[]): Record<CheckStatus, number> {
  const c: Record<CheckStatus, number> = { ok: 0, warn: 0, fail: 0, unknown: 0 };
  for (const r of results) c[r.status]++;
  return c;
}
