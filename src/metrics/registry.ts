// The Prometheus metrics (issue 8 §5; docs/metrics.md lists every name and label, and
// metrics.test.ts checks that list against the output). One registry per server process, built
// by the composition root and passed down: no module-level state (STYLE.md §4), so tests build
// their own.
//
// Counters are incremented by hooks the composition root wires (queue runner outcomes, SMTP
// refusals, logins); gauges are read at scrape time from their sources (the queue in the store,
// the watcher's last results, IMAP connection counts, file sizes).
import fs from "node:fs/promises";
import path from "node:path";
import { Counter, Gauge, Registry } from "prom-client";
import type { Clock } from "../clock.ts";
import type { MetadataStore, QueueRecipientState } from "../store/types.ts";
import type { CheckStatus } from "../health/identity.ts";

export const CHECK_STATUSES: readonly CheckStatus[] = ["ok", "warn", "fail", "unknown"];
export const QUEUE_STATES: readonly QueueRecipientState[] = ["pending", "delivered", "failed"];

export interface MetricsSources {
  store: Pick<MetadataStore, "queue">;
  clock: Clock;
  dataDir: string;
  /** Open IMAP connections (imap and imaps). */
  imapSessions?: () => number;
}

interface QueueFigures {
  counts: Record<QueueRecipientState, number>;
  oldest: Record<QueueRecipientState, number | null>;
}

export class Metrics {
  readonly registry = new Registry();
  #src: MetricsSources;
  #checks = new Map<string, { status: CheckStatus; group: string }>();
  #blobBytes: { at: number; value: number } | null = null;
  #imapCounters = new Set<() => number>();
  #queueRead: { settled: boolean; p: Promise<QueueFigures> } | null = null;

  readonly deliveries: Counter<"route">;
  readonly bounces: Counter<"route">;
  readonly deferrals: Counter<"route">;
  readonly smtpRejections: Counter<"reason" | "role">;
  readonly logins: Counter<"protocol" | "result">;

  constructor(src: MetricsSources) {
    this.#src = src;
    const registers = [this.registry];
    this.deliveries = new Counter({ name: "freehold_deliveries_total", help: "Recipients delivered by the queue, by route (direct, local, a relay name).", labelNames: ["route"], registers });
    this.bounces = new Counter({ name: "freehold_bounces_total", help: "Recipients that failed for good (bounced or expired), by route.", labelNames: ["route"], registers });
    this.deferrals = new Counter({ name: "freehold_deferrals_total", help: "Temporary delivery failures (retried later), by route.", labelNames: ["route"], registers });
    this.smtpRejections = new Counter({ name: "freehold_smtp_rejections_total", help: "SMTP replies refusing a command, by reason (error catalogue code) and listener role.", labelNames: ["reason", "role"], registers });
    this.logins = new Counter({ name: "freehold_logins_total", help: "Login attempts by protocol (imap, smtp) and result (ok, failed, limited).", labelNames: ["protocol", "result"], registers });

    const self = this;
    new Gauge({
      name: "freehold_queue_recipients",
      help: "Recipients in the outbound queue, by state.",
      labelNames: ["state"],
      registers,
      async collect() {
        const { counts } = await self.#queue();
        for (const s of QUEUE_STATES) this.set({ state: s }, counts[s]);
      },
    });
    new Gauge({
      name: "freehold_queue_oldest_age_seconds",
      help: "Age of the oldest queued message with a recipient in that state (0 when none).",
      labelNames: ["state"],
      registers,
      async collect() {
        const { oldest } = await self.#queue();
        const now = self.#src.clock.now();
        for (const s of QUEUE_STATES) this.set({ state: s }, oldest[s] === null ? 0 : Math.max(0, (now - oldest[s]!) / 1000));
      },
    });
    new Gauge({
      name: "freehold_check_status",
      help: "1 for the current status of each health check (check id, group), 0 for the other statuses.",
      labelNames: ["check", "group", "status"],
      registers,
      collect() {
        this.reset();
        for (const [check, c] of self.#checks) for (const s of CHECK_STATUSES) this.set({ check, group: c.group, status: s }, c.status === s ? 1 : 0);
      },
    });
    new Gauge({
      name: "freehold_checks",
      help: "Health checks by current status.",
      labelNames: ["status"],
      registers,
      collect() {
        for (const s of CHECK_STATUSES) this.set({ status: s }, [...self.#checks.values()].filter((c) => c.status === s).length);
      },
    });
    new Gauge({
      name: "freehold_imap_sessions",
      help: "Open IMAP connections.",
      registers,
      collect() {
        let n = self.#src.imapSessions?.() ?? 0;
        for (const f of self.#imapCounters) n += f();
        this.set(n);
      },
    });
    new Gauge({
      name: "freehold_store_bytes",
      help: "Bytes on disk in the data folder: part=database (SQLite files), part=blobs (message files, counted at most every 5 minutes).",
      labelNames: ["part"],
      registers,
      async collect() {
        this.set({ part: "database" }, await self.#databaseBytes());
        this.set({ part: "blobs" }, await self.#blobs());
      },
    });
  }

  /** Adds an IMAP listener's connection count; returns its removal. */
  countImapSessions(fn: () => number): () => void {
    this.#imapCounters.add(fn);
    return () => this.#imapCounters.delete(fn);
  }

  /** Wraps an authenticate function so every attempt is counted for `protocol`. */
  countedLogin<A extends unknown[], R extends { ok: boolean; reason?: string }>(protocol: string, fn: (...a: A) => Promise<R>): (...a: A) => Promise<R> {
    return async (...a: A) => {
      const r = await fn(...a);
      this.logins.inc({ protocol, result: r.ok ? "ok" : (r.reason ?? "failed") });
      return r;
    };
  }

  /** The watcher's results of a run (watcher.ts onResults). */
  checkResults(results: ReadonlyArray<{ id: string; status: CheckStatus; group?: string }>): void {
    for (const r of results) this.#checks.set(r.id, { status: r.status, group: r.group ?? r.id.split(".")[0] });
  }

  /** The queue runner's onOutcome. */
  outcome(o: { kind: "delivered" | "bounced" | "deferred"; route: string }): void {
    (o.kind === "delivered" ? this.deliveries : o.kind === "bounced" ? this.bounces : this.deferrals).inc({ route: o.route });
  }

  /** The exposition text (what GET /metrics answers; the web server may serve it too). */
  renderMetrics(): Promise<string> {
    return this.registry.metrics();
  }

  render(): Promise<string> {
    return this.renderMetrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The queue gauges of one scrape (collected concurrently) share one read of the queue. */
  #queue(): Promise<QueueFigures> {
    if (!this.#queueRead || this.#queueRead.settled) {
      const read = { settled: false, p: this.#readQueue() };
      read.p.finally(() => setTimeout(() => (read.settled = true), 0).unref()).catch(() => undefined);
      this.#queueRead = read;
    }
    return this.#queueRead.p;
  }

  async #readQueue(): Promise<QueueFigures> {
    const counts = { pending: 0, delivered: 0, failed: 0 } as Record<QueueRecipientState, number>;
    const oldest = { pending: null, delivered: null, failed: null } as Record<QueueRecipientState, number | null>;
    for (const q of await this.#src.store.queue.list()) {
      for (const r of q.recipients) {
        counts[r.state] = (counts[r.state] ?? 0) + 1;
        const o = oldest[r.state];
        if (o === null || o === undefined || q.createdAt < o) oldest[r.state] = q.createdAt;
      }
    }
    return { counts, oldest };
  }

  async #databaseBytes(): Promise<number> {
    let total = 0;
    for (const name of await fs.readdir(this.#src.dataDir).catch(() => [] as string[])) {
      if (!/\.sqlite(-wal|-shm)?$/.test(name)) continue;
      total += (await fs.stat(path.join(this.#src.dataDir, name)).catch(() => ({ size: 0 }))).size;
    }
    return total;
  }

  async #blobs(): Promise<number> {
    const now = this.#src.clock.now();
    if (this.#blobBytes && now - this.#blobBytes.at < 300_000) return this.#blobBytes.value;
    const value = await dirBytes(path.join(this.#src.dataDir, "blobs"));
    this.#blobBytes = { at: now, value };
    return value;
  }
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await dirBytes(p);
    else if (e.isFile()) total += (await fs.stat(p).catch(() => ({ size: 0 }))).size;
  }
  return total;
}
