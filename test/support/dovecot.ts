// A throwaway Debian Dovecot (2.3) on 127.0.0.1 for differential tests: its own temp state folder,
// an ephemeral port, one passwd-file user, Maildir storage, no TLS. Settings follow
// ../shared/peers/dovecot (standalone: never reads /etc/dovecot). Needs root, because Dovecot
// drops to the "mail", "dovecot" and "dovenull" system users.
// Also a tiny raw IMAP client that returns each response exactly as sent, so tests can compare
// the wire form rather than a library's interpretation of it.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import { existsSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export const DOVECOT_BIN = "/usr/sbin/dovecot";

export interface DovecotPeer {
  port: number;
  user: string;
  password: string;
  stateDir: string;
  stop(): Promise<void>;
}

/** Why Dovecot cannot run here, or undefined when it can. */
export function dovecotUnavailable(): string | undefined {
  if (!existsSync(DOVECOT_BIN)) return `${DOVECOT_BIN} not installed (scripts/install-peers.sh installs it)`;
  if (typeof process.getuid === "function" && process.getuid() !== 0) return "Dovecot peer needs root";
  try {
    execFileSync("id", ["mail"], { stdio: "ignore" });
    execFileSync("id", ["dovenull"], { stdio: "ignore" });
  } catch {
    return "system users mail/dovenull missing";
  }
  return undefined;
}

async function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Optional extras for a test that needs more than the one default user and plain storage. */
export interface DovecotOptions {
  /** passwd-file users (name = the local part Dovecot looks up, username_format=%n). */
  users?: Array<{ name: string; password: string }>;
  /** Lines inside the "namespace inbox" block (e.g. special-use mailboxes). */
  namespaceConfig?: string;
  /** Appended to the generated dovecot.conf (plugins, protocol imap settings). */
  extraConfig?: string;
  /** Loopback address to listen on (a test's own 127.0.X.0/24 block); default 127.0.0.1. */
  address?: string;
  /** Replaces the passdb block (e.g. an oauth2 passdb). */
  passdb?: string;
}

function config(state: string, port: number, opts: DovecotOptions = {}): string {
  return `instance_name = freehold-test-dovecot-${path.basename(state)}
base_dir = ${state}/run
state_dir = ${state}/state
listen = ${opts.address ?? "127.0.0.1"}
protocols = imap
log_path = ${state}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login${opts.passdb ? " xoauth2 oauthbearer" : ""}
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 8
mail_uid = mail
mail_gid = mail
mail_home = ${state}/mail/%n
mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
  separator = /
${opts.namespaceConfig ?? ""}
}
${opts.passdb ?? `passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n ${state}/users
}`}
userdb {
  driver = static
  args = uid=mail gid=mail home=${state}/mail/%n
}
service imap-login {
  inet_listener imap {
    address = ${opts.address ?? "127.0.0.1"}
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
}
service stats {
  unix_listener stats-reader {
    mode = 0600
  }
  unix_listener stats-writer {
    mode = 0600
  }
}
${opts.extraConfig ?? ""}
`;
}

async function waitForGreeting(port: number, child: ChildProcess, deadlineMs: number, host = "127.0.0.1"): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    if (child.exitCode !== null) return false;
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port }, () => {
        s.once("data", (d) => {
          s.destroy();
          resolve(d.toString("latin1").startsWith("* OK"));
        });
      });
      s.once("error", () => resolve(false));
      s.setTimeout(1000, () => {
        s.destroy();
        resolve(false);
      });
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** Starts Dovecot in the foreground as our child; stop() ends that child and removes its state. */
export async function startDovecot(opts: DovecotOptions = {}): Promise<DovecotPeer> {
  const state = await fs.mkdtemp(path.join(os.tmpdir(), "freehold-dovecot-"));
  // Dovecot's unprivileged processes must traverse the folder.
  await fs.chmod(state, 0o755);
  const user = "tester";
  const password = "pass";
  const users = [{ name: user, password }, ...(opts.users ?? [])];
  await fs.writeFile(path.join(state, "users"), users.map((u) => `${u.name}:{PLAIN}${u.password}\n`).join(""));
  await fs.mkdir(path.join(state, "mail"), { recursive: true });
  execFileSync("chown", ["mail:mail", path.join(state, "mail")]);
  let lastErr = "";
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort(opts.address);
    const conf = path.join(state, "dovecot.conf");
    await fs.writeFile(conf, config(state, port, opts));
    const child = spawn(DOVECOT_BIN, ["-F", "-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    if (await waitForGreeting(port, child, 10_000, opts.address)) {
      return {
        port,
        user,
        password,
        stateDir: state,
        async stop() {
          if (child.exitCode === null) {
            const exited = new Promise((r) => child.once("exit", r));
            child.kill("SIGTERM");
            await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
            if (child.exitCode === null) child.kill("SIGKILL");
          }
          await fs.rm(state, { recursive: true, force: true });
        },
      };
    }
    child.kill("SIGKILL");
    let log = "";
    try {
      log = await fs.readFile(path.join(state, "dovecot.log"), "utf8");
    } catch {
      // no log yet
    }
    lastErr = `${stderr}\n${log}`.trim();
  }
  await fs.rm(state, { recursive: true, force: true });
  throw new Error(`Dovecot did not start: ${lastErr}`);
}

/** One response of a command: every untagged response (raw, literals included) and the tagged line. */
export interface ImapResult {
  untagged: Buffer[];
  tagged: string;
}

/**
 * A minimal IMAP client: one command at a time, literals in responses read by their byte count,
 * APPEND sent with a synchronising literal. Enough for tests; not a library.
 */
export class RawImapClient {
  #sock: net.Socket;
  #buf: Buffer = Buffer.alloc(0);
  #waiters: (() => void)[] = [];
  #tag = 0;
  #closed = false;

  private constructor(sock: net.Socket) {
    this.#sock = sock;
    sock.on("data", (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      this.#wake();
    });
    sock.on("close", () => {
      this.#closed = true;
      this.#wake();
    });
    sock.on("error", () => {
      this.#closed = true;
      this.#wake();
    });
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  static async connect(port: number): Promise<RawImapClient> {
    const sock = net.connect({ host: "127.0.0.1", port });
    await new Promise<void>((resolve, reject) => {
      sock.once("connect", () => resolve());
      sock.once("error", reject);
    });
    const c = new RawImapClient(sock);
    await c.#readResponse(); // greeting
    return c;
  }

  async #more(): Promise<void> {
    if (this.#closed) throw new Error("IMAP connection closed");
    await new Promise<void>((r) => this.#waiters.push(r));
  }

  /** Reads one complete response (a line plus any literals it announces). */
  async #readResponse(): Promise<Buffer> {
    let pos = 0;
    for (;;) {
      const nl = this.#buf.indexOf("\r\n", pos, "latin1");
      if (nl < 0) {
        await this.#more();
        continue;
      }
      const m = /\{(\d+)\+?\}$/.exec(this.#buf.subarray(pos, nl).toString("latin1"));
      if (!m) {
        const out = this.#buf.subarray(0, nl + 2);
        this.#buf = this.#buf.subarray(nl + 2);
        return Buffer.from(out);
      }
      const litEnd = nl + 2 + Number(m[1]);
      while (this.#buf.length < litEnd) await this.#more();
      pos = litEnd;
    }
  }

  async command(text: string, literal?: Buffer): Promise<ImapResult> {
    const tag = `T${++this.#tag}`;
    const untagged: Buffer[] = [];
    if (literal !== undefined) {
      this.#sock.write(`${tag} ${text} {${literal.length}}\r\n`);
      const cont = await this.#readResponse();
      if (!cont.toString("latin1").startsWith("+")) throw new Error(`no continuation: ${cont.toString("latin1")}`);
      this.#sock.write(Buffer.concat([literal, Buffer.from("\r\n")]));
    } else {
      this.#sock.write(`${tag} ${text}\r\n`);
    }
    for (;;) {
      const r = await this.#readResponse();
      const s = r.subarray(0, Math.min(r.length, tag.length + 1)).toString("latin1");
      if (s === `${tag} `) return { untagged, tagged: r.toString("latin1").trimEnd() };
      untagged.push(r);
    }
  }

  async close(): Promise<void> {
    if (!this.#closed) {
      try {
        await this.command("LOGOUT");
      } catch {
        // already gone
      }
    }
    this.#sock.destroy();
  }
}
