// One IMAP connection for the differential runner: bytes in, complete responses out (a line and
// the literals it announces, RFC 9051 §4.3), with no interpretation beyond framing, so that two
// servers' answers reach the normalizer exactly as they were sent.
import net from "node:net";

export class WireConnection {
  #sock: net.Socket;
  #buf: Buffer = Buffer.alloc(0);
  #waiters: (() => void)[] = [];
  closed = false;

  private constructor(sock: net.Socket) {
    this.#sock = sock;
    sock.on("data", (d: Buffer) => {
      this.#buf = this.#buf.length === 0 ? d : Buffer.concat([this.#buf, d]);
      this.#wake();
    });
    const end = (): void => {
      this.closed = true;
      this.#wake();
    };
    sock.on("close", end);
    sock.on("error", end);
  }

  static async connect(port: number): Promise<WireConnection> {
    const sock = net.connect({ host: "127.0.0.1", port });
    await new Promise<void>((resolve, reject) => {
      sock.once("connect", () => resolve());
      sock.once("error", reject);
    });
    sock.setNoDelay(true);
    return new WireConnection(sock);
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  write(data: string | Buffer): void {
    if (!this.closed) this.#sock.write(data);
  }

  /** The length of the first complete response in the buffer, or -1. */
  #complete(): number {
    let pos = 0;
    for (;;) {
      const nl = this.#buf.indexOf("\r\n", pos, "latin1");
      if (nl < 0) return -1;
      const tail = this.#buf.toString("latin1", Math.max(pos, nl - 24), nl);
      const m = /~?\{(\d+)\+?\}$/.exec(tail);
      if (!m) return nl + 2;
      const litEnd = nl + 2 + Number(m[1]);
      if (this.#buf.length < litEnd) return -1;
      pos = litEnd;
    }
  }

  /**
   * The next complete response, waiting at most timeoutMs; null on timeout or when the
   * connection closed with nothing left to read.
   */
  async next(timeoutMs: number): Promise<Buffer | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const n = this.#complete();
      if (n >= 0) {
        const out = Buffer.from(this.#buf.subarray(0, n));
        this.#buf = this.#buf.subarray(n);
        return out;
      }
      if (this.closed) {
        if (this.#buf.length === 0) return null;
        const rest = this.#buf;
        this.#buf = Buffer.alloc(0);
        return rest;
      }
      const left = deadline - Date.now();
      if (left <= 0) return null;
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        timer = setTimeout(r, left);
      });
      clearTimeout(timer);
    }
  }

  destroy(): void {
    this.#sock.destroy();
    this.closed = true;
  }
}
