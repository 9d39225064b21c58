// The relay switch (issue 8 §4): with routing.onBlocklisted: relay, once an outbound IP is
// confirmed listed (confirmRuns consecutive blocklist runs with a listing, none of them from a
// list we could not trust), new direct deliveries go through routing.blocklistRelay; after
// revertAfterCleanRuns clean runs direct delivery resumes. A receiver's reply that names a
// blocklisting (reply-patterns.ts) counts like a listed run.
//
// Deliveries already under way keep their route: the runner asks routeFor() when it groups a
// queue entry's recipients, so only groups formed after the switch take the relay.
//
// The state is one database row (history.ts), so a restart neither forgets a listing nor
// switches back early. Every switch is audited, logged and alerted (onSwitch).
import net from "node:net";
import type { Clock } from "../../clock.ts";
import type { Logger } from "../../log/logger.ts";
import type { AuditRepo } from "../../store/types.ts";
import type { CheckResult } from "../identity.ts";
import type { RouteState, WatchStore } from "./history.ts";

export interface RouteSwitchConfig {
  onBlocklisted: "none" | "relay";
  blocklistRelay?: string;
  revertAfterCleanRuns: number;
  /** Listed runs before switching (watch.confirmRuns). */
  confirmRuns: number;
}

export interface RouteSwitchDeps {
  store: WatchStore;
  config: RouteSwitchConfig;
  clock: Clock;
  logger: Logger;
  audit?: AuditRepo;
  onSwitch?: (from: RouteState, to: RouteState) => Promise<void> | void;
}

/** The subject of a blocklist result: its own field, else the id's tail after the zone. */
function blocklistSubject(r: CheckResult & { subject?: string }): string | undefined {
  if (r.subject) return r.subject;
  const m = /^blocklist\.(.+)$/.exec(r.id);
  if (!m) return undefined;
  // blocklist.<zone>.<subject>: the subject is an IP literal at the end.
  const parts = m[1].split(".");
  for (let i = 1; i < parts.length; i++) {
    const tail = parts.slice(i).join(".");
    if (net.isIP(tail)) return tail;
  }
  const v6 = m[1].slice(m[1].lastIndexOf(".") + 1);
  return net.isIPv6(v6) ? v6 : undefined;
}

export class RouteSwitch {
  #d: RouteSwitchDeps;
  #state: RouteState;
  #chain: Promise<void> = Promise.resolve();

  constructor(deps: RouteSwitchDeps) {
    this.#d = deps;
    this.#state = deps.store.route();
  }

  get enabled(): boolean {
    return this.#d.config.onBlocklisted === "relay" && !!this.#d.config.blocklistRelay;
  }

  state(): RouteState {
    return { ...this.#state };
  }

  /** The relay that takes direct deliveries now, or null for direct. */
  routeFor(): string | null {
    return this.enabled && this.#state.mode === "relay" ? this.#d.config.blocklistRelay! : null;
  }

  /** The relay a reputation refusal is retried through at once (whatever the switch state). */
  retryRelay(): string | null {
    return this.enabled ? this.#d.config.blocklistRelay! : null;
  }

  /** One blocklist run's results (ids blocklist.*). Only IP subjects move the switch. */
  afterBlocklistRun(results: readonly CheckResult[]): Promise<void> {
    const ipResults = results.filter((r) => r.id.startsWith("blocklist.") && net.isIP(blocklistSubject(r) ?? "") !== 0);
    if (ipResults.length === 0) return Promise.resolve();
    const listed = ipResults.filter((r) => r.status === "fail");
    const unknown = ipResults.some((r) => r.status === "unknown");
    if (listed.length > 0) return this.#listed(`listed: ${listed.map((r) => r.id).join(", ")}`);
    // An untrustworthy list is neither listed nor clean: the counts hold.
    if (unknown) return Promise.resolve();
    return this.#clean();
  }

  /** A receiver refused us for reputation; counts toward the listed state. */
  receiverReply(host: string | null, source: string, reply: string): Promise<void> {
    const what = `${host ?? "a receiver"} refused us (${source}): ${reply.slice(0, 300)}`;
    return this.#listed(what, { lastRefusal: what, lastRefusalAt: this.#d.clock.now() });
  }

  #listed(reason: string, extra: Partial<RouteState> = {}): Promise<void> {
    return this.#serial(async () => {
      const s = { ...this.#state, ...extra, listedRuns: this.#state.listedRuns + 1, cleanRuns: 0 };
      if (s.mode === "direct" && this.enabled && s.listedRuns >= this.#d.config.confirmRuns) {
        await this.#switch(s, { ...s, mode: "relay", relay: this.#d.config.blocklistRelay!, since: this.#d.clock.now(), reason });
        return;
      }
      this.#save(s);
    });
  }

  #clean(): Promise<void> {
    return this.#serial(async () => {
      const s = { ...this.#state, listedRuns: 0, cleanRuns: this.#state.mode === "relay" ? this.#state.cleanRuns + 1 : 0 };
      if (s.mode === "relay" && s.cleanRuns >= this.#d.config.revertAfterCleanRuns) {
        await this.#switch(s, { ...s, mode: "direct", relay: null, since: this.#d.clock.now(), cleanRuns: 0, reason: `${s.cleanRuns} clean blocklist runs` });
        return;
      }
      this.#save(s);
    });
  }

  async #switch(from: RouteState, to: RouteState): Promise<void> {
    this.#save(to);
    this.#d.logger.warn({ from: from.mode, to: to.mode, relay: to.relay ?? from.relay, reason: to.reason }, "outbound route switched");
    await this.#d.audit?.append({ actor: "health-watch", action: "route.switch", target: to.mode, detail: JSON.stringify({ relay: to.relay ?? from.relay, reason: to.reason }) });
    try {
      await this.#d.onSwitch?.(from, to);
    } catch (err) {
      this.#d.logger.error({ err }, "route switch alert failed");
    }
  }

  #save(s: RouteState): void {
    this.#state = s;
    this.#d.store.saveRoute(s);
  }

  /** Runs and receiver replies arrive concurrently; each read-modify-write runs alone. */
  #serial(fn: () => Promise<void>): Promise<void> {
    const p = this.#chain.then(fn);
    this.#chain = p.catch(() => undefined);
    return p;
  }
}
