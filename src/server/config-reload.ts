// SIGHUP (issue 12 §2): re-read freehold.yaml and apply what can change while serving, without
// dropping a connection; everything else is logged as needing a restart (it is not applied).
//
// Live on SIGHUP:
// - the certificate files (tls/reload.ts re-reads tls.cert/tls.key and tls.sni pairs);
// - the acme section (directory, contact, CA file, renewal fraction), and the names of the
//   ACME certificate: a domain added since the last order gets its mta-sts./autoconfig. names
//   (the manager checks at once);
// - domains, users, aliases, relays: they live in the database and relays.yaml, read per use
//   anyway.
// Needs a restart: every other key (listeners, limits, storage, log, watch, ...).
import { isDeepStrictEqual } from "node:util";
import type { Config } from "../config/schema.ts";
import { loadConfig } from "../config/load.ts";
import type { Logger } from "../log/logger.ts";
import type { AcmeManager } from "../acme/manager.ts";

/** Top-level keys a SIGHUP applies. */
export const LIVE_KEYS = ["acme"] as const;

export interface ConfigReloadResult {
  applied: string[];
  restartNeeded: string[];
}

/** Compares the file with the running config, applies the live keys into `running`, and names the rest. */
export function applyConfig(running: Config, next: Config): ConfigReloadResult {
  const applied: string[] = [];
  const restartNeeded: string[] = [];
  const keys = new Set([...Object.keys(running), ...Object.keys(next)]);
  for (const k of [...keys].sort()) {
    const a = (running as unknown as Record<string, unknown>)[k];
    const b = (next as unknown as Record<string, unknown>)[k];
    if (isDeepStrictEqual(a, b)) continue;
    if ((LIVE_KEYS as readonly string[]).includes(k) && a && b && typeof a === "object") {
      Object.assign(a, b);
      applied.push(k);
    } else restartNeeded.push(k);
  }
  return { applied, restartNeeded };
}

/** What `freehold serve` does on SIGHUP (besides the certificate reload, tls/reload.ts). */
export async function reloadOnHup(opts: { running: Config; logger: Logger; acme: AcmeManager | null }): Promise<ConfigReloadResult | null> {
  const { running, logger } = opts;
  let next: Config;
  try {
    next = await loadConfig(running.dataDir);
  } catch (err) {
    logger.error({ err: (err as Error).message }, "SIGHUP: freehold.yaml does not load; the running configuration stays");
    return null;
  }
  const r = applyConfig(running, next);
  logger.info({ applied: r.applied, restartNeeded: r.restartNeeded }, "SIGHUP: configuration reloaded");
  if (r.restartNeeded.length > 0) logger.warn({ keys: r.restartNeeded }, "SIGHUP: these settings changed but need a restart to apply");
  // New domains or acme settings: order at once if the names changed (the manager decides).
  if (opts.acme) void opts.acme.check().catch((err) => logger.error({ err }, "acme check after SIGHUP failed"));
  return r;
}
