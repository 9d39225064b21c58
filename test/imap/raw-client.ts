// A minimal IMAP client for exact wire assertions: send a command, collect the untagged lines
// until its tagged response. Literals in responses are kept inline in the line they belong to.
import net from "node:net";

export interface Reply {
  status: string;
  text: string;
  untagged: string[];
}

export class RawClient {
  #sock: net.Socket;
  #buf = Buffer.alloc(0);
  #lines: string[] = [];
  #waiters: Array<() => void> = [];
  #n = 0;
  closed = false;

  private constructor(sock: net.Socket) {
    this.#sock = sock;
    sock.on("data", (d) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      this.#split();
    });
    sock.on("close", () => {
      this.closed = true;
      this.#wake();
    });
  }

  static async connect(port: number): Promise<RawClient> {
    const sock = net.connect(port, "127.0.0.1");
    await new Promise<void>((r, j) => sock.once("connect", r).once("error", j));
    const c = new RawClient(sock);
    await c.line(); // greeting
    return c;
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  #split(): void {
    for (;;) {
      const i = this.#buf.indexOf("\r\n");
      if (i < 0) break;
      let line = this.#buf.subarray(0, i).toString("latin1");
      let end = i + 2;
      // A literal at the end of the line: take its bytes and the rest of the line with it.
      let m = /\{(\d+)\}$/.exec(line);
      let complete = true;
      while (m) {
        const n = Number(m[1]);
        if (this.#buf.length < end + n) {
          complete = false;
          break;
        }
        const j = this.#buf.indexOf("\r\n", end + n);
        if (j < 0) {
          complete = false;
          break;
        }
        line += this.#buf.subarray(end, j).toString("latin1");
        end = j + 2;
        m = /\{(\d+)\}$/.exec(line);
      }
      if (!complete) break;
      this.#lines.push(line);
      this.#buf = this.#buf.subarray(end);
    }
    this.#wake();
  }

  /** The next line from the server (waits). */
  async line(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.#lines.length === 0) {
      if (this.closed) throw new Error("connection closed");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("timeout waiting for a line");
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.#lines.shift()!;
  }

  /** Lines already received and not consumed. */
  pending(): string[] {
    return this.#lines.splice(0);
  }

  send(data: string | Buffer): void {
    this.#sock.write(data);
  }

  async cmd(command: string): Promise<Reply> {
    const tag = `t${++this.#n}`;
    this.send(`${tag} ${command}\r\n`);
    return this.until(tag);
  }

  async until(tag: string): Promise<Reply> {
    const untagged: string[] = [];
    for (;;) {
      const l = await this.line();
      if (l.startsWith(tag + " ")) {
        const rest = l.slice(tag.length + 1);
        return { status: rest.split(" ")[0], text: rest, untagged };
      }
      untagged.push(l);
    }
  }

  async login(user: string, password: string): Promise<void> {
    const r = await this.cmd(`LOGIN "${user}" "${password}"`);
    if (r.status !== "OK") throw new Error(`login failed: ${r.text}`);
  }

  close(): void {
    this.#sock.destroy();
  }
}
