// A minimal IMAP client for benchmarks: tagged commands, responses collected until the tagged
// status, literals ({n} at the end of a line, RFC 9051 §4.3) read by byte count so a FETCH of
// headers cannot confuse the framing. Plain TCP or implicit TLS.
import net from "node:net";
import tls from "node:tls";
import { once } from "node:events";

export interface ImapResponse {
  status: "OK" | "NO" | "BAD";
  /** Untagged and continuation lines, literals included inline. */
  lines: string[];
  /** The tagged line. */
  tagged: string;
}

interface Waiter {
  tag: string | null; // null: waiting for the greeting or a continuation
  lines: string[];
  resolve: (r: ImapResponse) => void;
  reject: (e: Error) => void;
  continuation?: boolean;
}

export class ImapConn {
  readonly sock: net.Socket;
  #buf = "";
  #partial = "";
  #need = 0;
  #tagN = 0;
  #waiters: Waiter[] = [];
  #early: string[] = [];
  #error: Error | null = null;

  constructor(sock: net.Socket) {
    this.sock = sock;
    sock.setNoDelay(true);
    sock.setEncoding("latin1");
    sock.on("data", (d: string) => this.#onData(d));
    sock.on("error", (e) => this.#fail(e));
    sock.on("close", () => this.#fail(new Error("connection closed")));
  }

  static async connect(host: string, port: number, opts: { tls?: boolean } = {}): Promise<ImapConn> {
    const sock = opts.tls
      ? tls.connect({ host, port, rejectUnauthorized: false, servername: undefined })
      : net.connect({ host, port });
    const c = new ImapConn(sock);
    await once(sock, opts.tls ? "secureConnect" : "connect");
    const greeting = await c.#waitLine((l) => l.startsWith("* "));
    if (!greeting.startsWith("* OK")) throw new Error(`greeting: ${greeting}`);
    return c;
  }

  #onData(d: string): void {
    this.#buf += d;
    let pos = 0;
    for (;;) {
      if (this.#need > 0) {
        const take = Math.min(this.#need, this.#buf.length - pos);
        this.#partial += this.#buf.slice(pos, pos + take);
        pos += take;
        this.#need -= take;
        if (this.#need > 0) break;
      }
      const idx = this.#buf.indexOf("\r\n", pos);
      if (idx < 0) break;
      const line = this.#buf.slice(pos, idx);
      pos = idx + 2;
      this.#partial += line;
      const lit = /\{(\d+)\+?\}$/.exec(line);
      if (lit) {
        this.#need = Number(lit[1]);
        this.#partial += "\r\n";
        continue;
      }
      const full = this.#partial;
      this.#partial = "";
      this.#onLine(full);
    }
    this.#buf = this.#buf.slice(pos);
  }

  #onLine(line: string): void {
    const w = this.#waiters[0];
    if (!w) {
      this.#early.push(line);
      return;
    }
    if (w.tag === null) {
      // Greeting or continuation request.
      if (w.continuation ? line.startsWith("+") : true) {
        this.#waiters.shift();
        w.resolve({ status: "OK", lines: [], tagged: line });
      } else {
        w.lines.push(line);
      }
      return;
    }
    if (line.startsWith(`${w.tag} `)) {
      this.#waiters.shift();
      const status = line.slice(w.tag.length + 1, w.tag.length + 4).trim() as ImapResponse["status"];
      w.resolve({ status: status === "OK" || status === "NO" ? status : "BAD", lines: w.lines, tagged: line });
    } else {
      w.lines.push(line);
    }
  }

  #fail(e: Error): void {
    if (this.#error) return;
    this.#error = e;
    for (const w of this.#waiters.splice(0)) w.reject(e);
  }

  #waitLine(match: (l: string) => boolean, continuation = false): Promise<string> {
    const early = this.#early.findIndex(match);
    if (early >= 0) return Promise.resolve(this.#early.splice(early, 1)[0]);
    if (this.#error) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      this.#waiters.push({ tag: null, lines: [], continuation, resolve: (r) => resolve(r.tagged), reject });
    });
  }

  /** Sends `<tag> <command>` and resolves with the tagged response (NO/BAD included). */
  command(text: string): Promise<ImapResponse> {
    if (this.#error) return Promise.reject(this.#error);
    const tag = `a${++this.#tagN}`;
    const p = new Promise<ImapResponse>((resolve, reject) => {
      this.#waiters.push({ tag, lines: [], resolve, reject });
    });
    this.sock.write(`${tag} ${text}\r\n`);
    return p;
  }

  /** Like command, but throws unless the status is OK. */
  async ok(text: string): Promise<ImapResponse> {
    const r = await this.command(text);
    if (r.status !== "OK") throw new Error(`${text.split(" ")[0]}: ${r.tagged}`);
    return r;
  }

  /** Starts IDLE (RFC 2177) and resolves at the server's "+" continuation. */
  async idle(): Promise<void> {
    const tag = `a${++this.#tagN}`;
    // The tagged completion arrives only after DONE; its waiter stays queued behind this one.
    const cont = this.#waitLine((l) => l.startsWith("+"), true);
    this.sock.write(`${tag} IDLE\r\n`);
    await cont;
  }

  /**
   * RFC 9051 §6.2.1 STARTTLS: after the tagged OK, TLS on the same socket; returns the session
   * over the TLS socket (this object must not be used again). No greeting follows the handshake.
   */
  async startTls(): Promise<ImapConn> {
    await this.ok("STARTTLS");
    const raw = this.sock;
    raw.removeAllListeners("data");
    raw.removeAllListeners("error");
    raw.removeAllListeners("close");
    const sec = tls.connect({ socket: raw, rejectUnauthorized: false, servername: undefined });
    await once(sec, "secureConnect");
    return new ImapConn(sec);
  }

  close(): void {
    this.sock.destroy();
  }

  async logout(): Promise<void> {
    await this.command("LOGOUT").catch(() => undefined);
    this.sock.destroy();
  }
}
