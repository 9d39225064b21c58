// Tools for the flood and TLS soak cases (soak/cases/flood.ts, tls.ts): a Freehold server as a
// child process with mx, submission and imap listeners; a raw line client that can bind any
// 127.0.0.0/8 source address (the "other IPs" of a storm); a well-behaved client that keeps
// measuring its latency during an attack; and the server's peak RSS from /proc (VmHWM, reset
// between attacks through clear_refs).
import fs from "node:fs/promises";
import fsSync from "node:fs";
import net from "node:net";
import { createDataDir, freePort, startFreeholdProcess, TEST_PASSWORD } from "../../test/support/freehold.ts";
import type { DataDir, FreeholdProcess } from "../../test/support/freehold.ts";
import YAML from "yaml";
import path from "node:path";
import os from "node:os";

export const USER = "alice@freehold.test";
export const PASSWORD = TEST_PASSWORD;

export interface FloodServer {
  data: DataDir;
  proc: FreeholdProcess;
  mx: number;
  submission: number;
  imap: number;
  /** Extra TLS listeners when asked for (submissions, imaps). */
  submissions?: number;
  imaps?: number;
  stop(): Promise<void>;
}

export interface FloodServerOptions {
  /** Top-level config keys merged into freehold.yaml (smtp: {...}, imap: {...}). */
  config?: Record<string, unknown>;
  implicitTls?: boolean;
}

/**
 * The data folder every flood server starts from, made once per process: `createDataDir` runs
 * the CLI three times (init, domain, user with its password hash), which takes several seconds
 * on a loaded machine; each server gets a copy with its own ports and config.
 */
let template: Promise<string> | null = null;
function templateDir(): Promise<string> {
  template ??= (async () => {
    const d = await createDataDir({ domains: ["freehold.test"], users: [{ address: USER }], imap: true });
    process.once("exit", () => fsSync.rmSync(path.dirname(d.dir), { recursive: true, force: true }));
    return d.dir;
  })();
  return template;
}

async function copyDataDir(config: Record<string, unknown> | undefined): Promise<DataDir> {
  const from = await templateDir();
  const parent = await fs.mkdtemp(path.join(os.tmpdir(), "freehold-flood-"));
  const dir = path.join(parent, "data");
  await fs.cp(from, dir, { recursive: true });
  const file = path.join(dir, "freehold.yaml");
  const doc = YAML.parse(await fs.readFile(file, "utf8")) as Record<string, unknown>;
  const mxPort = await freePort();
  const imapPort = await freePort();
  Object.assign(doc, {
    listeners: [
      { role: "mx", address: "127.0.0.1", port: mxPort },
      { role: "imap", address: "127.0.0.1", port: imapPort },
    ],
    ...config,
  });
  await fs.writeFile(file, YAML.stringify(doc), { mode: 0o600 });
  return { dir, hostname: String(doc.hostname), mxPort, imapPort, remove: () => fs.rm(parent, { recursive: true, force: true }) };
}

export async function startFloodServer(opts: FloodServerOptions = {}): Promise<FloodServer> {
  const data = await copyDataDir(opts.config);
  const submission = await freePort();
  const file = path.join(data.dir, "freehold.yaml");
  const doc = YAML.parse(await fs.readFile(file, "utf8")) as { listeners: Array<Record<string, unknown>> };
  doc.listeners.push({ role: "submission", address: "127.0.0.1", port: submission });
  let submissions: number | undefined;
  let imaps: number | undefined;
  if (opts.implicitTls) {
    submissions = await freePort();
    imaps = await freePort();
    doc.listeners.push({ role: "submissions", address: "127.0.0.1", port: submissions }, { role: "imaps", address: "127.0.0.1", port: imaps });
  }
  await fs.writeFile(file, YAML.stringify(doc), { mode: 0o600 });
  let proc: FreeholdProcess;
  try {
    proc = await startFreeholdProcess(data, { timeoutMs: 60_000 });
  } catch (e) {
    await data.remove();
    throw e;
  }
  return {
    data,
    proc,
    get mx() {
      return data.mxPort;
    },
    submission,
    imap: data.imapPort!,
    submissions,
    imaps,
    async stop() {
      await proc.stop();
      await data.remove();
    },
  };
}

/** Whether the server process is still running (no crash). */
export function alive(s: FloodServer): boolean {
  return s.proc.child.exitCode === null && s.proc.child.signalCode === null;
}

/** Resets the peak RSS the kernel keeps for the process (Linux: "5" to clear_refs). */
export async function resetPeakRss(pid: number): Promise<void> {
  await fs.writeFile(`/proc/${pid}/clear_refs`, "5").catch(() => undefined);
}

/** Peak resident set size of the process, in MiB (VmHWM). */
export async function peakRssMiB(pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

export function resetPeakRssSync(pid: number): void {
  try {
    fsSync.writeFileSync(`/proc/${pid}/clear_refs`, "5");
  } catch {
    // not Linux, or not allowed: the peak then covers the process's life so far
  }
}

export function peakRssMiBSync(pid: number): number {
  let status = "";
  try {
    status = fsSync.readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return NaN;
  }
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

export async function openFds(pid: number): Promise<number> {
  return (await fs.readdir(`/proc/${pid}/fd`).catch(() => [])).length;
}

// ---- a raw line client ------------------------------------------------------------------------

export class LineClient {
  readonly socket: net.Socket;
  #buf = "";
  #lines: string[] = [];
  #waiter: (() => void) | null = null;
  closed = false;
  closedAt = 0;
  readonly done: Promise<void>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => {
      this.#buf += d;
      let i: number;
      while ((i = this.#buf.indexOf("\n")) !== -1) {
        this.#lines.push(this.#buf.slice(0, i).replace(/\r$/, ""));
        this.#buf = this.#buf.slice(i + 1);
      }
      // Keep memory bounded if a peer never ends a line.
      if (this.#buf.length > 1 << 20) this.#buf = this.#buf.slice(-1024);
      this.#wake();
    });
    socket.on("error", () => undefined);
    this.done = new Promise((r) =>
      socket.once("close", () => {
        this.closed = true;
        this.closedAt = Date.now();
        this.#wake();
        r();
      }),
    );
  }

  static connect(port: number, localAddress = "127.0.0.1", timeoutMs = 20_000): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: "127.0.0.1", localAddress });
      s.setNoDelay(true);
      const t = setTimeout(() => {
        s.destroy();
        reject(new Error("connect timeout"));
      }, timeoutMs);
      s.once("connect", () => {
        clearTimeout(t);
        resolve(new LineClient(s));
      });
      s.once("error", (e) => {
        clearTimeout(t);
        reject(e);
      });
    });
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = null;
    w?.();
  }

  /** The next line, or null if the connection closed or the timeout passed. */
  async line(timeoutMs = 20_000): Promise<string | null> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const l = this.#lines.shift();
      if (l !== undefined) return l;
      if (this.closed) return null;
      const left = end - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.#waiter = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  }

  /** Lines until one matches; returns that one (null on close/timeout). */
  async until(re: RegExp, timeoutMs = 20_000): Promise<string | null> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const l = await this.line(Math.max(1, end - Date.now()));
      if (l === null || re.test(l)) return l;
    }
  }

  /** The final line of an SMTP reply ("250 ..." not "250-..."). */
  smtpReply(timeoutMs = 20_000): Promise<string | null> {
    return this.until(/^\d{3}(?: |$)/, timeoutMs);
  }

  write(s: string | Buffer): boolean {
    if (this.closed) return false;
    return this.socket.write(s);
  }

  async drainWrite(s: string | Buffer): Promise<void> {
    if (this.write(s)) return;
    await new Promise<void>((r) => {
      const done = () => {
        this.socket.off("drain", done);
        this.socket.off("close", done);
        r();
      };
      this.socket.on("drain", done);
      this.socket.on("close", done);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** SMTP: greeting and EHLO; returns the client ready for MAIL (null reply → throws). */
export async function smtpReady(port: number, localAddress = "127.0.0.1"): Promise<LineClient> {
  const c = await LineClient.connect(port, localAddress);
  const g = await c.smtpReply();
  if (!g?.startsWith("220")) {
    c.close();
    throw new Error(`no greeting: ${g}`);
  }
  c.write("EHLO soak.freehold.test\r\n");
  const e = await c.smtpReply();
  if (!e?.startsWith("250")) {
    c.close();
    throw new Error(`EHLO: ${e}`);
  }
  return c;
}

let tagN = 0;
/** IMAP: one tagged command; returns [untagged lines, tagged line]. */
export async function imapCmd(c: LineClient, cmd: string, timeoutMs = 30_000): Promise<{ lines: string[]; done: string | null }> {
  const tag = `t${++tagN}`;
  c.write(`${tag} ${cmd}\r\n`);
  const lines: string[] = [];
  const end = Date.now() + timeoutMs;
  for (;;) {
    const l = await c.line(Math.max(1, end - Date.now()));
    if (l === null) return { lines, done: null };
    if (l.startsWith(`${tag} `)) return { lines, done: l };
    if (lines.length < 10_000) lines.push(l);
  }
}

export async function imapLogin(port: number, localAddress = "127.0.0.1"): Promise<LineClient> {
  const c = await LineClient.connect(port, localAddress);
  const g = await c.line();
  if (!g?.startsWith("* OK")) {
    c.close();
    throw new Error(`no IMAP greeting: ${g}`);
  }
  const r = await imapCmd(c, `LOGIN ${USER} "${PASSWORD}"`);
  if (!r.done?.includes("OK")) {
    c.close();
    throw new Error(`LOGIN: ${r.done}`);
  }
  return c;
}

/** Sends one message through mx (MAIL, RCPT, DATA); returns the final reply after the dot. */
export async function sendMessage(port: number, body: string | Buffer, localAddress = "127.0.0.1"): Promise<string | null> {
  const c = await smtpReady(port, localAddress);
  try {
    c.write("MAIL FROM:<sender@soak.freehold.test>\r\n");
    if (!(await c.smtpReply())?.startsWith("250")) return "MAIL refused";
    c.write(`RCPT TO:<${USER}>\r\n`);
    const r = await c.smtpReply();
    if (!r?.startsWith("250")) return r;
    c.write("DATA\r\n");
    if (!(await c.smtpReply())?.startsWith("354")) return "DATA refused";
    await c.drainWrite(body);
    await c.drainWrite("\r\n.\r\n");
    const done = await c.smtpReply(120_000);
    c.write("QUIT\r\n");
    return done;
  } finally {
    setTimeout(() => c.close(), 200).unref();
  }
}

/** Messages in the INBOX, through IMAP STATUS. */
export async function inboxCount(imapPort: number): Promise<number> {
  const c = await imapLogin(imapPort);
  try {
    const r = await imapCmd(c, "STATUS INBOX (MESSAGES)");
    const m = /MESSAGES (\d+)/.exec(r.lines.join(" "));
    return m ? Number(m[1]) : NaN;
  } finally {
    c.close();
  }
}

// ---- the well-behaved client ------------------------------------------------------------------

export interface ProbeStats {
  n: number;
  failures: number;
  p50: number;
  p99: number;
  lastError?: string;
}

/**
 * A well-behaved client from its own address (127.0.0.2 and .3), polling every `everyMs`: a new
 * SMTP session on mx (greeting, EHLO, QUIT) and a NOOP on a logged-in IMAP session, alternately.
 * A poll that fails or takes longer than 20 s counts as a failure.
 *
 * Measuring windows (one per attack): `window()` starts one and kicks a poll at once, so a poll
 * always runs while the attack does, however short the attack; `snapshot()` closes it, first
 * waiting for the polls that started inside it to finish. A window with no sample at all is a
 * harness failure the caller reports (probeVerdict), never a pass.
 */
export class Probe {
  #samples: Array<{ start: number; ms: number }> = [];
  #failures = 0;
  #lastError: string | undefined;
  #stop = false;
  #loop: Promise<void>;
  #imap: LineClient | null = null;
  #inFlight: Promise<void> | null = null;
  #inFlightStart = 0;
  #wakeSleep: (() => void) | null = null;

  readonly server: FloodServer;
  readonly everyMs: number;

  constructor(server: FloodServer, everyMs = 250) {
    this.server = server;
    this.everyMs = everyMs;
    this.#loop = this.#run();
  }

  async #smtp(): Promise<void> {
    const c = await smtpReady(this.server.mx, "127.0.0.2");
    c.write("QUIT\r\n");
    const r = await c.smtpReply();
    c.close();
    if (!r?.startsWith("221")) throw new Error(`QUIT: ${r}`);
  }

  async #noop(): Promise<void> {
    if (!this.#imap || this.#imap.closed) this.#imap = await imapLogin(this.server.imap, "127.0.0.3");
    const r = await imapCmd(this.#imap, "NOOP", 20_000);
    if (!r.done?.includes("OK")) {
      this.#imap.close();
      this.#imap = null;
      throw new Error(`NOOP: ${r.done}`);
    }
  }

  async #poll(i: number): Promise<void> {
    const t0 = performance.now();
    try {
      await withTimeout(i % 2 === 0 ? this.#smtp() : this.#noop(), 20_000);
      this.#samples.push({ start: t0, ms: performance.now() - t0 });
    } catch (e) {
      this.#failures++;
      this.#lastError = (e as Error).message;
    }
  }

  async #run(): Promise<void> {
    let i = 0;
    while (!this.#stop) {
      this.#inFlightStart = performance.now();
      this.#inFlight = this.#poll(i++);
      await this.#inFlight;
      this.#inFlight = null;
      if (this.#stop) break;
      await new Promise<void>((r) => {
        const t = setTimeout(r, this.everyMs);
        this.#wakeSleep = () => {
          clearTimeout(t);
          r();
        };
      });
      this.#wakeSleep = null;
    }
  }

  /** Starts a measuring window: a poll starts now (or one is already running). */
  window(): void {
    this.#wakeSleep?.();
  }

  /**
   * Closes the window: waits (up to 25 s) for a poll that started in it, then returns the
   * stats of the polls that started in it. The probe keeps running.
   */
  async snapshot(): Promise<ProbeStats> {
    const end = performance.now();
    const inFlight = this.#inFlight;
    if (inFlight && this.#inFlightStart <= end) await withTimeout(inFlight, 25_000).catch(() => undefined);
    const mine = this.#samples.filter((x) => x.start <= end);
    this.#samples = this.#samples.filter((x) => x.start > end);
    const s = mine.map((x) => x.ms).sort((a, b) => a - b);
    const q = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN);
    const out = { n: s.length, failures: this.#failures, p50: q(0.5), p99: q(0.99), lastError: this.#lastError };
    this.#failures = 0;
    this.#lastError = undefined;
    return out;
  }

  async stop(): Promise<ProbeStats> {
    const out = await this.snapshot();
    this.#stop = true;
    this.#wakeSleep?.();
    await this.#loop;
    this.#imap?.close();
    return out;
  }
}

/**
 * Whether the well-behaved client was served during a window: at least one poll measured and
 * none failed. A window without a sample is a failure of its own (the probe did not run), with
 * a detail that says so.
 */
export function probeVerdict(stats: ProbeStats): { ok: boolean; why: string } {
  if (stats.failures > 0) return { ok: false, why: `probe: ${stats.failures} failed of ${stats.n + stats.failures} (${stats.lastError ?? "?"})` };
  if (stats.n === 0) return { ok: false, why: "probe: no poll measured during this attack (harness fault)" };
  return { ok: true, why: "" };
}

export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, rej) => (t = setTimeout(() => rej(new Error(`timeout after ${ms} ms`)), ms)))]).finally(() => clearTimeout(t));
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs fn with at most `n` at a time. */
export async function pool<T>(items: T[], n: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i], i);
      }
    }),
  );
}

/** The n-th attacker address, 127.1.x.y (127.0.0.1-3 are the server's and the probe's). */
export function attackerIp(n: number): string {
  return `127.1.${Math.floor(n / 250)}.${(n % 250) + 1}`;
}
