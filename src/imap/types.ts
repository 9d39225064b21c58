// What the IMAP server needs from the rest of Freehold, injected by the composition root
// (src/server/) or by tests. Nothing here is a module-level singleton.
import type { SecureContext } from "node:tls";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log/logger.ts";
import type { Authenticate } from "../login/authenticator.ts";
import type { BlobStore, DeliveryRequest, DeliveryResult, MetadataStore } from "../store/types.ts";
import type { StatusCache } from "./status-cache.ts";
import type { SearchIndex } from "../store/sqlite/search.ts";
import type { ChangeBus } from "./change-bus.ts";
import type { MailboxRecord } from "../store/types.ts";

/**
 * What a user did that others learn from (the spam filter's training, src/spam/trainer.ts).
 * Called after the command succeeded; must not throw or block (work goes to the background).
 */
export interface ImapUserActions {
  /** COPY or MOVE done: `uids` are the new UIDs in `to`. */
  copied(userId: number, from: MailboxRecord, to: MailboxRecord, uids: readonly number[]): void;
  /** STORE done: the operation and flags asked for, and the UIDs whose flags changed. */
  flagsStored(userId: number, mailboxId: number, op: "add" | "replace" | "remove", flags: readonly string[], changedUids: readonly number[]): void;
}

export interface ImapLimits {
  /** RFC 7889 APPENDLIMIT: largest message APPEND accepts. */
  maxAppendSize: number;
  /** Largest literal buffered in memory (everything but APPEND data). */
  maxInlineLiteral: number;
  /** Largest command apart from streamed APPEND literals. */
  maxCommandBytes: number;
  /** Concurrent authenticated connections per user ([LIMIT], RFC 5530). */
  maxConnectionsPerUser: number;
  /** Concurrent connections per client IP. */
  maxConnectionsPerIp: number;
  /** RFC 9051 §5.4: autologout after at least 30 minutes without a command. */
  idleTimeoutMs: number;
  /** Before login the wait is shorter: an unauthenticated socket costs us and gives nothing. */
  preauthTimeoutMs: number;
  /**
   * Time from connecting to logging in, however active the client keeps the line: a slowloris
   * sending a byte a second never looks idle, so idleness alone cannot bound it (Dovecot's login
   * processes give 3 minutes).
   */
  loginTimeoutMs: number;
  /**
   * Time a command has to arrive whole once its first octets are in (the sweep sends BYE past
   * it): a client trickling a byte a second never looks idle, and after login loginTimeoutMs no
   * longer applies. Literal octets received extend it at MIN_LITERAL_RATE, so an APPEND upload
   * at a sane rate is not cut. Not counted: the wait between commands (autologout, RFC 9051
   * §5.4: at least 30 minutes) and a running command's own reads (IDLE's DONE, SASL replies).
   */
  commandTimeoutMs: number;
  /** Concurrent connections on one listener. */
  maxConnections: number;
  /** An untagged OK this often during IDLE keeps NAT and firewalls from dropping the flow. */
  keepaliveMs: number;
  /** How often the one server-wide sweep checks timeouts and keepalives. */
  sweepMs: number;
}

export const DEFAULT_IMAP_LIMITS: ImapLimits = {
  maxAppendSize: 50 * 1024 * 1024,
  maxInlineLiteral: 64 * 1024,
  maxCommandBytes: 1024 * 1024,
  maxConnectionsPerUser: 50,
  maxConnectionsPerIp: 100,
  idleTimeoutMs: 30 * 60_000,
  preauthTimeoutMs: 60_000,
  loginTimeoutMs: 3 * 60_000,
  commandTimeoutMs: 5 * 60_000,
  maxConnections: 2000,
  keepaliveMs: 2 * 60_000,
  sweepMs: 15_000,
};

export interface ImapDeps {
  store: MetadataStore;
  blobs: BlobStore;
  /** The DeliveryWriter (APPEND goes through the same group commit as SMTP delivery). */
  writer: { deliver(req: DeliveryRequest): Promise<DeliveryResult> };
  /** Checks a password (rate limits and cache included): src/login/authenticator.ts. */
  authenticate: Authenticate;
  logger: Logger;
  clock: Clock;
  /** Shared with the DeliveryWriter's onBatch (bus.onBatch). */
  changeBus: ChangeBus;
  /** Text index for SEARCH (src/store/sqlite/search.ts). */
  search: SearchIndex;
  /** config.quota.defaultBytes: quota of users without their own (0 = unlimited). */
  defaultQuotaBytes: number;
  limits?: Partial<ImapLimits>;
  /** STATUS counters and the mailbox index SELECT copies from; one per listener when absent. */
  statusCache?: StatusCache;
  /**
   * TEST ONLY: accept LOGIN/AUTHENTICATE without TLS from any address on the `imap` role.
   * Default false: the server advertises LOGINDISABLED until STARTTLS (RFC 9051 §6.2.3).
   */
  allowPlaintextAuth?: boolean;
  /**
   * config imap.allowPlaintextOnLoopback: a client on 127.0.0.0/8 or ::1 may log in without TLS
   * (capabilities.ts plaintextLoginAllowed). Absent = true, the config default.
   */
  allowPlaintextOnLoopback?: boolean;
  /** Observers of user actions (spam training); absent: none. */
  userActions?: ImapUserActions;
  /** Name in the greeting and ID response. */
  serverName?: string;
}

export interface ImapListenerSpec {
  role: "imap" | "imaps";
  address: string;
  port: number;
  /** "starttls" for role imap (143), "implicit" for imaps (993); "none" only in tests. */
  tls: "starttls" | "implicit" | "none";
  secureContext?: SecureContext;
}

export interface ImapServerHandle {
  port: number;
  /** Number of open connections (tests, metrics). */
  readonly connections: number;
  /** Says BYE to every session, closes the listener and waits for sockets to end. */
  close(): Promise<void>;
}
