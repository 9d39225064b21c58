// One client connection: socket I/O around a Session. Reads bytes into the protocol reader,
// hands framed commands to the session one at a time, and writes responses with back-pressure:
// every write waits for 'drain' when the socket's buffer is full, and the socket is paused
// while a command runs, so neither a slow reader nor a fast writer grows our memory.
import type { Socket } from "node:net";
import { TLSSocket } from "node:tls";
import zlib from "node:zlib";
import type { Logger } from "../log/logger.ts";
import { CommandReader, decideLiteral } from "./protocol/reader.ts";
import type { LiteralAnnouncement, ReaderEvent } from "./protocol/reader.ts";
import { parseCommand } from "./protocol/command-parser.ts";
import { ImapSyntaxError } from "./protocol/errors.ts";
import { capabilityResponse, continuation, tagged, untaggedStatus, formatCode } from "./protocol/response.ts";
import type { ResponseChunk } from "./protocol/wire-values.ts";
import { Session } from "./session.ts";
import type { Transport } from "./session.ts";
import type { StatusCache } from "./status-cache.ts";
import { capabilities } from "./capabilities.ts";
import { isMessageSlice } from "./message-source.ts";
import { nulTo80 } from "./fetch.ts";
import type { ImapDeps, ImapLimits, ImapListenerSpec } from "./types.ts";

/** Above this many unread octets the socket is paused until the reader catches up. */
const READ_HIGH_WATER = 256 * 1024;

/**
 * Literal octets a command's deadline grows by, per second (limits.commandTimeoutMs): the
 * minimum rate an upload must keep, as Postfix's smtpd_min_data_rate (500) for SMTP content.
 */
export const MIN_LITERAL_RATE = 500;

export class Connection implements Transport {
  readonly listener: ImapListenerSpec;
  readonly remoteAddress: string;
  readonly log: Logger;
  readonly session: Session;
  tls: boolean;
  lastActivity: number;
  lastWrite: number;
  /** When the connection was accepted (the login deadline counts from here). */
  readonly connectedAt: number;
  #deps: ImapDeps;
  #limits: ImapLimits;
  #socket: Socket;
  #reader: CommandReader;
  #waiter: (() => void) | null = null;
  /** RFC 4978 COMPRESS=DEFLATE streams, once negotiated. */
  #deflate: zlib.DeflateRaw | null = null;
  #inflate: zlib.InflateRaw | null = null;
  #closed = false;
  /** When the command now arriving began to (clock ms; 0 while none is partly read). */
  #commandSince = 0;
  /** Literal octets of that command that extend its deadline (types.ts commandTimeoutMs). */
  #commandLiteralOctets = 0;
  #done: Promise<void>;
  #resolveDone!: () => void;

  constructor(deps: ImapDeps, limits: ImapLimits, listener: ImapListenerSpec, socket: Socket, log: Logger, statusCache?: StatusCache) {
    this.#deps = deps;
    this.#limits = limits;
    this.listener = listener;
    this.#socket = socket;
    this.tls = socket instanceof TLSSocket;
    this.remoteAddress = socket.remoteAddress ?? "unknown";
    this.log = log;
    this.lastActivity = this.lastWrite = this.connectedAt = deps.clock.now();
    this.#reader = new CommandReader({ nonSyncLiterals: "literal+" });
    this.session = new Session(deps, limits, log, this, statusCache);
    this.#done = new Promise((r) => (this.#resolveDone = r));
    this.#attach(socket);
    socket.on("close", () => this.#onClose());
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Resolves when the connection has ended. */
  get done(): Promise<void> {
    return this.#done;
  }

  #onData = (chunk: Buffer): void => {
    if (this.#inflate) {
      // Back-pressure: while the inflater holds unprocessed input, read no more from the wire.
      if (!this.#inflate.write(chunk)) {
        this.#socket.pause();
        this.#inflate.once("drain", () => {
          if (this.#reader.buffered <= READ_HIGH_WATER) this.#socket.resume();
        });
      }
      return;
    }
    this.#onPlain(chunk);
  };

  #onPlain = (chunk: Buffer): void => {
    this.lastActivity = this.#deps.clock.now();
    this.#reader.push(chunk);
    if (this.#reader.buffered > READ_HIGH_WATER) {
      this.#socket.pause();
      // A compression bomb: a few KiB on the wire inflate to GiB. Stop the inflater too, so
      // what it emits is bounded by the reader's high water, not by the compression ratio.
      this.#inflate?.pause();
    }
    this.#wake();
  };

  #attach(sock: Socket): void {
    sock.on("data", this.#onData);
    sock.on("error", (e) => {
      this.log.debug({ err: e }, "imap socket error");
      this.#onClose();
    });
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = null;
    w?.();
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.session.close();
    this.#wake();
    this.#resolveDone();
  }

  /**
   * Whether the command now arriving is past its deadline (limits.commandTimeoutMs, extended by
   * its literal octets at MIN_LITERAL_RATE). The server's sweep asks; false when no command is
   * partly read.
   */
  commandOverdue(now: number): boolean {
    if (this.#commandSince === 0) return false;
    return now - this.#commandSince > this.#limits.commandTimeoutMs + (this.#commandLiteralOctets * 1000) / MIN_LITERAL_RATE;
  }

  /**
   * The next reader event, waiting for bytes as needed; null once the client is gone. `command`:
   * the loop is reading the next command, so a partly read one has a deadline (commandOverdue);
   * a command's own reads (IDLE's DONE, SASL) do not.
   */
  async #next(command = false): Promise<ReaderEvent | null> {
    for (;;) {
      if (this.#closed) return null;
      const ev = this.#reader.next();
      if (command) {
        if (ev.kind === "literal-data") this.#commandLiteralOctets += ev.bytes.length;
        if (ev.kind === "command" || ev.kind === "error") {
          this.#commandSince = 0;
          this.#commandLiteralOctets = 0;
        } else if (this.#commandSince === 0 && this.#reader.midCommand) this.#commandSince = this.#deps.clock.now();
      }
      if (ev.kind !== "need-more") return ev;
      this.#socket.resume();
      this.#inflate?.resume();
      await new Promise<void>((r) => (this.#waiter = r));
    }
  }

  // ---- Transport ------------------------------------------------------------------------------

  async write(chunks: ResponseChunk[]): Promise<void> {
    // The buffers of one batch go out in one write: one syscall (and one loopback/TLS record)
    // for a response's untagged lines instead of one per line. Message bodies stream as before.
    let run: Buffer[] = [];
    let runBytes = 0;
    const flushRun = async (): Promise<void> => {
      if (run.length === 0) return;
      const b = run.length === 1 ? run[0] : Buffer.concat(run, runBytes);
      run = [];
      runBytes = 0;
      await this.#writeBuf(b);
    };
    for (const c of chunks) {
      if (Buffer.isBuffer(c)) {
        run.push(c);
        runBytes += c.length;
        if (runBytes >= 65_536) await flushRun();
        continue;
      }
      await flushRun();
      if (isMessageSlice(c.source)) {
        for (const seg of c.source.segments) {
          if (Buffer.isBuffer(seg)) await this.#writeBuf(nulTo80(seg));
          else {
            let sent = 0;
            try {
              const rs = await this.#deps.blobs.read(seg.blobId, { start: seg.start, end: seg.end });
              // Literal data is CHAR8 (RFC 3501 §9): NUL goes out as 0x80 (see fetch.ts).
              for await (const part of rs) {
                sent += (part as Buffer).length;
                await this.#writeBuf(nulTo80(part as Buffer));
              }
            } catch (e) {
              this.#cutLiteral(seg.blobId, e);
              throw e;
            }
            // A file shorter than its row says (damaged after FETCH checked it) leaves the
            // literal short: the client would read our next response as message bytes.
            if (sent !== seg.end - seg.start) this.#cutLiteral(seg.blobId, new Error(`blob ${seg.blobId} gave ${sent} of ${seg.end - seg.start} bytes`));
          }
        }
      } else throw new Error("unknown deferred body");
    }
    await flushRun();
    // RFC 4978 §4: flush the compressor at the end of each response batch, so the client can
    // decode everything sent so far.
    const d = this.#deflate;
    if (d && !this.#closed) await new Promise<void>((r) => d.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
  }

  /**
   * A literal already announced cannot be completed (the blob vanished or shrank between
   * FETCH's check and the write): the only way to keep the client from misreading the stream
   * is to end the connection. Logged with the blob, like the FETCH check.
   */
  #cutLiteral(blobId: number, e: unknown): void {
    if (this.#closed) return;
    this.log.error({ err: e, blobId }, "message blob unreadable in the middle of a literal; closing the connection");
    this.#socket.destroy();
    this.#onClose();
  }

  async #writeBuf(b: Buffer): Promise<void> {
    if (this.#closed || b.length === 0) return;
    this.lastWrite = this.#deps.clock.now();
    if (this.#deflate) {
      if (this.#deflate.write(b)) return;
      const d = this.#deflate;
      await new Promise<void>((r) => d.once("drain", () => r()));
      return;
    }
    if (this.#socket.write(b)) return;
    // Back-pressure: wait until the kernel took the data (or the client left).
    await new Promise<void>((resolve) => {
      const sock = this.#socket;
      const done = (): void => {
        sock.off("drain", done);
        sock.off("close", done);
        resolve();
      };
      sock.on("drain", done);
      sock.on("close", done);
    });
  }

  async readLine(): Promise<string | null> {
    this.#reader.expectLine();
    for (;;) {
      const ev = await this.#next();
      if (ev === null) return null;
      if (ev.kind === "line") return ev.text;
      if (ev.kind === "error") return "";
    }
  }

  async startTls(): Promise<void> {
    const ctx = this.listener.secureContext;
    if (!ctx) throw new Error("no TLS context");
    // RFC 9051 §6.2.1 / RFC 7457 §2.2: bytes pipelined after STARTTLS are not commands.
    this.#reader.discardBuffered();
    const raw = this.#socket;
    raw.off("data", this.#onData);
    const sec = new TLSSocket(raw, { isServer: true, secureContext: ctx });
    try {
      await new Promise<void>((resolve, reject) => {
        sec.once("secure", () => resolve());
        // `on`: a failed handshake can report more than one error; 'close' without an error
        // (the client left) must settle too, or the session would wait forever.
        sec.on("error", reject);
        sec.once("close", () => reject(new Error("connection closed during the TLS handshake")));
      });
    } catch (e) {
      // The raw socket's stream now belongs to the TLS socket: nothing more can be said in
      // plain text, so the connection ends here.
      this.log.info({ err: e }, "imap STARTTLS handshake failed");
      sec.destroy();
      raw.destroy();
      this.#onClose();
      throw e;
    }
    this.#socket = sec;
    this.tls = true;
    this.#attach(sec);
  }

  /** Octets handed to the socket and not yet sent (back-pressure tests, metrics). */
  get writeBuffered(): number {
    return this.#socket.writableLength + (this.#deflate?.writableLength ?? 0);
  }

  get compressed(): boolean {
    return this.#deflate !== null;
  }

  /**
   * RFC 4978 §3: after the tagged OK both directions are raw DEFLATE streams. Bytes the client
   * pipelined after COMPRESS were sent uncompressed and cannot be commands: they are dropped.
   */
  startCompression(): void {
    this.#reader.discardBuffered();
    const inflate = zlib.createInflateRaw();
    inflate.on("data", (d: Buffer) => this.#onPlain(d));
    inflate.on("error", (e) => {
      this.log.debug({ err: e }, "imap: bad compressed data");
      this.end();
    });
    const deflate = zlib.createDeflateRaw({ level: 6 });
    deflate.on("data", (d: Buffer) => {
      // Back-pressure through the compressor: stop it while the socket is full.
      if (!this.#socket.write(d)) {
        deflate.pause();
        this.#socket.once("drain", () => deflate.resume());
      }
    });
    deflate.on("error", () => this.end());
    this.#inflate = inflate;
    this.#deflate = deflate;
  }

  // ---- the command loop -------------------------------------------------------------------------

  /** Greets, then reads and runs commands until LOGOUT, an unrecoverable error or the client leaves. */
  async run(greeting: string): Promise<void> {
    try {
      await this.write(untaggedStatus("OK", greeting, { code: "CAPABILITY", capabilities: capabilities(this.session) }));
      await this.#loop();
    } catch (e) {
      this.log.warn({ err: e }, "imap connection failed");
    } finally {
      this.end();
    }
  }

  async #loop(): Promise<void> {
    for (;;) {
      const ev = await this.#next(true);
      if (ev === null) return;
      switch (ev.kind) {
        case "literal":
          await this.#decideLiteral(ev);
          break;
        case "literal-data":
          this.#socket.pause();
          await this.session.streamData(ev.id, ev.bytes);
          break;
        case "literal-end":
          break;
        case "line":
          // A continuation line nobody asked for: the reader only emits these after expectLine().
          break;
        case "error":
          this.session.abortStreams();
          await this.#syntaxError(ev.error);
          if (ev.error.fatal) return;
          break;
        case "command": {
          this.#socket.pause();
          let cmd;
          try {
            cmd = parseCommand(ev.frame, { utf8: this.session.mode.utf8 });
          } catch (e) {
            this.session.abortStreams();
            if (!(e instanceof ImapSyntaxError)) throw e;
            await this.#syntaxError(e);
            if (e.fatal) return;
            break;
          }
          await this.session.run(cmd);
          if (this.session.state.kind === "logout") return;
          break;
        }
      }
    }
  }

  async #decideLiteral(ann: LiteralAnnouncement): Promise<void> {
    const authed = this.session.state.kind !== "not-authenticated";
    const d = decideLiteral(ann, {
      maxInlineLiteral: this.#limits.maxInlineLiteral,
      maxCommandBytes: this.#limits.maxCommandBytes,
      // Before login nobody may send us message data.
      maxAppendSize: authed ? this.#limits.maxAppendSize : 0,
    });
    if (d.action === "reject") {
      this.#reader.rejectLiteral();
      this.session.abortStreams();
      if (ann.tag) await this.write(tagged(ann.tag, d.status, d.text, { code: d.code }));
      else await this.write(untaggedStatus("BAD", d.text, { code: d.code }));
      return;
    }
    this.#reader.acceptLiteral(d.action);
    // An inline literal (at most maxInlineLiteral) arrives with no event until it is whole: its
    // announced size extends the command's deadline at once (a bounded grant: 64 KiB buys 131 s).
    // A streamed one (APPEND) extends it by what actually arrives (literal-data, #next).
    if (d.action === "inline") this.#commandLiteralOctets += ann.size;
    if (ann.sync) await this.write(continuation("Ready for literal data"));
  }

  async #syntaxError(e: ImapSyntaxError): Promise<void> {
    const code = e.responseCode ? ({ code: e.responseCode } as Parameters<typeof formatCode>[0]) : null;
    if (e.tag) await this.write(tagged(e.tag, e.status, e.message, code));
    else await this.write(untaggedStatus("BAD", e.message, code));
    if (e.fatal) await this.write(untaggedStatus("BYE", "Too many errors"));
  }

  /** Server-initiated end: BYE with a reason, then close (autologout, shutdown). */
  async bye(text: string): Promise<void> {
    if (this.#closed) return;
    await Promise.race([this.write(untaggedStatus("BYE", text)), new Promise((r) => setTimeout(r, 1000))]);
    this.end();
  }

  end(): void {
    if (this.#closed) return;
    if (this.#deflate) {
      // Close after the compressor's readable side ended: its last 'data' (the final DEFLATE
      // block, and output held back by back-pressure) can come after end()'s 'finish' callback,
      // and a socket already ended would drop it (found by src/fuzz/imap-session.ts).
      const sock = this.#socket;
      this.#deflate.once("end", () => sock.end());
      this.#deflate.end();
    } else this.#socket.end();
    // A client that never reads would keep the socket half-open: destroy after a grace period.
    const s = this.#socket;
    setTimeout(() => s.destroy(), 2000).unref();
    this.#onClose();
  }
}

export { capabilityResponse };
