// Builds the queue runner for `freehold serve` from the services (composition root helper):
// routes and relays from the data folder, the SRS key from a secret kept in settings, ARC
// sealing with the domains' DKIM keys, MTA-STS policies through our Resolver. In dev mode (config.queue.holdOutbound) nothing is sent.
import type { Services } from "../server/services.ts";
import type { DeliveryResult } from "../store/types.ts";
import { QueueRunner } from "./runner.ts";
import { RelayFileCache } from "../delivery/relays.ts";
import { MtaStsPolicies } from "../delivery/mta-sts.ts";
import { SessionPool } from "../delivery/session-pool.ts";
import { loadSrsKey } from "./srs-key.ts";
import { isLocalDomain } from "./local-delivery.ts";
import type { RouteSwitchPort } from "./runner.ts";
import { MESSAGE_ID_SCAN, messageIdOf } from "../trace/message-id.ts";

export async function startQueueRunner(services: Services, opts: { routeSwitch?: RouteSwitchPort } = {}): Promise<QueueRunner> {
  const { config, logger, clock, resolver, storage } = services;
  const log = logger.child({ component: "queue" });
  const srsKey = await loadSrsKey(storage.store.settings);
  // isLocalDomain is async; SRS needs a synchronous answer, so the domain list is cached per run.
  let localDomains = new Set((await storage.store.accounts.listDomains()).map((d) => d.name));
  const relayFiles = new RelayFileCache(config.dataDir);
  const runner = new QueueRunner({
    store: storage.store,
    blobs: storage.blobs,
    writer: storage.writer,
    clock,
    logger: log,
    hostname: config.hostname,
    transport: {
      resolver,
      logger: log,
      hostname: config.hostname,
      ourAddresses: config.listeners.map((l) => l.address).filter((a) => a !== "0.0.0.0" && a !== "::"),
      mtaSts: new MtaStsPolicies({ resolver, logger: log }),
      // Consecutive messages to one relay or MX share a session (closed after 2 s idle).
      sessions: new SessionPool({ clock }),
    },
    routing: async () => {
      localDomains = new Set((await storage.store.accounts.listDomains()).map((d) => d.name));
      return relayFiles.load();
    },
    defaultQuotaBytes: config.quota.defaultBytes,
    hold: config.queue.holdOutbound,
    arc: { signingKeys: (d) => services.dkim.signingKeys(d), authservId: config.authservId },
    srs: { key: srsKey, forwarderDomain: config.hostname, isLocalDomain: (d) => localDomains.has(d.toLowerCase()) },
    // Hard bounces of submitted mail feed the suppression list (src/suppression/).
    onFinalFailure: (from, rcpt, status, reply) => services.suppression.recordFailure(from, rcpt, status, reply),
    // DSNs received later are checked against what was sent (src/suppression/dsn-job.ts).
    onSentRemote: async (from, rcpts, content) => {
      const id = messageIdOf(content.subarray(0, MESSAGE_ID_SCAN));
      if (id) await services.suppression.recordSent(from, id, rcpts);
    },
    // Issue 8 §4 and §5: the relay switch, and delivery counters for /metrics.
    routeSwitch: opts.routeSwitch,
    onOutcome: (o) => services.metrics.outcome(o),
  });
  if (config.queue.holdOutbound) log.info("outbound mail is held in the queue (queue.holdOutbound / dev mode)");
  await runner.start();
  wakeOnQueued(services.onDelivered, runner);
  return runner;
}

/**
 * Wakes the runner when a committed delivery queued something (submission, forwarding, DSNs),
 * so new mail leaves at once instead of at the next poll (up to a second later).
 */
export function wakeOnQueued(onDelivered: Services["onDelivered"], runner: Pick<QueueRunner, "wake">): () => void {
  const listener = (batch: DeliveryResult[]) => {
    if (batch.some((r) => r.queueIds.length > 0)) runner.wake();
  };
  onDelivered.add(listener);
  return () => onDelivered.delete(listener);
}

export { isLocalDomain };
