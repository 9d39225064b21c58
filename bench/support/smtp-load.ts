// SMTP load generator for benchmarks: N parallel senders over raw sockets, each either opening a
// new connection per message or reusing one, pipelining MAIL/RCPT/DATA (RFC 2920 §3.1: DATA may
// end a pipelined group) and timing each message from MAIL FROM to the final 250. The same
// generator drives every server, so differences are the servers'.
import net from "node:net";
import tls from "node:tls";
import { once } from "node:events";

export interface LoadOptions {
  host: string;
  port: number;
  /** Messages to send in total. */
  messages: number;
  /** Parallel senders. */
  connections: number;
  /** true: one connection per sender for all its messages; false: a new connection per message. */
  reuse: boolean;
  /** Size of each message in bytes (headers + body, before dot-stuffing; the body has no dots). */
  messageBytes: number;
  from: string;
  /** Recipient of message i. */
  rcpt: (i: number) => string;
  helo?: string;
  /** Give up on the whole run after this long; unsent messages count as not sent. */
  deadlineMs?: number;
  /** Per-reply timeout. */
  replyTimeoutMs?: number;
  /** STARTTLS after EHLO (RFC 3207), then EHLO again. */
  starttls?: boolean;
  /** AUTH PLAIN (RFC 4954) once per connection, after STARTTLS when that is on. */
  auth?: { user: string; pass: string };
  /** Message i as sent (CRLF line ends, without the final "."); default: a generated one of
   * messageBytes. Lines starting with "." are dot-stuffed here. */
  message?: (i: number) => string;
}

export interface LoadResult {
  acked: number;
  rejected: number;
  /** Connection or protocol failures. */
  errors: number;
  /** The first few distinct error texts. */
  errorSamples: string[];
  /** ms since the run's start, when the last message was acknowledged. */
  lastAckMs: number;
  elapsedMs: number;
  /** Per-message latency, MAIL FROM sent → final 250, in ms. */
  latenciesMs: number[];
  startedAt: number;
}

interface Reply {
  code: number;
  text: string;
}

/** A minimal SMTP client connection: queued replies, multiline aware (RFC 5321 §4.2.1). */
class Conn {
  sock: net.Socket;
  #buf = "";
  #lines: string[] = [];
  #replies: Reply[] = [];
  #waiters: Array<{ resolve: (r: Reply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }> = [];
  #closed: Error | null = null;

  constructor(sock: net.Socket) {
    this.sock = sock;
    sock.setNoDelay(true);
    this.#attach(sock);
  }

  #attach(sock: net.Socket): void {
    sock.setEncoding("latin1");
    sock.on("data", (d: string) => this.#onData(d));
    sock.on("error", (e) => this.#fail(e));
    sock.on("close", () => this.#fail(new Error("connection closed")));
  }

  /** RFC 3207 §4: after "220 Ready to start TLS" the session restarts inside TLS. */
  async startTls(): Promise<void> {
    const raw = this.sock;
    raw.removeAllListeners("data");
    raw.removeAllListeners("close");
    raw.removeAllListeners("error");
    raw.on("error", () => {}); // reported through the TLS socket
    const secure = tls.connect({ socket: raw, rejectUnauthorized: false });
    this.sock = secure;
    this.#buf = "";
    this.#attach(secure);
    await once(secure, "secureConnect");
  }

  #onData(d: string): void {
    this.#buf += d;
    let i: number;
    while ((i = this.#buf.indexOf("\n")) >= 0) {
      const line = this.#buf.slice(0, i).replace(/\r$/, "");
      this.#buf = this.#buf.slice(i + 1);
      this.#lines.push(line);
      // "250-..." continues, "250 ..." (or a bare code) ends the reply.
      if (line.length < 4 || line[3] !== "-") {
        const reply = { code: Number(line.slice(0, 3)), text: this.#lines.join("\n") };
        this.#lines = [];
        const w = this.#waiters.shift();
        if (w) {
          clearTimeout(w.timer);
          w.resolve(reply);
        } else {
          this.#replies.push(reply);
        }
      }
    }
  }

  #fail(e: Error): void {
    if (this.#closed) return;
    this.#closed = e;
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(e);
    }
  }

  reply(timeoutMs: number): Promise<Reply> {
    const r = this.#replies.shift();
    if (r) return Promise.resolve(r);
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const idx = this.#waiters.findIndex((w) => w.timer === timer);
        if (idx >= 0) this.#waiters.splice(idx, 1);
        reject(new Error("reply timeout"));
        this.sock.destroy();
      }, timeoutMs);
      this.#waiters.push({ resolve, reject, timer });
    });
  }

  write(data: string | Buffer): void {
    this.sock.write(data);
  }
}

async function connect(host: string, port: number): Promise<Conn> {
  const sock = net.connect({ host, port });
  const conn = new Conn(sock);
  await once(sock, "connect");
  return conn;
}

/** The fixed body: 76-character lines of letters, no leading dots, ending with CRLF. */
function makeBody(bytes: number): Buffer {
  const line = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmn\r\n";
  const n = Math.max(1, Math.ceil(bytes / line.length));
  return Buffer.from(line.repeat(n).slice(0, Math.max(2, bytes - 2)) + "\r\n", "latin1");
}

function makeHeader(i: number, from: string, to: string, runId: string): string {
  return (
    `From: <${from}>\r\n` +
    `To: <${to}>\r\n` +
    `Subject: benchmark message ${i}\r\n` +
    `Date: ${new Date().toUTCString().replace("GMT", "+0000")}\r\n` +
    `Message-ID: <${runId}.${i}@bench.test>\r\n` +
    `MIME-Version: 1.0\r\n` +
    `Content-Type: text/plain; charset=us-ascii\r\n` +
    `\r\n`
  );
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const runId = `${Date.now().toString(36)}.${process.pid}`;
  const helo = o.helo ?? "load.bench.test";
  const replyTimeout = o.replyTimeoutMs ?? 60_000;
  const headerGuess = makeHeader(o.messages, o.from, o.rcpt(0), runId).length;
  const body = makeBody(Math.max(64, o.messageBytes - headerGuess));
  const startedAt = Date.now();
  const deadline = startedAt + (o.deadlineMs ?? 600_000);
  const res: LoadResult = {
    acked: 0,
    rejected: 0,
    errors: 0,
    errorSamples: [],
    lastAckMs: 0,
    elapsedMs: 0,
    latenciesMs: [],
    startedAt,
  };
  const noteError = (e: string) => {
    res.errors++;
    if (res.errorSamples.length < 5 && !res.errorSamples.includes(e)) res.errorSamples.push(e);
  };
  let next = 0;

  async function open(): Promise<Conn> {
    const c = await connect(o.host, o.port);
    const greet = await c.reply(replyTimeout);
    if (greet.code !== 220) throw new Error(`greeting: ${greet.text}`);
    c.write(`EHLO ${helo}\r\n`);
    const ehlo = await c.reply(replyTimeout);
    if (ehlo.code !== 250) throw new Error(`EHLO: ${ehlo.text}`);
    if (!/^250[- ]PIPELINING/im.test(ehlo.text)) throw new Error("server does not offer PIPELINING");
    if (o.starttls) {
      c.write("STARTTLS\r\n");
      const ready = await c.reply(replyTimeout);
      if (ready.code !== 220) throw new Error(`STARTTLS: ${ready.text}`);
      await c.startTls();
      c.write(`EHLO ${helo}\r\n`);
      const again = await c.reply(replyTimeout);
      if (again.code !== 250) throw new Error(`EHLO after STARTTLS: ${again.text}`);
    }
    if (o.auth) {
      const token = Buffer.from(`\0${o.auth.user}\0${o.auth.pass}`, "utf8").toString("base64");
      c.write(`AUTH PLAIN ${token}\r\n`);
      const r = await c.reply(replyTimeout);
      if (r.code !== 235) throw new Error(`AUTH: ${r.text}`);
    }
    return c;
  }

  async function quit(c: Conn): Promise<void> {
    c.write("QUIT\r\n");
    await c.reply(5000).catch(() => undefined);
    c.sock.destroy();
  }

  async function sender(): Promise<void> {
    let conn: Conn | null = null;
    while (next < o.messages && Date.now() < deadline) {
      const i = next++;
      try {
        conn ??= await open();
        const to = o.rcpt(i);
        const t0 = performance.now();
        conn.write(`MAIL FROM:<${o.from}>\r\nRCPT TO:<${to}>\r\nDATA\r\n`);
        const mail = await conn.reply(replyTimeout);
        const rcpt = await conn.reply(replyTimeout);
        const data = await conn.reply(replyTimeout);
        if (data.code !== 354) {
          // RFC 2920 §3.1: after a refused RCPT the server answers DATA with 503/554; reset.
          res.rejected++;
          if (res.errorSamples.length < 5) res.errorSamples.push(`${mail.code}/${rcpt.code}/${data.text}`);
          conn.write("RSET\r\n");
          await conn.reply(replyTimeout);
        } else {
          conn.sock.cork();
          if (o.message) {
            // RFC 5321 §4.5.2: a line starting with "." gets one more.
            conn.write(o.message(i).replace(/^\./gm, "..").replace(/(?<!\r\n)$/, "\r\n"));
          } else {
            conn.write(makeHeader(i, o.from, to, runId));
            conn.write(body);
          }
          conn.write(".\r\n");
          conn.sock.uncork();
          const done = await conn.reply(replyTimeout);
          if (done.code === 250) {
            res.acked++;
            res.latenciesMs.push(performance.now() - t0);
            res.lastAckMs = Date.now() - startedAt;
          } else {
            res.rejected++;
            if (res.errorSamples.length < 5) res.errorSamples.push(`end of data: ${done.text}`);
          }
        }
        if (!o.reuse) {
          await quit(conn);
          conn = null;
        }
      } catch (err) {
        noteError((err as Error).message);
        conn?.sock.destroy();
        conn = null;
      }
    }
    if (conn) await quit(conn);
  }

  await Promise.all(Array.from({ length: o.connections }, () => sender()));
  res.elapsedMs = Date.now() - startedAt;
  return res;
}
