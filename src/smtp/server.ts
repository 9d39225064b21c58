// The SMTP server: listeners (each with a role and a TLS mode), per-client connection limits,
// the pregreet test, connection ids, and shutdown. Sessions themselves live in connection.ts.
import net from "node:net";
import tls from "node:tls";
import { withContext } from "../log/context.ts";
import { randomBytes } from "node:crypto";
import type { Logger } from "../log/logger.ts";
import type { Clock } from "../clock.ts";
import { SmtpConnection } from "./connection.ts";
import { commandTable } from "./commands/index.ts";
import type { ListenerFeatures } from "./commands/command.ts";
import { resolveLimits } from "./limits.ts";
import type { SmtpLimits } from "./limits.ts";
import { ConnectionCounter, PregreetCache } from "./pregreet.ts";
import type { PregreetOptions } from "./pregreet.ts";
import { clientGroup, unmapIPv4 } from "./ip.ts";
import { SmtpError } from "./errors.ts";
import { formatReply } from "./reply.ts";
import { HARDENED_TLS_OPTIONS } from "../tls/context.ts";
import type { ListenerRole, SmtpExtension, SmtpHandler, TlsMode } from "./types.ts";

/** listen(2) backlog for SMTP (and IMAP, src/imap/server.ts) listeners; see listen() below. */
export const LISTEN_BACKLOG = 4096;

export type ListenerTls = { readonly mode: "none" } | { readonly mode: "starttls" | "implicit"; readonly context: tls.SecureContext };

export interface ListenerOptions {
  /** For logs and SessionInfo.listenerName; defaults to the role. */
  readonly name?: string;
  readonly role: ListenerRole;
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly tls: ListenerTls;
  /** Hold the greeting for untested clients; by default only for the mx role (postscreen). */
  readonly pregreet?: boolean;
  /** Extensions for this listener only (AUTH on submission). */
  readonly extensions?: readonly SmtpExtension[];
  /** Limits for this listener, over the server's (e.g. maxRecipients per listener). */
  readonly limits?: Partial<SmtpLimits>;
  /**
   * A socket that is already listening (a protocol process gets the store owner's listening
   * handle, src/server/processes.ts): accept on it instead of binding host:port.
   */
  readonly handle?: net.Server;
}

/** Takes a connection slot for a client; its release, or null at the limit (shared across processes). */
export type ConnectionSlots = (ip: string) => Promise<(() => void) | null>;

export interface SmtpFeatureOptions {
  /** RFC 3030 BINARYMIME (with CHUNKING). Default true. */
  readonly binaryMime?: boolean;
  /** RFC 6531. Default true. */
  readonly smtputf8?: boolean;
  /** RFC 3461. Default true. */
  readonly dsn?: boolean;
  /**
   * DATA with bare LF line endings: "normalize" (default) stores them as CRLF, "reject" refuses
   * the message with 554 5.6.0 (Postfix 3.9's smtpd_forbid_bare_newline normalize / reject).
   */
  readonly bareLineEndings?: "normalize" | "reject";
  /**
   * Refuse MAIL FROM:addr and RCPT TO:addr without angle brackets (501). Default false: they
   * are accepted and logged, as Postfix does with strict_rfc821_envelopes = no.
   */
  readonly strictEnvelopes?: boolean;
}

export interface SmtpServerOptions {
  /** Our host name: greeting, EHLO reply, Received headers. */
  readonly hostname: string;
  readonly handler: SmtpHandler;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly limits?: Partial<SmtpLimits>;
  readonly pregreet?: Partial<PregreetOptions>;
  /** Concurrent connections per client (IPv4 address or IPv6 /64). Default 50, as Postfix. */
  readonly maxConnectionsPerClient?: number;
  /** Concurrent connections in all. Default 2000. */
  readonly maxConnections?: number;
  readonly features?: SmtpFeatureOptions;
  /** Called with the catalogue code of every refusal sent (metrics). */
  readonly onRefused?: (code: string, role: ListenerRole) => void;
  /**
   * Per-client slots from elsewhere instead of this server's own counter: a protocol process
   * asks the store owner, so maxConnectionsPerClient holds across processes (src/server/processes.ts).
   */
  readonly connectionSlots?: ConnectionSlots;
}

export interface BoundListener {
  readonly name: string;
  readonly role: ListenerRole;
  readonly address: string;
  readonly port: number;
  /** The listening socket (the store owner passes it to protocol processes). */
  readonly handle: net.Server;
}

/** A TLS context for SMTP listeners: TLS 1.2 at least (ARCHITECTURE.md). */
export function smtpTlsContext(opts: { key: string | Buffer; cert: string | Buffer }): tls.SecureContext {
  return tls.createSecureContext({ ...HARDENED_TLS_OPTIONS, key: opts.key, cert: opts.cert });
}

export class SmtpServer {
  readonly #opts: SmtpServerOptions;
  readonly #limits: SmtpLimits;
  readonly #pregreet: PregreetCache;
  readonly #counter: ConnectionCounter;
  readonly #servers: net.Server[] = [];
  readonly #connections = new Set<SmtpConnection>();
  readonly #done = new Set<Promise<void>>();
  readonly #cidPrefix = randomBytes(3).toString("hex");
  #nextCid = 0;
  #shuttingDown = false;

  constructor(opts: SmtpServerOptions) {
    this.#opts = opts;
    this.#limits = resolveLimits(opts.limits);
    this.#pregreet = new PregreetCache(opts.pregreet, opts.clock);
    this.#counter = new ConnectionCounter(opts.maxConnectionsPerClient ?? 50, clientGroup);
  }

  /** Open sessions right now. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** The per-client connection counter (the store owner answers protocol processes from it). */
  get connectionCounter(): ConnectionCounter {
    return this.#counter;
  }

  /** The pregreet pass cache (exposed for tests and the admin view). */
  get pregreet(): PregreetCache {
    return this.#pregreet;
  }

  async listen(l: ListenerOptions): Promise<BoundListener> {
    if (this.#shuttingDown) throw new Error("server is shutting down");
    const name = l.name ?? l.role;
    const f = this.#opts.features ?? {};
    const features: ListenerFeatures = {
      role: l.role,
      startTls: l.tls.mode === "starttls",
      binaryMime: f.binaryMime ?? true,
      smtputf8: f.smtputf8 ?? true,
      dsn: f.dsn ?? true,
      bareLineEndings: f.bareLineEndings ?? "normalize",
      strictEnvelopes: f.strictEnvelopes ?? false,
    };
    const extensions = l.extensions ?? [];
    const table = commandTable(l.role, extensions);
    const pregreet = l.pregreet ?? l.role === "mx";
    const limits = l.limits ? resolveLimits({ ...this.#opts.limits, ...l.limits }) : this.#limits;
    // The listener cap is ours, not net.Server.maxConnections (which closes a socket over it
    // without a word): a client over it gets 421 4.7.0 first, as Postfix's smtpd does when its
    // process limit is reached (RFC 5321 §3.1: 421 instead of the greeting, so it retries later).
    const cap = this.#opts.maxConnections ?? 2000;
    const slots = { open: 0 };
    const onSocket = (socket: net.Socket) => {
      if (slots.open >= cap) {
        this.#opts.logger.info({ remote: unmapIPv4(socket.remoteAddress ?? ""), listener: name, open: slots.open }, "smtp listener full");
        socket.on("error", () => undefined);
        refuseSocket(socket, new SmtpError("listenerFull"));
        return;
      }
      slots.open++;
      let released = false;
      socket.once("close", () => {
        if (!released) slots.open--;
        released = true;
      });
      this.#accept(socket, l, name, features, extensions, table, pregreet, limits);
    };
    let srv: net.Server;
    if (l.handle) {
      // A listening socket passed by the store owner (protocol processes, src/server/processes.ts).
      srv = l.handle;
      srv.on("connection", (socket: net.Socket) => {
        socket.setNoDelay(true);
        onSocket(socket);
      });
    } else {
      srv = net.createServer({ noDelay: true }, onSocket);
    }
    // A hard ceiling on sockets (and file descriptors) for this listener, refusals in progress
    // included (each lives until the client closes, at most 2 s): only a storm far past the cap
    // meets Node's silent close.
    srv.maxConnections = cap + Math.max(1000, cap);
    if (!l.handle) {
      await new Promise<void>((resolve, reject) => {
        srv.once("error", reject);
        // A connection storm must queue in the kernel, not overflow it: with Node's default
        // backlog (511) a burst of a few thousand SYNs leaves clients "connected" with no greeting
        // for tens of seconds (the kernel drops their handshake's last ACK). LISTEN_BACKLOG is
        // capped by net.core.somaxconn (4096 on current kernels).
        srv.listen({ port: l.port, host: l.host, backlog: LISTEN_BACKLOG }, () => {
          srv.off("error", reject);
          resolve();
        });
      });
    }
    srv.on("error", (err) => this.#opts.logger.error({ err, listener: name }, "listener error"));
    this.#servers.push(srv);
    const a = srv.address() as net.AddressInfo;
    this.#opts.logger.info({ listener: name, role: l.role, address: a.address, port: a.port, tls: l.tls.mode }, "smtp listening");
    return { name, role: l.role, address: a.address, port: a.port, handle: srv };
  }

  #accept(
    socket: net.Socket,
    l: ListenerOptions,
    name: string,
    features: ListenerFeatures,
    extensions: readonly SmtpExtension[],
    table: ReturnType<typeof commandTable>,
    pregreet: boolean,
    limits: SmtpLimits,
  ): void {
    const cid = `${this.#cidPrefix}${(this.#nextCid++).toString(36)}`;
    const ip = unmapIPv4(socket.remoteAddress ?? "");
    const log = this.#opts.logger.child({ cid });
    socket.on("error", () => {
      // Errors before the session attaches its own handler (e.g. a reset during accept).
    });
    if (this.#shuttingDown) {
      refuseSocket(socket, new SmtpError("shuttingDown"));
      return;
    }
    if (this.#opts.connectionSlots) {
      // The slot comes from the store owner (one IPC round trip); nothing is read meanwhile.
      socket.pause();
      this.#opts.connectionSlots(ip).then(
        (release) => {
          if (socket.destroyed) return release?.();
          socket.resume();
          this.#session(socket, l, name, features, extensions, table, pregreet, limits, cid, ip, log, release);
        },
        (err) => {
          log.error({ err }, "connection slot request failed");
          refuseSocket(socket, new SmtpError("localError"));
        },
      );
      return;
    }
    this.#session(socket, l, name, features, extensions, table, pregreet, limits, cid, ip, log, this.#counter.acquire(ip));
  }

  #session(
    socket: net.Socket,
    l: ListenerOptions,
    name: string,
    features: ListenerFeatures,
    extensions: readonly SmtpExtension[],
    table: ReturnType<typeof commandTable>,
    pregreet: boolean,
    limits: SmtpLimits,
    cid: string,
    ip: string,
    log: Logger,
    release: (() => void) | null,
  ): void {
    if (!release) {
      log.info({ remote: ip, listener: name }, "too many connections from client");
      refuseSocket(socket, new SmtpError("tooManyConnections"));
      return;
    }
    if (this.#shuttingDown) {
      release();
      refuseSocket(socket, new SmtpError("shuttingDown"));
      return;
    }
    log.info({ remote: ip, port: socket.remotePort, listener: name, role: l.role }, "connect");
    const conn = new SmtpConnection({
      socket,
      cid,
      role: l.role,
      listenerName: name,
      serverName: this.#opts.hostname,
      handler: this.#opts.handler,
      extensions,
      table,
      limits,
      features,
      tlsMode: l.tls.mode,
      tlsContext: l.tls.mode === "none" ? undefined : l.tls.context,
      log,
      clock: this.#opts.clock,
      pregreetDelayMs: pregreet ? this.#pregreet.delayFor(ip) : 0,
      onPregreet: (passed) => (passed ? this.#pregreet.recordPass(ip) : this.#pregreet.recordFail(ip)),
      onRefused: this.#opts.onRefused,
    });
    this.#connections.add(conn);
    // The session's context (component, cid) follows everything it schedules, for the fatal log
    // line of server/last-resort.ts should anything escape.
    const done = withContext({ component: `smtp:${l.role}`, cid }, () => conn.run()).finally(() => {
      release();
      this.#connections.delete(conn);
      this.#done.delete(done);
    });
    this.#done.add(done);
  }

  /**
   * Stops listening, sends 421 4.3.2 to every open session (at its next read, or at once when it
   * is waiting), and waits up to `graceMs` for them to end before cutting them off.
   */
  async shutdown(graceMs = 10_000): Promise<void> {
    this.#shuttingDown = true;
    const closed = this.#servers.map((s) => new Promise<void>((r) => s.close(() => r())));
    for (const c of this.#connections) c.shutdown();
    const all = Promise.allSettled([...this.#done]);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((r) => {
      timer = setTimeout(() => r("late"), graceMs);
    });
    if ((await Promise.race([all, late])) === "late") {
      for (const c of this.#connections) c.destroy();
      await all;
    }
    clearTimeout(timer);
    await Promise.all(closed);
  }
}

function refuseSocket(socket: net.Socket, err: SmtpError): void {
  socket.end(formatReply(err.toReply()));
  const t = setTimeout(() => socket.destroy(), 2000);
  t.unref();
  socket.once("close", () => clearTimeout(t));
}

export type { TlsMode };
