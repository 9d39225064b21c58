// `freehold serve`: start every listener in the config by role, and stop them in order.
// Roles whose protocol is not built yet are logged and skipped, never silently bound.
import type { Services } from "./services.ts";
import { SmtpServer } from "../smtp/server.ts";
import type { BoundListener, ListenerTls } from "../smtp/server.ts";
import { MxHandler } from "../mx/handler.ts";
import type { Listener } from "../config/schema.ts";
import { startQueueRunner } from "../queue/start.ts";
import { loadSrsKey } from "../queue/srs-key.ts";
import type { QueueRunner } from "../queue/runner.ts";
import { listenerLimits, smtpConnectionLimits, smtpFeaturesFromConfig, smtpLimitsFromConfig } from "./smtp-settings.ts";
import { faultInjectionEnabled, withInjectedFaults } from "./fault-injection.ts";
import { watchTlsFiles } from "../tls/reload.ts";
import { RetentionJob } from "../retention/service.ts";
import { FeedbackJob } from "../suppression/feedback-job.ts";
import { DsnJob } from "../suppression/dsn-job.ts";
import { createWatching } from "../health/watch/start.ts";
import type { Watching } from "../health/watch/start.ts";
import type { RunChecks } from "../health/watch/watcher.ts";
import { processCount, startProtocolProcesses } from "./processes.ts";
import type { ProtocolProcesses } from "./processes.ts";
import { BackupScheduler } from "../backup/scheduler.ts";
import { AcmeManager } from "../acme/manager.ts";
import { SYSTEM } from "../accounts/authz.ts";
import type { BackupResult } from "../backup/scheduler.ts";
import { BackupAlerts } from "../backup/alerts.ts";

export interface RunningServer {
  listeners: Array<{ role: string; address: string; port: number }>;
  /** The watcher, the relay switch and the metrics listener (src/health/watch/start.ts). */
  watching?: Watching;
  /** The protocol processes' pids (server.processes > 1; processes.ts), for logs and tests. */
  protocolPids(): number[];
  /**
   * RFC 5321 §3.8: open SMTP sessions get 421 4.3.2 (and `graceMs`, default 10 s, to finish);
   * then storage is closed.
   */
  stop(opts?: { graceMs?: number }): Promise<void>;
  /** The retention job (runs on its schedule; tests call runOnce()). */
  retention: RetentionJob;
  /** Scheduled backups (src/backup/), when backup.repository is set and backup.schedule is on. */
  backup: BackupScheduler | null;
  /** Certificates from ACME (src/acme/), when acme.enabled. */
  acme: AcmeManager | null;
}

export type ProtocolStarter = (services: Services, listener: Listener) => Promise<{ port: number; close(): Promise<void> }>;

export interface StartOptions {
  /** Listener roles served by other modules (imap, imaps, submission...), keyed by role. */
  starters?: Partial<Record<Listener["role"], ProtocolStarter>>;
  /** The checks the watcher runs on a schedule (src/health/check.ts runChecks, bound to the services). */
  runChecks?: RunChecks;
  /** Every scheduled backup's outcome (ok, failed, overdue): the hook for health alerts. */
  onBackupResult?: (r: BackupResult) => void;
  /** Delay before a backup that is due at start; default 5 min (tests). */
  backupFirstDelayMs?: number;
}

export async function startServer(services: Services, opts: StartOptions = {}): Promise<RunningServer> {
  const { config, logger, clock, storage } = services;
  // The context is read per connection, so a reloaded certificate (tls/reload.ts) serves every
  // handshake after it.
  const live = services.tls;
  const smtpTls = (l: Listener): ListenerTls =>
    l.tls === "none"
      ? { mode: "none" }
      : {
          mode: l.tls === "implicit" ? "implicit" : "starttls",
          get context() {
            return live.context;
          },
        };

  // The MX checks bounces to SRS addresses with the key the queue rewrites senders with.
  const srsKey = await loadSrsKey(storage.store.settings);
  const mxHandler = new MxHandler({
    store: storage.store,
    blobs: storage.blobs,
    writer: storage.writer,
    resolver: services.resolver,
    clock,
    logger,
    authservId: config.authservId,
    defaultQuotaBytes: config.quota.defaultBytes,
    srs: { key: srsKey, forwarderDomain: config.hostname },
    spam: services.spam.filter,
  });
  const mx = new SmtpServer({
    hostname: config.hostname,
    handler: faultInjectionEnabled() ? withInjectedFaults(mxHandler) : mxHandler,
    logger,
    clock,
    limits: smtpLimitsFromConfig(config),
    features: smtpFeaturesFromConfig(config),
    ...smtpConnectionLimits(config),
    onRefused: (reason, role) => services.metrics.smtpRejections.inc({ reason, role }),
    // With protocol processes each process takes its share of the total (processes.ts).
    ...(processCount(config) > 1 ? { maxConnections: Math.ceil(config.smtp.maxConnections / processCount(config)) } : {}),
    pregreet: {
      enabled: config.smtp.pregreet.enabled,
      delayMs: config.smtp.pregreet.waitMs,
      passTtlMs: config.smtp.pregreet.passTtlMs,
      exemptLoopback: config.smtp.pregreet.exemptLoopback,
    },
  });

  const tlsReload = watchTlsFiles(live, { certPath: config.tls.cert, keyPath: config.tls.key, logger });
  const bound: RunningServer["listeners"] = [];
  const closers: Array<() => Promise<void>> = [];
  let queue: QueueRunner | undefined;
  let watching: Watching | undefined;
  let procs: ProtocolProcesses | undefined;
  const mxHandles: Array<{ listener: Listener; handle: BoundListener["handle"] }> = [];
  try {
    for (const l of config.listeners) {
      if (l.role === "mx") {
        const b: BoundListener = await mx.listen({ role: "mx", host: l.address, port: l.port, tls: smtpTls(l), limits: listenerLimits(l) });
        bound.push({ role: l.role, address: b.address, port: b.port });
        mxHandles.push({ listener: l, handle: b.handle });
        continue;
      }
      const starter = opts.starters?.[l.role];
      if (!starter) {
        logger.info({ role: l.role, port: l.port }, "listener role not available in this version; skipped");
        continue;
      }
      const s = await starter(services, l);
      bound.push({ role: l.role, address: l.address, port: s.port });
      closers.push(() => s.close());
    }
    // Outbound queue (issue 4, src/queue/): starts after the listeners, stops before storage.
    // Watching and the relay switch (issue 8 §3–5): the switch is built before the runner that
    // asks it for routes; the schedule starts once the runner is up.
    watching = await createWatching(services, { runChecks: opts.runChecks });
    queue = await startQueueRunner(services, { routeSwitch: watching.routeSwitch });
    watching.start();
    // issue 14: protocol processes share the mx sockets; everything that writes stays here.
    const extra = processCount(config) - 1;
    if (extra > 0 && mxHandles.length > 0) procs = await startProtocolProcesses({ services, mx, listeners: mxHandles, srsKey, count: extra });
  } catch (err) {
    tlsReload.stop();
    await watching?.stop().catch(() => undefined);
    await procs?.stop(1000);
    await queue?.stop();
    await mx.shutdown(1000);
    for (const c of closers) await c().catch(() => undefined);
    throw err;
  }

  // Retention (issue 19; src/retention/): old Junk and Trash expunged on a schedule.
  const retention = new RetentionJob({
    store: storage.store,
    clock,
    logger,
    config: config.retention,
    publish: (id) => {
      for (const fn of services.onMailboxChanged) fn(id);
    },
    suppression: services.suppression,
  });
  retention.start();
  // Feedback-loop reports (ARF) at suppression.complaintsAddress: read after each delivery to
  // that mailbox and every 5 minutes (src/suppression/feedback-job.ts).
  let feedback: FeedbackJob | null = null;
  let removeFeedbackListener = () => {};
  if (config.suppression.complaintsAddress) {
    const job = new FeedbackJob({ store: storage.store, blobs: storage.blobs, suppression: services.suppression, logger: logger.child({ component: "feedback" }), address: config.suppression.complaintsAddress });
    feedback = job;
    let fblMailbox: number | null = await job.mailboxId();
    const listener = (batch: Parameters<Parameters<typeof services.onDelivered.add>[0]>[0]) => {
      if (fblMailbox === null || batch.some((r) => r.delivered.some((d) => d.mailboxId === fblMailbox))) {
        void job.run().then(async () => {
          fblMailbox ??= await job.mailboxId();
        }).catch((err) => logger.error({ err }, "feedback mailbox pass failed"));
      }
    };
    services.onDelivered.add(listener);
    removeFeedbackListener = () => services.onDelivered.delete(listener);
    job.start();
  }

  // DSNs received for mail we sent count as hard bounces (src/suppression/dsn-job.ts).
  const dsnJob = new DsnJob({ store: storage.store, blobs: storage.blobs, suppression: services.suppression, logger: logger.child({ component: "dsn" }) });
  const dsnListener = (batch: Parameters<Parameters<typeof services.onDelivered.add>[0]>[0]) => dsnJob.onBatch(batch);
  if (config.suppression.enabled) services.onDelivered.add(dsnListener);

  // Scheduled backups (issue 10 §3; src/backup/): daily by default once a repository is set.
  // Its failures, and a missing backup, alert through the watcher's sinks; a success clears it.
  const backupAlerts = watching ? new BackupAlerts({ send: watching.alert, hostname: config.hostname, overdueHours: config.backup.overdueHours }) : null;
  const onBackupResult = (r: BackupResult) => {
    opts.onBackupResult?.(r);
    backupAlerts?.onResult(r).catch((err) => logger.error({ err }, "backup alert failed"));
  };
  const backup = BackupScheduler.wanted(config) ? new BackupScheduler({ config, logger, clock, onBackupResult, firstDelayMs: opts.backupFirstDelayMs }) : null;
  backup?.start();

  // Certificates from ACME (issue 12 §4; src/acme/): after the listeners, since the http one
  // answers the HTTP-01 challenges; the files it writes go into service through tlsReload.
  const w = watching;
  const acme = config.acme.enabled
    ? new AcmeManager({
        config,
        clock,
        logger,
        lookup: services.resolver.lookup,
        domains: async () => (await services.accounts.listDomains(SYSTEM)).filter((d) => !d.disabled).map((d) => d.name),
        reload: (reason) => tlsReload.reload(reason),
        alert: (a) => w.alert(a),
      })
    : null;
  const answerable = config.acme.challenges.some((c) => config.listeners.some((l) => l.role === (c === "http-01" ? "http" : "https")));
  if (acme && !answerable) logger.warn({ challenges: config.acme.challenges }, "acme.enabled but no listener answers the challenges (http-01 needs the http listener on port 80, tls-alpn-01 the https one on 443)");
  acme?.start();

  let stopping: Promise<void> | undefined;
  return {
    listeners: bound,
    retention,
    watching,
    protocolPids: () => procs?.pids() ?? [],
    backup,
    acme,
    stop(opts = {}) {
      stopping ??= (async () => {
        acme?.stop();
        tlsReload.stop();
        // Together: a protocol process's sessions still need this process to commit their mail.
        await Promise.all([procs?.stop(opts.graceMs), mx.shutdown(opts.graceMs)]);
        for (const c of closers) await c().catch((err) => logger.error({ err }, "listener close failed"));
        await watching?.stop();
        await queue?.stop();
        await retention.stop();
        removeFeedbackListener();
        await feedback?.stop();
        services.onDelivered.delete(dsnListener);
        await dsnJob.idle();
        await backup?.stop();
        await services.spam.trainer.idle();
        await storage.close();
        services.closeSideDb?.();
        services.resolver.cancel();
        await services.dataLock?.release();
      })();
      return stopping;
    },
  };
}
