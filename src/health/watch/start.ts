// Builds the watcher, the relay switch, the alert sinks and the metrics listener for
// `freehold serve` from the services (composition root helper, like queue/start.ts).
//
// The check function is injected: `freehold serve` passes src/health/check.ts runChecks; without
// one the watcher does not start (the switch still reacts to receivers' reputation replies).
import type { Services } from "../../server/services.ts";
import { MailAlerter, WebhookSender } from "./alerts.ts";
import type { Alert } from "./alerts.ts";
import { RouteSwitch } from "./relay-switch.ts";
import { Watcher } from "./watcher.ts";
import type { RunChecks } from "./watcher.ts";
import { DEFAULT_METRICS_LISTEN, startMetricsListener } from "../../metrics/listener.ts";
import type { MetricsListener } from "../../metrics/listener.ts";

export interface Watching {
  routeSwitch: RouteSwitch;
  watcher: Watcher | null;
  metricsListener: MetricsListener | null;
  /** Raises an alert through the watcher (or straight to the sinks when no watcher runs): the backup scheduler's (src/backup/alerts.ts), src/acme's. */
  alert(a: Alert): Promise<void>;
  /** Starts the schedule (after the queue runner is up). */
  start(): void;
  stop(): Promise<void>;
}

export async function createWatching(services: Services, opts: { runChecks?: RunChecks } = {}): Promise<Watching> {
  const { config, clock, storage } = services;
  const logger = services.logger.child({ component: "watch" });
  const webhooks = new WebhookSender(config.watch.webhooks, { clock, logger });
  const mail = new MailAlerter({
    store: storage.store,
    blobs: storage.blobs,
    writer: storage.writer,
    defaultQuotaBytes: config.quota.defaultBytes,
    clock,
    logger,
    hostname: config.hostname,
    mailboxes: config.watch.alertMailboxes,
  });
  const sinks = [mail, webhooks];
  let watcher: Watcher | null = null;
  const alert = async (a: Alert) => {
    if (watcher) return watcher.alert(a);
    for (const s of sinks) await s.send(a).catch((err) => logger.error({ err }, "alert sink failed"));
  };
  const routeSwitch = new RouteSwitch({
    store: services.watchStore,
    clock,
    logger,
    audit: storage.store.audit,
    config: { ...config.routing, confirmRuns: config.watch.confirmRuns },
    onSwitch: (from, to) =>
      alert({
        kind: "route",
        checkId: "relay.switch",
        status: to.mode,
        previous: from.mode,
        message: to.mode === "relay" ? `Outbound mail now goes through relay ${to.relay}: ${to.reason}` : `Outbound mail goes direct again: ${to.reason}`,
        at: clock.now(),
        hostname: config.hostname,
      }),
  });
  if (opts.runChecks && config.watch.enabled) {
    watcher = new Watcher({
      runChecks: opts.runChecks,
      clock,
      logger,
      store: services.watchStore,
      config: config.watch,
      hostname: config.hostname,
      sinks,
      flushers: [webhooks],
      routeSwitch,
      onResults: (r) => services.metrics.checkResults(r),
    });
  } else if (config.watch.enabled) {
    logger.info("no check function wired: scheduled checks are off in this build");
  }
  // metrics.listen, default on in dev mode only.
  const listen = config.metrics.listen ?? (config.dev ? DEFAULT_METRICS_LISTEN : undefined);
  let metricsListener: MetricsListener | null = null;
  if (listen) {
    try {
      metricsListener = await startMetricsListener(services.metrics, { listen, token: config.metrics.token, logger });
    } catch (err) {
      // The dev default may be taken (a second dev server); a configured address must work.
      if (config.metrics.listen) throw err;
      logger.warn({ err, listen }, "metrics listener not started");
    }
  }
  return {
    routeSwitch,
    watcher,
    metricsListener,
    alert,
    start: () => watcher?.start(60_000, config.watch.firstRunDelaySeconds * 1000),
    async stop() {
      await watcher?.stop();
      await metricsListener?.close();
    },
  };
}
