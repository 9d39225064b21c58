// The composition root: everything a running server needs, built once from the config and
// passed down (ARCHITECTURE.md "Everything injected"). Protocol handlers, the CLI and later the
// HTTP API all reach the same service objects through this.
import path from "node:path";
import type { Clock } from "../clock.ts";
import { systemClock } from "../clock.ts";
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log/logger.ts";
import { createLogger } from "../log/logger.ts";
import type { Resolver } from "../dns/resolver.ts";
import { createResolver } from "../dns/resolver.ts";
import { openStorage } from "../store/open.ts";
import type { Storage } from "../store/open.ts";
import type { DeliveryResult, Id } from "../store/types.ts";
import { AccountsService } from "../accounts/service.ts";
import { loadTlsContext } from "../tls/context.ts";
import { lockDataFolder } from "./data-lock.ts";
import type { DataLock } from "./data-lock.ts";
import type { LoadedTls } from "../tls/context.ts";
import { openSideDb, SqliteDkimKeys, SqliteQueueParams } from "../store/sqlite/dkim.ts";
import { DkimService } from "../emailauth/dkim-service.ts";
import { SpamService } from "../spam/service.ts";
import { openSpamDb, SqliteSpamRepo } from "../store/sqlite/spam.ts";
import { openSuppressionDb, SuppressionService } from "../suppression/service.ts";
import { Metrics } from "../metrics/registry.ts";
import { WatchStore } from "../health/watch/history.ts";

export interface Services {
  config: Config;
  logger: Logger;
  clock: Clock;
  resolver: Resolver;
  storage: Storage;
  accounts: AccountsService;
  tls: LoadedTls;
  /** DKIM keys (created with each domain; signing, rotation). */
  dkim: DkimService;
  /** BODY/SMTPUTF8 of queue entries (submission writes, delivery reads). */
  queueParams: SqliteQueueParams;
  /** Spam filter (MX), training (IMAP, submission) and its figures (docs/spam.md). */
  spam: SpamService;
  /** Recipients that hard-bounced, refused at submission (src/suppression/). */
  suppression: SuppressionService;
  /** Subscribers to committed deliveries (IMAP IDLE's change bus). */
  onDelivered: Set<(batch: DeliveryResult[]) => void>;
  /** Subscribers to changes made outside IMAP sessions and deliveries (retention's expunges): the IMAP change bus. */
  onMailboxChanged: Set<(mailboxId: Id) => void>;
  /** Prometheus metrics (src/metrics/, docs/metrics.md). */
  metrics: Metrics;
  /** Check history and the relay switch state (src/health/watch/). */
  watchStore: WatchStore;
  /** This process's exclusive hold on the data folder (data-lock.ts); released after storage closes. */
  dataLock?: DataLock;
  /**
   * Closes the second database connection (DKIM keys, queue parameters). Called after
   * storage.close(): the last connection to close checkpoints the WAL into the database file.
   */
  closeSideDb?: () => void;
}

export interface OpenServicesOptions {
  clock?: Clock;
  logger?: Logger;
  /** A resolver to use instead of one built from config.dns (tests). */
  resolver?: Resolver;
}

export async function openServices(config: Config, opts: OpenServicesOptions = {}): Promise<Services> {
  const clock = opts.clock ?? systemClock;
  const logger =
    opts.logger ??
    createLogger({
      level: config.log.level,
      file: config.log.file ? { path: path.resolve(config.dataDir, config.log.file), maxBytes: config.log.maxFileMiB * 1024 * 1024, keepFiles: config.log.keepFiles, keepDays: config.log.keepDays } : undefined,
    });
  const resolver = opts.resolver ?? createResolver({ servers: config.dns.servers, timeoutMs: config.dns.timeoutMs, tries: config.dns.tries, clock });
  const tls = await loadTlsContext(config.tls.cert, config.tls.key);
  const onDelivered = new Set<(batch: DeliveryResult[]) => void>();
  // Before storage opens: its startup recovery must never run beside another serving process.
  const dataLock = await lockDataFolder(config.dataDir);
  let storage: Storage;
  try {
    storage = await openStorage(config.dataDir, {
      serve: true,
      clock,
      onCollectError: (err) => logger.error({ err }, "blob collector failed"),
      onBatch: (batch) => {
        for (const fn of onDelivered) {
          try {
            fn(batch);
          } catch (err) {
            logger.error({ err }, "delivery listener failed");
          }
        }
      },
    });
  } catch (err) {
    await dataLock.release();
    throw err;
  }
  if (storage.recovery) {
    const r = storage.recovery;
    logger.info({ recovery: { ...r, missingFiles: r.missingFiles.length } }, "storage recovered");
    if (r.missingFiles.length > 0) logger.error({ missing: r.missingFiles.map((b) => b.sha256) }, "blob rows without files");
  }
  const side = openSideDb(config.dataDir, { clock });
  const dkim = new DkimService({ keys: new SqliteDkimKeys(side), clock });
  const accounts = new AccountsService({
    store: storage.store,
    clock,
    defaultQuotaBytes: config.quota.defaultBytes,
    onDomainAdded: async (d) => void (await dkim.createDomainKeys(d.name)),
  });
  const spamDb = openSpamDb(config.dataDir, { clock });
  const spam = new SpamService({
    config: config.spam,
    store: storage.store,
    blobs: storage.blobs,
    repo: new SqliteSpamRepo(spamDb),
    resolver,
    clock,
    logger,
    ourNames: [config.hostname],
  });
  // Rows of accounts removed while the server was down (spam.sqlite has no foreign keys).
  await spam.purgeRemovedUsers();
  const suppressionDb = openSuppressionDb(config.dataDir, { clock });
  const suppression = new SuppressionService(suppressionDb, clock, config.suppression);
  const closeSideDb = () => {
    side.close();
    spamDb.close();
    suppressionDb.close();
  };
  const metrics = new Metrics({ store: storage.store, clock, dataDir: config.dataDir });
  return { config, logger, clock, resolver, storage, accounts, tls, onDelivered, onMailboxChanged: new Set(), dkim, queueParams: new SqliteQueueParams(side), spam, suppression, dataLock, closeSideDb, metrics, watchStore: new WatchStore(side) };
}
