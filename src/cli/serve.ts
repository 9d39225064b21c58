// `freehold serve [--dev]`: run the server until SIGTERM/SIGINT. `npm start` runs
// `freehold serve --dev`: data in .freehold-dev/ (created on first run), loopback listeners on
// high ports, self-signed certificate, demo domain, and the demo and admin logins printed on
// every start (their passwords live in 0600 files in the data folder).
import path from "node:path";
import type { Command } from "commander";
import { loadConfig } from "../config/load.ts";
import { ensureDevSetup } from "./dev-setup.ts";
import { openServices } from "../server/services.ts";
import { startServer } from "../server/run.ts";
import { serverChecks } from "../health/server-checks.ts";
import { protocolStarters } from "../server/starters.ts";
import type { RunningServer } from "../server/run.ts";
import { installLastResort } from "../server/last-resort.ts";
import { reloadOnHup } from "../server/config-reload.ts";
import { productionProblems } from "../server/production.ts";
import { CliError } from "./context.ts";

/** After a fatal error, open SMTP sessions get this long to finish before they are cut. */
const FATAL_GRACE_MS = 2000;

/** SIGTERM: open sessions get this long to finish (in-flight DATA), then are cut. */
const DRAIN_GRACE_MS = 10_000;
/** SIGTERM: the process is gone by then, whatever hangs. */
const DRAIN_BOUND_MS = 30_000;

export const DEV_DATA_DIR = ".freehold-dev";

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("run the server (all listeners from freehold.yaml)")
    .option("--dev", "development mode: .freehold-dev, loopback listeners, demo logins")
    .action(async (opts: { dev?: boolean }, cmd: Command) => {
      const global = cmd.optsWithGlobals() as { data?: string };
      const given = global.data ?? process.env.FREEHOLD_DATA;
      let dataDir: string;
      let logins: string[] = [];
      if (opts.dev) {
        dataDir = path.resolve(given ?? DEV_DATA_DIR);
        const dev = await ensureDevSetup(dataDir, { warn: (l) => process.stderr.write(l + "\n") });
        logins = [
          `Demo login: ${dev.demo.address} password: ${dev.demo.password}`,
          `Admin login: ${dev.admin.address} password: ${dev.admin.password}`,
        ];
      } else {
        if (!given) throw new Error("no data folder: pass --data DIR or set FREEHOLD_DATA (or use --dev)");
        dataDir = path.resolve(given);
      }
      const config = await loadConfig(dataDir);
      const refused = await productionProblems(config);
      if (refused.length > 0) throw new CliError(`refusing to start a production server:\n  ${refused.join("\n  ")}`);
      const services = await openServices(config);
      // The last line (server/last-resort.ts): an error that escaped every handler is logged at
      // fatal, listeners and storage are closed in order, and the process exits 70.
      let server: RunningServer | null = null;
      const removeLastResort = installLastResort({
        logger: services.logger,
        shutdown: async () => {
          if (server) return server.stop({ graceMs: FATAL_GRACE_MS });
          // Still starting: no listener is up yet; close what is open.
          await services.storage.close();
          services.closeSideDb?.();
          services.resolver.cancel();
          await services.dataLock?.release();
        },
      });
      server = await startServer(services, {
        starters: protocolStarters(),
        // The watcher (src/health/watch/) runs the checks of `freehold check` on its schedule.
        runChecks: serverChecks(services),
      });
      const running = server;
      for (const l of running.listeners) process.stdout.write(`listening: ${l.role} ${l.address}:${l.port}\n`);
      for (const line of logins) process.stdout.write(line + "\n");
      // Dev: the admin and the API on the http listener (production serves them on https only).
      const web = config.dev ? running.listeners.find((l) => l.role === "http") : undefined;
      if (web) process.stdout.write(`Web admin and API: http://localhost:${web.port}/ (API: /api/v1/openapi.json; log in with the admin login)\n`);
      if (config.dev) process.stdout.write(`Data folder: ${dataDir} (outbound mail is held in the queue)\n`);
      process.stdout.write("Freehold is ready.\n");
      // SIGHUP: configuration (src/server/config-reload.ts) and certificates (tls/reload.ts), live.
      const onHup = (): void => void reloadOnHup({ running: config, logger: services.logger, acme: running.acme });
      process.on("SIGHUP", onHup);
      await new Promise<void>((resolve) => {
        const stop = (sig: string) => {
          process.off("SIGHUP", onHup);
          services.logger.info({ signal: sig, graceMs: DRAIN_GRACE_MS }, "shutting down");
          // The bound: open SMTP sessions get 421 and DRAIN_GRACE_MS to finish (run.ts stop);
          // should closing hang past DRAIN_BOUND_MS, exit anyway rather than linger.
          setTimeout(() => {
            services.logger.error({ boundMs: DRAIN_BOUND_MS }, "shutdown did not finish in time; exiting");
            services.logger.flush?.();
            process.exit(1);
          }, DRAIN_BOUND_MS).unref();
          running.stop({ graceMs: DRAIN_GRACE_MS }).then(resolve, (err) => {
            services.logger.error({ err }, "shutdown failed");
            resolve();
          });
        };
        process.once("SIGTERM", () => stop("SIGTERM"));
        process.once("SIGINT", () => stop("SIGINT"));
      });
      removeLastResort();
      services.logger.flush?.();
    });
}
