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
import { processCount, startProtocolProcesses } from "./processes.ts";
import type { ProtocolProcesses } from "./processes.ts";

export interface RunningServer {
  listeners: Array<{ role: string; address: string; port: number }>;
  /** The protocol processes' pids (server.processes > 1; processes.ts), for logs and tests. */
  protocolPids(): number[];
  /**
   * RFC 5321 §3.8: open SMTP sessions get 421 4.3.2 (and `graceMs`, default 10 s, to finish);
   * then storage is closed.
   */
  stop(opts?: { graceMs?: number }): Promise<void>;
}

export type ProtocolStarter = (services: Services, listener: Listener) => Promise<{ port: number; close(): Promise<void> }>;

export interface StartOptions {
  /** Listener roles served by other modules (imap, imaps, submission...), keyed by role. */
  starters?: Partial<Record<Listener["role"], ProtocolStarter>>;
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
    queue = await startQueueRunner(services);
    // issue 14: protocol processes share the mx sockets; everything that writes stays here.
    const extra = processCount(config) - 1;
    if (extra > 0 && mxHandles.length > 0) procs = await startProtocolProcesses({ services, mx, listeners: mxHandles, srsKey, count: extra });
  } catch (err) {
    tlsReload.stop();
    await procs?.stop(1000);
    await queue?.stop();
    await mx.shutdown(1000);
    for (const c of closers) await c().catch(() => undefined);
    throw err;
  }

  let stopping: Promise<void> | undefined;
  return {
    listeners: bound,
    protocolPids: () => procs?.pids() ?? [],
    stop(opts = {}) {
      stopping ??= (async () => {
        tlsReload.stop();
        // Together: a protocol process's sessions still need this process to commit their mail.
        await Promise.all([procs?.stop(opts.graceMs), mx.shutdown(opts.graceMs)]);
        for (const c of closers) await c().catch((err) => logger.error({ err }, "listener close failed"));
        await queue?.stop();
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
