// Builds the queue runner for `freehold serve` from the services (composition root helper):
// routes and relays from the data folder, the SRS key from a secret kept in settings, MTA-STS
// policies through our Resolver. In dev mode (config.queue.holdOutbound) nothing is sent.
import { randomBytes } from "node:crypto";
import type { Services } from "../server/services.ts";
import { QueueRunner } from "./runner.ts";
import { loadRelayFile, loadRelaySecrets } from "../delivery/relays.ts";
import { MtaStsPolicies } from "../delivery/mta-sts.ts";
import { deriveSrsKey } from "../delivery/srs.ts";
import { isLocalDomain } from "./local-delivery.ts";

const SRS_SECRET_KEY = "queue.srsSecret";

export async function startQueueRunner(services: Services): Promise<QueueRunner> {
  const { config, logger, clock, resolver, storage } = services;
  const log = logger.child({ component: "queue" });
  let secret = await storage.store.settings.get(SRS_SECRET_KEY);
  if (!secret) {
    secret = randomBytes(32).toString("base64");
    await storage.store.settings.set(SRS_SECRET_KEY, secret);
  }
  // isLocalDomain is async; SRS needs a synchronous answer, so the domain list is cached per run.
  let localDomains = new Set((await storage.store.accounts.listDomains()).map((d) => d.name));
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
    },
    routing: async () => {
      localDomains = new Set((await storage.store.accounts.listDomains()).map((d) => d.name));
      return { file: await loadRelayFile(config.dataDir), secrets: await loadRelaySecrets(config.dataDir) };
    },
    defaultQuotaBytes: config.quota.defaultBytes,
    hold: config.queue.holdOutbound,
    srs: { key: deriveSrsKey(secret), forwarderDomain: config.hostname, isLocalDomain: (d) => localDomains.has(d.toLowerCase()) },
  });
  if (config.queue.holdOutbound) log.info("outbound mail is held in the queue (queue.holdOutbound / dev mode)");
  await runner.start();
  return runner;
}

export { isLocalDomain };
