// Everything the IMAP listeners share, built once by the composition root (src/server/): the
// change bus, the search index and its background indexer, and the login path (limiter, cache,
// authenticator). The DeliveryWriter must be constructed with `onBatch` from here so deliveries
// reach IDLE sessions and get indexed.
import type { Clock } from "../clock.ts";
import type { Logger } from "../log/logger.ts";
import type { AccountsService } from "../accounts/service.ts";
import type { BlobStore, DeliveryResult, MetadataStore } from "../store/types.ts";
import { openSearchIndex } from "../store/sqlite/search.ts";
import type { SearchIndex } from "../store/sqlite/search.ts";
import { LoginLimiter } from "../login/limiter.ts";
import { LoginCache } from "../login/cache.ts";
import { createAuthenticator } from "../login/authenticator.ts";
import type { Authenticate } from "../login/authenticator.ts";
import { ChangeBus } from "./change-bus.ts";
import { SearchIndexer } from "./search-indexer.ts";
import { StatusCache } from "./status-cache.ts";
import type { ImapDeps, ImapLimits } from "./types.ts";

export interface ImapWiringInput {
  store: MetadataStore;
  blobs: BlobStore;
  accounts: Pick<AccountsService, "verifyMailLogin" | "appPasswordValid">;
  logger: Logger;
  clock: Clock;
  /** Folder for search.sqlite (the data folder). */
  dataDir: string;
  /** Server secret for the login cache HMAC (e.g. from the secrets file). */
  loginSecret: Buffer | string;
  /** Login cache TTL (capped at 10 min); 0 turns the cache off. */
  loginCacheTtlMs?: number;
  /** Pass the limiter SMTP AUTH uses, so both protocols share one budget. */
  limiter?: LoginLimiter;
  /** The login path SMTP AUTH uses (one limiter and cache for both); built here when absent. */
  authenticate?: Authenticate;
}

export interface ImapWiring {
  changeBus: ChangeBus;
  search: SearchIndex;
  indexer: SearchIndexer;
  limiter: LoginLimiter;
  loginCache: LoginCache | null;
  authenticate: Authenticate;
  /** For `new DeliveryWriter({ ..., onBatch })`. */
  onBatch(results: DeliveryResult[]): void;
  /** The deps for startImapServer(deps, listener). */
  deps(writer: ImapDeps["writer"], defaultQuotaBytes: number, limits?: Partial<ImapLimits>): ImapDeps;
  /** After the listeners closed: stop indexing, close the index. */
  close(): Promise<void>;
}

export function createImapWiring(input: ImapWiringInput): ImapWiring {
  const changeBus = new ChangeBus();
  // Shared by every IMAP listener of the process (one mailbox index, not one per port).
  const statusCache = new StatusCache();
  const search = openSearchIndex(input.dataDir);
  const indexer = new SearchIndexer({ store: input.store, blobs: input.blobs, search, logger: input.logger });
  const limiter = input.limiter ?? new LoginLimiter({ clock: input.clock });
  const loginCache = input.loginCacheTtlMs === 0 ? null : new LoginCache({ secret: input.loginSecret, clock: input.clock, ttlMs: input.loginCacheTtlMs });
  const authenticate = input.authenticate ?? createAuthenticator({ accounts: input.accounts, store: input.store, limiter, cache: loginCache });
  return {
    changeBus,
    search,
    indexer,
    limiter,
    loginCache,
    authenticate,
    onBatch(results) {
      changeBus.onBatch(results);
      indexer.onBatch(results);
    },
    deps(writer, defaultQuotaBytes, limits) {
      return {
        store: input.store,
        blobs: input.blobs,
        writer,
        authenticate,
        logger: input.logger,
        clock: input.clock,
        changeBus,
        search,
        defaultQuotaBytes,
        limits,
        statusCache,
      };
    },
    async close() {
      await indexer.stop();
      await search.close();
    },
  };
}
