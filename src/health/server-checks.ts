// The checks of `freehold check` as a running server runs them: for serve's watcher and for the
// web's checks job, one definition. relays.yaml and its secrets are read at each run, so CLI
// edits apply without a restart; the complaint rate comes from the suppression service.
import type { Services } from "../server/services.ts";
import { loadRelayFile, loadRelaySecrets } from "../delivery/relays.ts";
import { runChecks } from "./check.ts";
import type { CheckOptions } from "./check.ts";
import { checkDeps } from "./service.ts";
import type { CheckReport } from "./types.ts";

export function serverChecks(services: Services): (o: CheckOptions) => Promise<CheckReport> {
  return async (o) => {
    const config = services.config;
    const deps = checkDeps({
      config,
      store: services.storage.store,
      accounts: services.accounts,
      dkim: services.dkim,
      relays: await loadRelayFile(config.dataDir),
      secrets: await loadRelaySecrets(config.dataDir),
      clock: services.clock,
      complaintStats: (days) => services.suppression.complaintStats(days),
    });
    try {
      return await runChecks(deps, o);
    } finally {
      deps.close();
    }
  };
}
