// A deliberately small SMTP client for tests and benchmarks: it speaks exactly what we tell it
// (so tests can send malformed or pipelined input) and returns every reply with its code.
// Real-peer tests use swaks, smtplib, smtp-source and Postfix; this one drives crash tests and
// load where we need to know precisely which message got its 250.
import net from "node:net";
import tls from "node:tls";

export interface Reply {
  code: number;
  lines: string[];
  text: string;
}

export class SmtpTestClient {
  #socket: net.Socket | tls.TLSSocket;
  #buf = "";
  #waiters: Array<{ resolve: (r: Reply) => void; reject: (e: Error) => void }> = [];
  #replies: Reply[] = [];
  #pending: string[] = [];
  #closed = false;
  #error: Error | undefined;

  private constructor(socket: net.Socket | tls.TLSSocket) {
    this.#socket = socket;
    this.#attach(socket);
  }

  /** `localAddress`: the loopback address to connect from (e.g. 127.0.0.2, a listed client). */
  static async connect(port: number, host = "127.0.0.1", timeoutMs = 30_000, localAddress?: string): Promise<SmtpTestClient> {
    const socket = net.connect({ port, host, ...(localAddress ? { localAddress } : {}) });
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("connect timeout")), timeoutMs);
      socket.once("connect", () => {
        clearTimeout(t);
        resolve();
      });
      socket.once("error", (e) => {
        clearTimeout(t);
        reject(e);
      });
    });
    return new SmtpTestClient(socket);
  }

  #attach(socket: net.Socket | tls.TLSSocket): void {
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => this.#onData(d));
    socket.on("error", (e) => this.#fail(e));
    socket.on("close", () => this.#fail(new Error("connection closed")));
  }

  #fail(e: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#error = e;
    for (const w of this.#waiters.splice(0)) w.reject(e);
  }

  #onData(d: string): void {
    this.#buf += d;
    let i: number;
    while ((i = this.#buf.indexOf("\r\n")) >= 0) {
      const line = this.#buf.slice(0, i);
      this.#buf = this.#buf.slice(i + 2);
      this.#pending.push(line);
      // RFC 5321 §4.2.1: "250-" continues, "250 " ends a reply.
      if (line.length < 4 || line[3] !== "-") {
        const lines = this.#pending.splice(0);
        const reply: Reply = { code: Number(line.slice(0, 3)), lines, text: lines.map((l) => l.slice(4)).join("\n") };
        const w = this.#waiters.shift();
        if (w) w.resolve(reply);
        else this.#replies.push(reply);
      }
    }
  }

  /** The next complete reply. */
  /** The client side's port (to find this session's "connect" log line). */
  get localPort(): number | undefined {
    return this.#socket.localPort;
  }

  read(): Promise<Reply> {
    const r = this.#replies.shift();
    if (r) return Promise.resolve(r);
    if (this.#closed) return Promise.reject(this.#error ?? new Error("closed"));
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  write(data: string | Uint8Array): void {
    this.#socket.write(typeof data === "string" ? Buffer.from(data, "latin1") : data);
  }

  /** Send one command line and wait for its reply. */
  async cmd(line: string): Promise<Reply> {
    this.write(line + "\r\n");
    return this.read();
  }

  async startTls(servername = "localhost"): Promise<void> {
    const plain = this.#socket as net.Socket;
    plain.removeAllListeners("data");
    plain.removeAllListeners("close");
    plain.removeAllListeners("error");
    const secure = tls.connect({ socket: plain, servername, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once("secureConnect", () => resolve());
      secure.once("error", reject);
    });
    this.#socket = secure;
    this.#attach(secure);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Dot-stuff and terminate a message body for DATA (RFC 5321 §4.5.2). */
  static dataBody(message: string | Buffer): Buffer {
    const text = Buffer.isBuffer(message) ? message.toString("latin1") : message;
    let stuffed = text.replace(/\r\n\./g, "\r\n..");
    if (stuffed.startsWith(".")) stuffed = "." + stuffed;
    if (!stuffed.endsWith("\r\n")) stuffed += "\r\n";
    return Buffer.from(stuffed + ".\r\n", "latin1");
  }

  /**
   * One whole transaction, pipelined (RFC 2920): MAIL, RCPT..., DATA in one write, then the body.
   * Returns the final reply (250 when stored) and every reply on the way.
   */
  async send(from: string, to: string[], message: string | Buffer): Promise<{ final: Reply; replies: Reply[] }> {
    const cmds = [`MAIL FROM:<${from}>`, ...to.map((t) => `RCPT TO:<${t}>`), "DATA"];
    this.write(cmds.map((c) => c + "\r\n").join(""));
    const replies: Reply[] = [];
    for (let i = 0; i < cmds.length; i++) replies.push(await this.read());
    const data = replies[replies.length - 1];
    if (data.code !== 354) {
      return { final: data, replies };
    }
    this.write(SmtpTestClient.dataBody(message));
    const final = await this.read();
    replies.push(final);
    return { final, replies };
  }

  async quit(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.cmd("QUIT");
    } catch {
      // the server may close first
    }
    this.#socket.destroy();
    this.#closed = true;
  }

  destroy(): void {
    this.#closed = true;
    this.#socket.destroy();
  }
}
