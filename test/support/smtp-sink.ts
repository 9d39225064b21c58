// Postfix's smtp-sink on a loopback port: an SMTP (or LMTP) server that accepts everything and
// throws it away, counting messages. With `dumpDir` it also writes each transaction to a file,
// so tests can look at what arrived (envelope in the dump's header lines, then the message).
import fs from "node:fs/promises";
import path from "node:path";
import { freePort, spawnManaged, systemUser, waitForGreeting, waitUntil } from "./peer-util.ts";

const SMTP_SINK = "/usr/sbin/smtp-sink";

export interface SmtpSinkOptions {
  host?: string;
  /** Default: a free port. */
  port?: number;
  /** Speak LMTP instead of SMTP (-L). */
  lmtp?: boolean;
  /** Greeting/EHLO hostname (-h). */
  hostname?: string;
  /** Capture each transaction to a file in this dir (-d). Slower: use only in tests. */
  dumpDir?: string;
  /** Extra smtp-sink arguments, e.g. ["-r", "RCPT"] to soft-reject recipients. */
  args?: string[];
  /** Listen backlog (default 1024). */
  backlog?: number;
}

export interface SmtpSink {
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  /** Messages accepted so far (after the final "."), from smtp-sink's -c counters. */
  messages(): number;
  /** Sessions ended so far. */
  sessions(): number;
  /** Waits until at least `n` messages arrived; false on timeout. */
  waitForMessages(n: number, timeoutMs?: number): Promise<boolean>;
  /** Files captured in dumpDir (when set). */
  dumps(): Promise<string[]>;
  stop(): Promise<void>;
}

/** Parses smtp-sink -c output: "sess=N quit=N mesg=N" records separated by CR, newest last. */
export function parseSinkCounters(output: string): { sessions: number; quits: number; messages: number } {
  const records = output.split(/[\r\n]+/).filter((r) => r.includes("mesg="));
  const last = records.at(-1) ?? "";
  const num = (key: string) => Number(new RegExp(`\\b${key}=(\\d+)`).exec(last)?.[1] ?? 0);
  return { sessions: num("sess"), quits: num("quit"), messages: num("mesg") };
}

export async function startSmtpSink(opts: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const host = opts.host ?? "127.0.0.1";
  const port = opts.port ?? (await freePort(host));
  const args = ["-c"];
  // smtp-sink refuses to run as root without -u; it drops to postfix after binding.
  if (process.getuid?.() === 0) args.push("-u", "postfix");
  if (opts.lmtp) args.push("-L");
  if (opts.hostname) args.push("-h", opts.hostname);
  let dumpDir: string | undefined;
  if (opts.dumpDir) {
    dumpDir = opts.dumpDir;
    await fs.mkdir(dumpDir, { recursive: true });
    if (process.getuid?.() === 0) {
      const pf = await systemUser("postfix");
      await fs.chown(dumpDir, pf.uid, pf.gid);
    }
    // strftime template plus smtp-sink's random suffix: one file per transaction.
    args.push("-d", `${dumpDir}/%Y%m%d%H%M%S.`);
  }
  args.push(...(opts.args ?? []));
  const listen = host.includes(":") ? `inet:[${host}]:${port}` : `inet:${host}:${port}`;
  args.push(listen, String(opts.backlog ?? 1024));
  const child = spawnManaged(SMTP_SINK, args);
  let output = "";
  child.child.stdout?.setEncoding("latin1").on("data", (d: string) => {
    output += d;
    // Keep only the tail: the counters are cumulative.
    if (output.length > 4096) output = output.slice(-1024);
  });
  let stderr = "";
  child.child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  try {
    await waitForGreeting(host, port, { timeoutMs: 10_000, isAlive: () => child.alive() });
  } catch (err) {
    await child.stop();
    throw new Error(`smtp-sink did not start: ${(err as Error).message} ${stderr}`);
  }
  // The greeting probe above counts as one session; sessions() reports what smtp-sink saw.
  const sink: SmtpSink = {
    host,
    port,
    pid: child.pid,
    messages: () => parseSinkCounters(output).messages,
    sessions: () => parseSinkCounters(output).sessions,
    waitForMessages: (n, timeoutMs = 30_000) => waitUntil(() => sink.messages() >= n, timeoutMs, 50),
    async dumps() {
      if (!dumpDir) return [];
      const names = await fs.readdir(dumpDir);
      return names.sort().map((n) => path.join(dumpDir, n));
    },
    async stop() {
      await child.stop();
    },
  };
  return sink;
}
