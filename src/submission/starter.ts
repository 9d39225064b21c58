// Starts `submission` (RFC 6409, STARTTLS, port 587) and `submissions` (RFC 8314 §3.3, implicit
// TLS, port 465) listeners on our SMTP core, with the AUTH extension and the submission handler.
// One SmtpServer, one login limiter (shared with IMAP when the caller passes it) and one hourly
// send limit serve every submission listener of the process.
import type { ProtocolStarter } from "../server/run.ts";
import type { Services } from "../server/services.ts";
import type { Listener } from "../config/schema.ts";
import { DEFAULT_TLS_BY_ROLE } from "../config/schema.ts";
import { SmtpServer } from "../smtp/server.ts";
import type { ListenerTls } from "../smtp/server.ts";
import type { Authenticate } from "../login/authenticator.ts";
import { startDkimJob } from "../emailauth/dkim-job.ts";
import { authExtension } from "./auth.ts";
import { SubmissionHandler } from "./handler.ts";
import { HourlySendLimit } from "./send-limit.ts";
import { addressCollector } from "../dav/collect.ts";
import { DavStore, openDavDb } from "../dav/store.ts";
import type { SqliteDb } from "../store/sqlite/db.ts";
import { listenerLimits, smtpConnectionLimits, smtpFeaturesFromConfig, smtpLimitsFromConfig } from "../server/smtp-settings.ts";

export interface SubmissionStarterOptions {
  /** The shared password login (limits + cache), built once per process. */
  authenticate: (services: Services) => Authenticate;
  /** Recipients per user per hour (0 = unlimited); default config.submission.hourlyRecipients. */
  hourlyRecipients?: number;
  /** A send limit to use instead of one built from hourlyRecipients (tests inject a clock). */
  sendLimit?: HourlySendLimit;
  /** Run the DKIM rotation job in this process (default true). */
  dkimJob?: boolean;
}

/** One starter for both roles; the SMTP server is built on the first listener. */
export function submissionStarter(opts: SubmissionStarterOptions): ProtocolStarter {
  let server: SmtpServer | null = null;
  let open = 0;
  let job: { stop(): void } | null = null;
  let davDb: SqliteDb | null = null;

  const build = (services: Services): SmtpServer => {
    const { config, storage, clock, logger } = services;
    // Recipients go into the sender's "Collected" address book (src/dav/collect.ts, issue 11 §2).
    // dav.sqlite is opened at the first message after each start (closed with the last listener).
    const collect = (user: string, recipients: string[]) => addressCollector(new DavStore((davDb ??= openDavDb(config.dataDir, { clock })), clock), logger)(user, recipients);
    const handler = new SubmissionHandler({
      store: storage.store,
      blobs: storage.blobs,
      writer: storage.writer,
      dkim: services.dkim,
      queueParams: services.queueParams,
      clock,
      logger,
      hostname: config.hostname,
      defaultQuotaBytes: config.quota.defaultBytes,
      sendLimit: opts.sendLimit ?? new HourlySendLimit({ clock, perHour: opts.hourlyRecipients ?? config.submission.hourlyRecipients }),
      // Whom a user writes to becomes a trusted correspondent (src/spam/trainer.ts).
      onSubmitted: (user, recipients) => {
        services.spam.trainer.submittedBy(user, recipients);
        collect(user, recipients);
        // The complaint rate's denominator (src/suppression/).
        void services.suppression.countSent(user.slice(user.lastIndexOf("@") + 1)).catch((err) => logger.error({ err }, "could not count a sent message"));
      },
      suppression: services.suppression,
    });
    if (opts.dkimJob ?? true) job = startDkimJob({ dkim: services.dkim, txt: services.resolver.txt, logger });
    return new SmtpServer({
      hostname: config.hostname,
      handler,
      logger,
      clock,
      limits: smtpLimitsFromConfig(config),
      features: smtpFeaturesFromConfig(config),
      ...smtpConnectionLimits(config),
      onRefused: (reason, role) => services.metrics.smtpRejections.inc({ reason, role }),
    });
  };

  return async (services: Services, l: Listener) => {
    server ??= build(services);
    const mode = l.tls ?? DEFAULT_TLS_BY_ROLE[l.role];
    // The context is read per connection, so a reloaded certificate (tls/reload.ts) is used.
    const live = services.tls;
    const tls: ListenerTls =
      mode === "none"
        ? { mode: "none" }
        : {
            mode,
            get context() {
              return live.context;
            },
          };
    const role = l.role === "submissions" ? "submissions" : "submission";
    const ext = authExtension({ authenticate: opts.authenticate(services), logger: services.logger });
    const bound = await server.listen({ role, host: l.address, port: l.port, tls, extensions: [ext], limits: listenerLimits(l) });
    open++;
    const srv = server;
    return {
      port: bound.port,
      async close() {
        open--;
        if (open === 0) {
          job?.stop();
          await srv.shutdown();
          davDb?.close();
          davDb = null;
        }
      },
    };
  };
}
