// Which module serves which listener role besides mx. Each protocol registers here as it lands.
// State shared between protocols is built once per call, i.e. once per server process: the
// failed-login limiter and the login cache (IMAP and SMTP AUTH count the same failures and a
// password change flushes one cache), and the IMAP wiring (change bus, search indexer).
import { randomBytes } from "node:crypto";
import type { ProtocolStarter } from "./run.ts";
import type { Services } from "./services.ts";
import type { Listener } from "../config/schema.ts";
import { createAuthenticator } from "../login/authenticator.ts";
import type { Authenticate } from "../login/authenticator.ts";
import { LoginCache } from "../login/cache.ts";
import { LoginLimiter, limiterOptionsFromConfig } from "../login/limiter.ts";
import { submissionStarter } from "../submission/starter.ts";
import { createImapWiring } from "../imap/wiring.ts";
import type { ImapWiring } from "../imap/wiring.ts";
import { startImapServer } from "../imap/server.ts";
import { webStarter } from "../web/starter.ts";

interface SharedLogin {
  limiter: LoginLimiter;
  cache: LoginCache | null;
  secret: Buffer;
  authenticate: Authenticate;
}

export function protocolStarters(): Partial<Record<Listener["role"], ProtocolStarter>> {
  let login: SharedLogin | null = null;
  const shared = (services: Services): SharedLogin => {
    if (login) return login;
    // A fresh secret per process: the cache lives in memory only.
    const secret = randomBytes(32);
    const limiter = new LoginLimiter({ clock: services.clock, ...limiterOptionsFromConfig(services.config.login) });
    const ttlMs = services.config.login.cacheSeconds * 1000;
    const cache = ttlMs === 0 ? null : new LoginCache({ secret, clock: services.clock, ttlMs });
    const authenticate = createAuthenticator({ accounts: services.accounts, store: services.storage.store, limiter, cache });
    login = { limiter, cache, secret, authenticate };
    return login;
  };
  const submission = submissionStarter({ authenticate: (services) => services.metrics.countedLogin("smtp", shared(services).authenticate) });

  let imapWiring: ImapWiring | null = null;
  let imapOpen = 0;
  const imap: ProtocolStarter = async (services, listener) => {
    if (!imapWiring) {
      const s = shared(services);
      const { storage } = services;
      const w = createImapWiring({
        store: storage.store,
        blobs: storage.blobs,
        accounts: services.accounts,
        logger: services.logger,
        clock: services.clock,
        dataDir: services.config.dataDir,
        loginSecret: s.secret,
        limiter: s.limiter,
        authenticate: services.metrics.countedLogin("imap", s.authenticate),
      });
      // Deliveries (SMTP, APPEND elsewhere) reach IDLE sessions and the search indexer.
      services.onDelivered.add((batch) => w.onBatch(batch));
      // Expunges by the retention job (src/retention/) reach sessions with the mailbox selected.
      services.onMailboxChanged.add((id) => w.changeBus.publish(id));
      imapWiring = w;
    }
    const wiring = imapWiring;
    const { maxConnectionsPerUser, maxConnectionsPerIp, maxConnections, loginTimeoutMs, commandTimeoutMs, allowPlaintextOnLoopback } = services.config.imap;
    const deps = {
      ...wiring.deps(services.storage.writer, services.config.quota.defaultBytes, { maxConnectionsPerUser, maxConnectionsPerIp, maxConnections, loginTimeoutMs, commandTimeoutMs }),
      allowPlaintextOnLoopback,
      // Moves into/out of Junk and $Junk/$NotJunk train the spam filter (src/spam/trainer.ts).
      userActions: services.spam.trainer,
    };
    const tls = listener.tls === "none" ? "none" : listener.tls === "implicit" ? "implicit" : "starttls";
    const handle = await startImapServer(deps, {
      role: listener.role === "imaps" ? "imaps" : "imap",
      address: listener.address,
      port: listener.port,
      tls,
      // Read per connection: a reloaded certificate (tls/reload.ts) serves new handshakes.
      get secureContext() {
        return services.tls.context;
      },
    });
    imapOpen++;
    const uncount = services.metrics.countImapSessions(() => handle.connections);
    return {
      port: handle.port,
      async close() {
        uncount();
        await handle.close();
        if (--imapOpen === 0) await wiring.close();
      },
    };
  };
  // The web login counts failures in the same limiter as IMAP and SMTP AUTH.
  const web = webStarter({ authenticate: (services) => shared(services).authenticate });
  return { submission, submissions: submission, imap, imaps: imap, http: web, https: web };
}
