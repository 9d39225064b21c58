// The relay switch's state in words, for `freehold queue list` and `freehold check`.
import type { RouteState } from "./history.ts";

export interface RouteStatusConfig {
  onBlocklisted: "none" | "relay";
  blocklistRelay?: string;
  revertAfterCleanRuns: number;
}

export function routeStatusLine(s: RouteState, c: RouteStatusConfig): string {
  const line = routeLine(s, c);
  return s.lastRefusal && s.lastRefusalAt !== null ? `${line}\nLast reputation refusal (${new Date(s.lastRefusalAt).toISOString()}): ${s.lastRefusal}` : line;
}

function routeLine(s: RouteState, c: RouteStatusConfig): string {
  if (c.onBlocklisted !== "relay" || !c.blocklistRelay) return "Outbound route: direct (no relay switch configured: routing.onBlocklisted is none)";
  if (s.mode === "relay") {
    return `Outbound route: through relay ${s.relay ?? c.blocklistRelay} since ${new Date(s.since).toISOString()} (${s.reason ?? "listed"}); direct again after ${c.revertAfterCleanRuns} clean blocklist runs (${s.cleanRuns} so far)`;
  }
  return `Outbound route: direct; switches to relay ${c.blocklistRelay} when an outbound IP is confirmed listed${s.listedRuns > 0 ? ` (${s.listedRuns} listed run(s) or refusal(s) so far)` : ""}`;
}

/** The check result form, for h-health2's runChecks (group "relay"). */
export function routeCheckResult(s: RouteState, c: RouteStatusConfig): { id: string; status: "ok" | "warn"; message: string; group: string; fix?: string } {
  const message = routeStatusLine(s, c);
  if (s.mode === "relay") return { id: "relay.switch", status: "warn", group: "relay", message, fix: "see the blocklist results above: remove the cause of the listing and request delisting" };
  return { id: "relay.switch", status: "ok", group: "relay", message };
}
