// One SMTP session on one socket: the greeting, the command loop, replies, timeouts, STARTTLS.
//
// Session rules (invariants):
// - One coroutine per connection (run): it reads one framed event, dispatches it, and only then
//   reads the next, so a command's handler sees the reader exactly where its command ended
//   (DATA/BDAT switch the reader's mode and consume their content themselves).
// - Replies are queued and written in order; they are flushed when the session would wait for
//   input (RFC 2920 §3.2: a server may batch responses but must send them before it blocks),
//   when a lot is queued, before a TLS handshake, and before closing.
// - Reading is paused while more than limits.readHighWater octets wait unparsed, and replies are
//   written with back-pressure, so a client that pipelines without reading cannot grow memory.
// - An open MessageSink is always settled: end() by the command that completes the message,
//   abort() by that command's finally block or by run()'s when the session dies in between.
import net from "node:net";
import tls from "node:tls";
import type { Logger } from "../log/logger.ts";
import type { Clock } from "../clock.ts";
import { DEFAULT_READER_LINE_LIMIT, SmtpReader } from "./reader.ts";
import type { ReaderEvent } from "./reader.ts";
import { formatReply, reply } from "./reply.ts";
import type { Reply } from "./reply.ts";
import { SmtpError, toSmtpError } from "./errors.ts";
import { initialState, openSink, sequenceText } from "./session-state.ts";
import type { CommandContext, CommandSpec, ListenerFeatures, MutableSessionInfo, Session } from "./commands/command.ts";
import { abortQuietly } from "./commands/transaction.ts";
import type { SmtpLimits } from "./limits.ts";
import type { ListenerRole, SmtpExtension, SmtpHandler, TlsInfo } from "./types.ts";
import { unmapIPv4 } from "./ip.ts";
import { handshake, negotiated } from "./tls.ts";

/** Control flow, not protocol errors: they end the session and never reach a client as text. */
/** Commands whose argument the refusal log line carries (addresses and names, no secrets). */
const TRACED_ARGS = new Set(["MAIL", "RCPT", "HELO", "EHLO", "VRFY"]);

export class ConnectionGone extends Error {
  override name = "ConnectionGone";
}
class InputTimeout extends Error {
  override name = "InputTimeout";
}
class ShutdownSignal extends Error {
  override name = "ShutdownSignal";
}

function isControl(e: unknown): boolean {
  return e instanceof ConnectionGone || e instanceof InputTimeout || e instanceof ShutdownSignal;
}

export interface ConnectionSetup {
  readonly socket: net.Socket;
  readonly cid: string;
  readonly role: ListenerRole;
  readonly listenerName: string;
  readonly serverName: string;
  readonly handler: SmtpHandler;
  readonly extensions: readonly SmtpExtension[];
  readonly table: ReadonlyMap<string, CommandSpec>;
  readonly limits: SmtpLimits;
  readonly features: ListenerFeatures;
  readonly tlsMode: "implicit" | "starttls" | "none";
  readonly tlsContext?: tls.SecureContext;
  readonly log: Logger;
  readonly clock: Clock;
  /** Milliseconds to hold the greeting (pregreet test); 0 greets at once. */
  readonly pregreetDelayMs: number;
  readonly onPregreet?: (passed: boolean) => void;
  /** Every refusal sent (metrics: SMTP rejections by reason). */
  readonly onRefused?: (code: string, role: ListenerRole) => void;
}

// Flush queued replies once this much is waiting even if more input is ready.
const OUT_HIGH_WATER = 16 * 1024;
const TLS_HANDSHAKE_MS = 30_000;

export class SmtpConnection {
  readonly #setup: ConnectionSetup;
  readonly #log: Logger;
  readonly #reader: SmtpReader;
  readonly #session: Session;
  readonly #ctx: CommandContext;
  #socket: net.Socket;
  #out: string[] = [];
  #outBytes = 0;
  #gone = false;
  #closing = false;
  #shutdown = false;
  #paused = false;
  #errors = 0;
  #wake: ((err?: Error) => void) | null = null;

  constructor(setup: ConnectionSetup) {
    this.#setup = setup;
    this.#log = setup.log;
    this.#socket = setup.socket;
    // The reader's cap is the longest line any command in the table may have (AUTH's
    // RFC 4954 §4 12288 octets, for instance); each command then checks its own limit.
    let cap = DEFAULT_READER_LINE_LIMIT;
    for (const spec of setup.table.values()) cap = Math.max(cap, setup.limits.commandLineOctets + (spec.extraLineOctets ?? 0));
    this.#reader = new SmtpReader(cap);
    const s = setup.socket;
    const info: MutableSessionInfo = {
      cid: setup.cid,
      role: setup.role,
      listenerName: setup.listenerName,
      serverName: setup.serverName,
      remoteAddress: unmapIPv4(s.remoteAddress ?? ""),
      remotePort: s.remotePort ?? 0,
      localAddress: unmapIPv4(s.localAddress ?? ""),
      localPort: s.localPort ?? 0,
      smtputf8: false,
      locals: new Map(),
    };
    this.#session = { state: initialState(), info };
    const self = this;
    this.#ctx = {
      session: this.#session,
      handler: setup.handler,
      limits: setup.limits,
      features: setup.features,
      extensions: setup.extensions,
      log: setup.log,
      clock: setup.clock,
      reader: this.#reader,
      verbs: [...setup.table.keys()],
      send: (r) => self.send(r),
      flush: () => self.flush(),
      nextEvent: () => self.#nextEvent(),
      readLine: async () => {
        const ev = await self.#nextEvent();
        if (ev.kind === "line") return Buffer.from(ev.line.buffer, ev.line.byteOffset, ev.line.byteLength).toString("utf8");
        if (ev.kind === "line-too-long") throw new SmtpError("lineTooLong");
        throw new Error(`readLine got ${ev.kind}`);
      },
      pendingInput: () => self.#reader.buffered,
      startTls: () => self.#startTls(),
      close: () => {
        self.#closing = true;
      },
    };
  }

  get info(): Readonly<MutableSessionInfo> {
    return this.#session.info;
  }

  /** Ask the session to end with 421 4.3.2 at the next opportunity (RFC 5321 §3.8). */
  shutdown(): void {
    if (this.#shutdown) return;
    this.#shutdown = true;
    this.#wake?.(new ShutdownSignal());
  }

  /** Forcibly close (after the shutdown grace period). */
  destroy(): void {
    this.#socket.destroy();
  }

  send(r: Reply): void {
    const text = formatReply(r);
    this.#out.push(text);
    this.#outBytes += text.length;
  }

  async flush(): Promise<void> {
    if (this.#out.length === 0 || this.#gone) {
      this.#out = [];
      this.#outBytes = 0;
      return;
    }
    const text = this.#out.join("");
    this.#out = [];
    this.#outBytes = 0;
    if (this.#socket.write(text, "utf8")) return;
    // The client is not reading; wait (bounded) instead of queueing without limit.
    const sock = this.#socket;
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        sock.off("drain", onDrain);
        sock.off("close", onClose);
        if (err) reject(err);
        else resolve();
      };
      const onDrain = () => done();
      const onClose = () => done(new ConnectionGone());
      const timer = setTimeout(() => done(new InputTimeout()), this.#setup.limits.writeTimeoutMs);
      sock.on("drain", onDrain);
      sock.on("close", onClose);
    });
  }

  #onData = (chunk: Buffer): void => {
    this.#reader.push(chunk);
    if (this.#reader.buffered > this.#setup.limits.readHighWater && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
    this.#wake?.();
  };

  #onClose = (): void => {
    this.#gone = true;
    this.#wake?.(new ConnectionGone());
  };

  #onError = (err: Error): void => {
    // ECONNRESET and TLS alerts are the client's business; "close" follows.
    this.#log.debug({ err: err.message }, "socket error");
  };

  #attach(sock: net.Socket): void {
    sock.on("data", this.#onData);
    sock.on("close", this.#onClose);
    sock.on("error", this.#onError);
  }

  #detach(sock: net.Socket): void {
    sock.off("data", this.#onData);
    sock.off("close", this.#onClose);
    sock.off("error", this.#onError);
  }

  /** Waits for more input, the timeout, the socket closing or shutdown. */
  #waitInput(timeoutMs: number): Promise<void> {
    if (this.#gone) return Promise.reject(new ConnectionGone());
    if (this.#shutdown) return Promise.reject(new ShutdownSignal());
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#wake = null;
        reject(new InputTimeout());
      }, timeoutMs);
      this.#wake = (err) => {
        clearTimeout(timer);
        this.#wake = null;
        if (err) reject(err);
        else resolve();
      };
    });
  }

  /**
   * Deadlines against slow clients (slowloris; Postfix's smtpd_per_record_deadline and
   * smtpd_min_data_rate): a command line must arrive whole within commandTimeoutMs of when we
   * started waiting for it, however it trickles in; message content must keep up
   * limits.minDataRate octets a second on average after the first dataTimeoutMs, on top of the
   * dataTimeoutMs each single wait may take.
   */
  #transferStart = 0;
  #transferBytes = 0;

  async #nextEvent(): Promise<ReaderEvent> {
    if (this.#outBytes > OUT_HIGH_WATER) await this.flush();
    const l = this.#setup.limits;
    const lineDeadline = Date.now() + l.commandTimeoutMs;
    for (;;) {
      const ev = this.#reader.next();
      if (ev) {
        if (ev.kind === "content") this.#transferBytes += ev.bytes.length;
        else if (ev.kind === "content-end") this.#transferStart = 0;
        return ev;
      }
      if (this.#gone) throw new ConnectionGone();
      await this.flush();
      if (this.#paused) {
        this.#paused = false;
        this.#socket.resume();
      }
      const now = Date.now();
      if (this.#reader.mode === "line") {
        await this.#waitInput(Math.max(1, Math.min(l.commandTimeoutMs, lineDeadline - now)));
        continue;
      }
      if (this.#transferStart === 0) {
        this.#transferStart = now;
        this.#transferBytes = 0;
      }
      let wait = l.dataTimeoutMs;
      if (l.minDataRate > 0) {
        const allowed = l.dataTimeoutMs + (this.#transferBytes * 1000) / l.minDataRate;
        wait = Math.min(wait, this.#transferStart + allowed - now);
        if (wait <= 0) throw new InputTimeout();
      }
      await this.#waitInput(Math.max(1, wait));
    }
  }

  async #startTls(): Promise<TlsInfo> {
    const ctx = this.#setup.tlsContext;
    if (!ctx) throw new SmtpError("tlsNotAvailable");
    const raw = this.#socket;
    this.#detach(raw);
    const sock = new tls.TLSSocket(raw, { isServer: true, secureContext: ctx });
    this.#socket = sock;
    this.#attach(sock);
    const outcome = await handshake(sock, TLS_HANDSHAKE_MS);
    if (outcome === "timeout") throw new InputTimeout();
    if (outcome !== "ok") {
      this.#log.info({ err: outcome.message }, "TLS handshake failed");
      throw new ConnectionGone();
    }
    const info = negotiated(sock);
    // ARCHITECTURE.md: TLS 1.2 or newer. The context should already enforce it (server.ts
    // smtpTlsContext); this guards contexts made elsewhere.
    if (!info) {
      this.#log.warn({ protocol: sock.getProtocol() }, "TLS version below 1.2 refused");
      sock.destroy();
      throw new ConnectionGone();
    }
    this.#session.info.tls = info;
    return info;
  }

  /** Runs the session to its end. Never throws. */
  async run(): Promise<void> {
    const info = this.#session.info;
    const sock = this.#socket;
    sock.setNoDelay(true);
    this.#attach(sock);
    let reason = "client quit";
    try {
      if (this.#setup.tlsMode === "implicit") await this.#startTls();
      try {
        const r = await this.#setup.handler.connect?.(info);
        if (r && r.remoteName) info.remoteName = r.remoteName;
      } catch (e) {
        // RFC 5321 §3.1: a server refusing a connection answers 554 (policy) or 421 (a local
        // fault, so the client retries later) instead of the 220 greeting.
        if (e instanceof SmtpError) {
          this.send(e.toReply());
          reason = `refused: ${e.code}`;
        } else {
          this.#log.warn({ err: e }, "connect hook failed");
          this.send(reply(421, "4.3.0", `${info.serverName} Local error, try again later`));
          reason = "connect hook failed";
        }
        return;
      }
      // RFC 5321 §4.2: the greeting carries no enhanced status (RFC 2034 §3).
      const proto = this.#setup.role === "lmtp" ? "LMTP" : "ESMTP";
      const banner = `${info.serverName} ${proto} Freehold`;
      if (this.#setup.pregreetDelayMs > 0) {
        // postscreen's teaser: the first line of a multi-line greeting goes out now, the last
        // after the wait. A real client waits for the last line (RFC 5321 §4.2.1); a bot that
        // speaks on seeing "220-" (or before anything) fails the test.
        this.#out.push(`220-${banner}\r\n`);
        const talked = await this.#pregreetTalked(this.#setup.pregreetDelayMs);
        this.#setup.onPregreet?.(!talked);
        if (!talked) info.pregreet = "passed";
        if (talked) {
          this.send(new SmtpError("earlyTalker").toReply());
          reason = "pregreet: client spoke first";
          return;
        }
      } else if (this.#reader.buffered > 0) {
        // Without the wait the rule still holds: nothing may arrive before our greeting (the
        // connect hook may have taken a while), so a client that pipelined past it is an early
        // talker too (RFC 5321 §3.1, RFC 2920 §3.1: PIPELINING starts after EHLO).
        this.send(new SmtpError("earlyTalker").toReply());
        reason = "client spoke before the greeting";
        return;
      }
      this.send(reply(220, undefined, banner));
      while (!this.#closing) {
        if (this.#shutdown) throw new ShutdownSignal();
        const ev = await this.#nextEvent();
        await this.#dispatch(ev);
      }
    } catch (e) {
      if (e instanceof InputTimeout) {
        reason = "timeout";
        this.send(new SmtpError("timeout").toReply());
      } else if (e instanceof ShutdownSignal) {
        reason = "shutdown";
        this.send(new SmtpError("shuttingDown").toReply());
      } else if (e instanceof ConnectionGone) {
        reason = "client disconnected";
      } else {
        reason = "internal error";
        this.#log.error({ err: e }, "session failed");
        this.send(reply(421, "4.3.0", "Local error, closing connection"));
      }
    } finally {
      const sink = openSink(this.#session.state);
      if (sink) {
        this.#session.state = initialState();
        await abortQuietly(sink, `session ended: ${reason}`, this.#log);
      }
      await this.#close();
      try {
        this.#setup.handler.close?.(info);
      } catch (err) {
        this.#log.warn({ err }, "handler close failed");
      }
      this.#log.info({ reason, errors: this.#errors }, "disconnect");
    }
  }

  async #pregreetTalked(ms: number): Promise<boolean> {
    await this.flush();
    if (this.#reader.buffered > 0) return true;
    try {
      await this.#waitInput(ms);
      return true;
    } catch (e) {
      if (e instanceof InputTimeout) return false;
      throw e;
    }
  }

  async #close(): Promise<void> {
    try {
      await this.flush();
    } catch {
      // Nothing more can be said to this client.
    }
    const sock = this.#socket;
    if (this.#gone) return;
    sock.end();
    // A client that does not close its side gets cut off shortly after.
    const t = setTimeout(() => sock.destroy(), 2000);
    t.unref();
    sock.once("close", () => clearTimeout(t));
  }

  /** The command being handled (for the refusal log line). */
  #current: { verb: string; arg?: string } | null = null;

  #replyError(err: SmtpError): void {
    this.send(err.toReply());
    this.#setup.onRefused?.(err.code, this.#setup.role);
    if (err.fault === "server") this.#log.warn({ code: err.code, err: err.cause ?? err.message }, "command failed (server fault)");
    // With the command and its argument for MAIL, RCPT, HELO/EHLO (never AUTH's), so
    // `freehold trace` shows which recipient was refused and with what reply.
    else this.#log.info({ code: err.code, reply: err.entry.reply, enhanced: err.entry.enhanced, text: err.text.slice(0, 200), verb: this.#current?.verb, arg: this.#current?.arg }, "command refused");
    if (err.closes) {
      this.#closing = true;
      return;
    }
    if (!err.counted) return;
    // Postfix smtpd_hard_error_limit: a client that keeps failing is cut off.
    this.#errors++;
    if (this.#errors >= this.#setup.limits.maxErrors) {
      this.send(new SmtpError("tooManyErrors").toReply());
      this.#closing = true;
    }
  }

  async #dispatch(ev: ReaderEvent): Promise<void> {
    if (ev.kind === "line-too-long") return this.#replyError(new SmtpError("lineTooLong"));
    if (ev.kind !== "line") throw new Error(`unexpected ${ev.kind} between commands`);
    const line = ev.line;
    if (line.includes(0)) return this.#replyError(new SmtpError("nulInCommand"));
    const text = Buffer.from(line.buffer, line.byteOffset, line.byteLength).toString("utf8");
    const sp = text.indexOf(" ");
    const verb = (sp === -1 ? text : text.slice(0, sp)).toUpperCase();
    const args = sp === -1 ? "" : text.slice(sp + 1);
    const spec = this.#setup.table.get(verb);
    const limit = this.#setup.limits.commandLineOctets + (spec?.extraLineOctets ?? 0);
    if (line.length + 2 > limit) return this.#replyError(new SmtpError("lineTooLong"));
    if (!spec) {
      this.#log.debug({ verb: verb.slice(0, 20) }, "unknown command");
      return this.#replyError(new SmtpError("unknownCommand"));
    }
    this.#log.debug({ verb, args: spec.sensitive ? "[redacted]" : args, bareLf: ev.bareLf || undefined }, "command");
    this.#current = { verb, arg: TRACED_ARGS.has(verb) ? args.slice(0, 300) : undefined };
    const phase = this.#session.state.phase;
    if (!spec.phases.includes(phase)) return this.#replyError(new SmtpError("badSequence", sequenceText(verb, phase)));
    try {
      const parsed = spec.parse(args, this.#ctx);
      await spec.handle(this.#ctx, parsed);
    } catch (e) {
      if (isControl(e)) throw e;
      this.#replyError(toSmtpError(e));
    }
  }
}
