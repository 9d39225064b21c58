// Test support for SMTP wire tests: an in-memory handler, a server on an ephemeral loopback
// port, and a raw client that reads whole (multi-line) replies.
import net from "node:net";
import tls from "node:tls";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { SmtpServer, smtpTlsContext } from "../../src/smtp/server.ts";
import type { ListenerOptions, SmtpServerOptions } from "../../src/smtp/server.ts";
import type { EndInfo, Envelope, MessageSink, SessionInfo, SmtpHandler } from "../../src/smtp/types.ts";
import type { Mailbox } from "../../src/smtp/address.ts";
import { SmtpError } from "../../src/smtp/errors.ts";
import { ok } from "../../src/smtp/reply.ts";
import { silentLogger } from "../../src/log/logger.ts";
import type { Logger } from "../../src/log/logger.ts";
import { ManualClock } from "../../src/clock.ts";

export interface StoredMessage {
  readonly envelope: Envelope;
  readonly body: Buffer;
  readonly end: EndInfo;
  readonly session: { helo?: string; tls?: SessionInfo["tls"]; cid: string };
}

/** Accepts mail for `localDomains`, knows the users in `users`, keeps messages in memory. */
export class MemoryHandler implements SmtpHandler {
  readonly messages: StoredMessage[] = [];
  readonly aborted: string[] = [];
  readonly users = new Set<string>(["bob@freehold.test", "alice@freehold.test"]);
  readonly localDomains = new Set<string>(["freehold.test"]);
  connects = 0;
  closes = 0;
  /** Test switches. */
  failWrite: Error | null = null;
  failEnd: Error | null = null;
  failRcpt: Error | null = null;
  writeDelayMs = 0;
  /** Resolves when the next abort happens. */
  onAbort: (() => void) | null = null;

  async connect(): Promise<void> {
    this.connects++;
  }

  close(): void {
    this.closes++;
  }

  async mailFrom(): Promise<void> {}

  async rcptTo(_s: SessionInfo, to: Mailbox, _p: unknown, info: { postmaster: boolean }): Promise<unknown> {
    if (this.failRcpt) throw this.failRcpt;
    if (info.postmaster) return "postmaster";
    const domain = to.domain.toLowerCase();
    if (!this.localDomains.has(domain)) throw new SmtpError("relayDenied");
    const addr = `${to.localPart.toLowerCase()}@${domain}`;
    if (to.localPart.toLowerCase() === "postmaster") return addr;
    if (!this.users.has(addr)) throw new SmtpError("unknownUser");
    return addr;
  }

  async data(session: SessionInfo, envelope: Envelope): Promise<MessageSink> {
    const chunks: Buffer[] = [];
    const h = this;
    return {
      async write(chunk) {
        if (h.failWrite) throw h.failWrite;
        if (h.writeDelayMs) await new Promise((r) => setTimeout(r, h.writeDelayMs));
        chunks.push(Buffer.from(chunk));
      },
      async end(info) {
        if (h.failEnd) throw h.failEnd;
        h.messages.push({ envelope, body: Buffer.concat(chunks), end: info, session: { helo: session.helo?.name, tls: session.tls, cid: session.cid } });
        return ok("2.0.0", `Ok: queued as m${h.messages.length}`);
      },
      async abort(reason) {
        h.aborted.push(reason);
        h.onAbort?.();
      },
    };
  }

  nextAbort(): Promise<void> {
    return new Promise((r) => {
      this.onAbort = () => {
        this.onAbort = null;
        r();
      };
    });
  }
}

export interface TestServer {
  readonly server: SmtpServer;
  readonly handler: MemoryHandler;
  readonly port: number;
  readonly clock: ManualClock;
  close(): Promise<void>;
}

export async function startServer(
  opts: Partial<Omit<SmtpServerOptions, "handler">> & { handler?: MemoryHandler; listener?: Partial<ListenerOptions>; logger?: Logger } = {},
): Promise<TestServer> {
  const handler = opts.handler ?? new MemoryHandler();
  const clock = new ManualClock();
  const server = new SmtpServer({
    hostname: "mx.freehold.test",
    logger: opts.logger ?? silentLogger(),
    clock,
    ...opts,
    handler,
  });
  const l = await server.listen({ role: "mx", host: "127.0.0.1", port: 0, tls: { mode: "none" }, ...opts.listener });
  return { server, handler, port: l.port, clock, close: () => server.shutdown(2000) };
}

export interface WireReply {
  readonly code: number;
  readonly lines: string[];
  /** All lines joined with "\n", as received (without CRLF). */
  readonly raw: string;
}

export class RawClient {
  socket: net.Socket;
  #buf = "";
  #ended = false;
  #waiters: (() => void)[] = [];
  /** Every chunk as it arrived (to see how replies were batched into writes). */
  readonly chunks: string[] = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.#attach(socket);
  }

  #attach(s: net.Socket): void {
    s.setEncoding("utf8");
    s.on("data", (d: string) => {
      this.#buf += d;
      this.chunks.push(d);
      this.#kick();
    });
    s.on("close", () => {
      this.#ended = true;
      this.#kick();
    });
    s.on("error", () => {});
  }

  #kick(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  static connect(port: number, opts: { greeting?: boolean } = {}): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: "127.0.0.1" }, async () => {
        const c = new RawClient(s);
        if (opts.greeting !== false) {
          const g = await c.reply();
          if (g.code !== 220) reject(new Error(`greeting ${g.raw}`));
        }
        resolve(c);
      });
      s.once("error", reject);
    });
  }

  get ended(): boolean {
    return this.#ended;
  }

  write(data: string | Uint8Array): void {
    this.socket.write(data);
  }

  async #wait(timeoutMs: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timeout; buffer: ${JSON.stringify(this.#buf)}`)), timeoutMs);
      this.#waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** The next complete reply (RFC 5321 §4.2.1: lines "ddd-" then one "ddd "). */
  async reply(timeoutMs = 5000): Promise<WireReply> {
    for (;;) {
      const lines: string[] = [];
      let pos = 0;
      for (;;) {
        const nl = this.#buf.indexOf("\r\n", pos);
        if (nl === -1) break;
        const line = this.#buf.slice(pos, nl);
        lines.push(line);
        pos = nl + 2;
        if (/^\d{3}( |$)/.test(line)) {
          this.#buf = this.#buf.slice(pos);
          return { code: Number(line.slice(0, 3)), lines, raw: lines.join("\n") };
        }
      }
      if (this.#ended) throw new Error(`connection closed; buffer: ${JSON.stringify(this.#buf)}`);
      await this.#wait(timeoutMs);
    }
  }

  /** Sends a command line and returns its reply. */
  async cmd(line: string): Promise<WireReply> {
    this.write(`${line}\r\n`);
    return this.reply();
  }

  /** Resolves when the server has closed the connection. */
  async closed(timeoutMs = 5000): Promise<void> {
    while (!this.#ended) await this.#wait(timeoutMs);
  }

  /** Everything received and not yet parsed as a reply. */
  get pending(): string {
    return this.#buf;
  }

  async startTls(): Promise<tls.TLSSocket> {
    const raw = this.socket;
    raw.removeAllListeners("data");
    raw.removeAllListeners("close");
    const t = tls.connect({ socket: raw, rejectUnauthorized: false, servername: "mx.freehold.test" });
    await new Promise<void>((resolve, reject) => {
      t.once("secureConnect", () => resolve());
      t.once("error", reject);
    });
    this.socket = t;
    this.#attach(t);
    return t;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A client that says EHLO and expects 250. */
export async function ehloClient(port: number, name = "client.test"): Promise<RawClient> {
  const c = await RawClient.connect(port);
  const r = await c.cmd(`EHLO ${name}`);
  if (r.code !== 250) throw new Error(`EHLO: ${r.raw}`);
  return c;
}

/** A self-signed certificate made with openssl in a temp dir (removed at once). */
export function selfSignedCert(cn = "mx.freehold.test"): { key: string; cert: string } {
  const dir = mkdtempSync(path.join(tmpdir(), "freehold-smtp-cert-"));
  try {
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
      "-subj", `/CN=${cn}`, "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem")], { stdio: "ignore" });
    return { key: readFileSync(path.join(dir, "key.pem"), "utf8"), cert: readFileSync(path.join(dir, "cert.pem"), "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function tlsContext(): tls.SecureContext {
  return smtpTlsContext(selfSignedCert());
}

/** Polls until `cond` holds (for effects that follow a socket close). */
export async function until(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
