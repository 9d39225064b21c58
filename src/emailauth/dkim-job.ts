// The DKIM rotation job of the serve process: every interval, `check` each domain that has a key
// able to move on (a new key waiting for its record, a published key to activate, a retiring key
// whose 7 days are up), so rotations finish without the operator running `freehold dkim check`.
import type { Logger } from "../log/logger.ts";
import type { DkimService, TxtLookup } from "./dkim-service.ts";

export const DKIM_JOB_INTERVAL_MS = 3_600_000;

export function startDkimJob(deps: { dkim: DkimService; txt: TxtLookup; logger: Logger; intervalMs?: number }): { stop(): void; runOnce(): Promise<void> } {
  let running = false;
  const runOnce = async () => {
    if (running) return;
    running = true;
    try {
      const domains = new Set(deps.dkim.list().filter((k) => k.state === "new" || k.state === "published" || k.state === "retiring").map((k) => k.domain));
      for (const domain of domains) {
        const steps = await deps.dkim.check(domain, deps.txt);
        const moved = steps.filter((s) => s.outcome !== "not-live" && s.outcome !== "lookup-failed");
        if (moved.length > 0) deps.logger.info({ domain, steps: moved }, "DKIM keys advanced");
      }
    } catch (err) {
      deps.logger.error({ err }, "DKIM rotation job failed");
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void runOnce(), deps.intervalMs ?? DKIM_JOB_INTERVAL_MS);
  timer.unref();
  // Once at start as well, so a record published while the server was down is picked up.
  const first = setTimeout(() => void runOnce(), 1000);
  first.unref();
  return {
    stop: () => {
      clearInterval(timer);
      clearTimeout(first);
    },
    runOnce,
  };
}
