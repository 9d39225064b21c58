// Shared helpers for running Debian's reference servers (Postfix, smtp-sink, Dovecot) as child
// processes of a test or benchmark: free loopback ports, temp dirs the daemons' unprivileged
// users can enter, waiting for a greeting, and stopping a child reliably, also when the test
// process itself ends early.
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs/promises";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

/** A port that was free on `host` a moment ago. Daemons that bind their own sockets (Postfix's
 * master, Dovecot) cannot take port 0, so we ask the kernel for one and hand it over; the race
 * with another process grabbing it in between is small and shows up as a start failure. */
/** Ports this process has handed out (the kernel may offer a just-closed port again at once). */
const handedOut = new Set<number>();

export async function freePort(host = "127.0.0.1"): Promise<number> {
  for (;;) {
    const server = net.createServer();
    server.listen(0, host);
    await once(server, "listening");
    const { port } = server.address() as net.AddressInfo;
    server.close();
    await once(server, "close");
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

/** A temp dir under os.tmpdir() that daemons dropping privileges (postfix, mail, dovenull) can
 * traverse: mkdtemp makes it 0700 and owned by us. */
export async function makePeerDir(prefix: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `freehold-${prefix}-`));
  await fs.chmod(dir, 0o755);
  return dir;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Connects until the server sends a line starting with `expect` (default "220"), then closes.
 * Throws after `timeoutMs` with the last error seen. */
export async function waitForGreeting(
  host: string,
  port: number,
  opts: { timeoutMs?: number; expect?: string; isAlive?: () => boolean } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  const expect = opts.expect ?? "220";
  let lastError = "no attempt";
  while (Date.now() < deadline) {
    if (opts.isAlive && !opts.isAlive()) throw new Error(`server on ${host}:${port} exited before greeting`);
    try {
      const line = await readFirstLine(host, port, Math.max(200, deadline - Date.now()));
      if (line.startsWith(expect)) return;
      lastError = `unexpected greeting ${JSON.stringify(line)}`;
    } catch (err) {
      lastError = (err as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`no ${expect} greeting from ${host}:${port}: ${lastError}`);
}

function readFirstLine(host: string, port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    let buf = "";
    const done = (err: Error | null, line?: string) => {
      sock.destroy();
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(line ?? "");
    };
    const timer = setTimeout(() => done(new Error("timeout waiting for greeting")), timeoutMs);
    sock.setEncoding("latin1");
    sock.on("data", (d: string) => {
      buf += d;
      const i = buf.indexOf("\n");
      if (i >= 0) done(null, buf.slice(0, i).replace(/\r$/, ""));
    });
    sock.on("error", (e) => done(e));
    sock.on("close", () => done(new Error("closed before greeting")));
  });
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (no shell) and returns its output; never throws on exit code. */
export async function run(
  cmd: string,
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  const child = spawn(cmd, args, {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdio: ["pipe", "pipe", "pipe"],
    timeout: opts.timeoutMs ?? 60_000,
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  child.stdin!.on("error", () => {});
  child.stdin!.end(opts.input ?? "");
  const [code] = (await once(child, "close")) as [number | null];
  return { code, stdout, stderr };
}

const SETPRIV = "/usr/bin/setpriv";

/** A child that dies with us. Daemons run in the foreground as our child; setpriv's
 * --pdeathsig makes the kernel kill it if this process dies without cleaning up (SIGKILL,
 * crash), and an 'exit' listener kills it on an ordinary exit. Postfix and Dovecot children
 * notice their master is gone and exit on their own. */
export interface ManagedChild {
  readonly child: ChildProcess;
  /** PID of the process we spawned (the wrapper when `wrap` was given). */
  readonly pid: number;
  /** PID of the command itself: `pid`, or the wrapper's child when wrapped (e.g. by strace). */
  targetPid(): number;
  alive(): boolean;
  /** SIGTERM to the command, wait up to `graceMs`, then SIGKILL; resolves when reaped. */
  stop(graceMs?: number): Promise<void>;
}

export interface ManagedSpawnOptions extends SpawnOptions {
  /** Run the command under this prefix (e.g. strace and its options). The command is signalled
   * directly on stop, since a tracer ignores SIGTERM while its tracee lives. */
  wrap?: string[];
}

/** Child PIDs of `pid` (all its threads), from /proc. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // The process is gone.
  }
  return out;
}

/** `pid` and all its descendants. */
export function processTree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...childPids(all[i]));
  return all;
}

export function spawnManaged(cmd: string, args: string[], opts: ManagedSpawnOptions = {}): ManagedChild {
  const { wrap, ...spawnOpts } = opts;
  const deathSig = existsSync(SETPRIV) ? [SETPRIV, "--pdeathsig", "KILL", "--"] : [];
  // The command gets its own death signal too: a killed tracer would otherwise leave it running.
  const argv = wrap ? [...deathSig, ...wrap, ...deathSig, cmd, ...args] : [...deathSig, cmd, ...args];
  const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], ...spawnOpts });
  let exited = child.pid === undefined; // spawn failed synchronously; 'error' follows
  const onProcessExit = () => {
    if (!exited) {
      for (const p of processTree(child.pid!).reverse()) killQuietly(p, "SIGKILL");
    }
  };
  const exitPromise = new Promise<void>((resolve) => {
    const done = () => {
      exited = true;
      process.removeListener("exit", onProcessExit);
      resolve();
    };
    child.once("exit", done);
    child.once("error", done);
  });
  process.on("exit", onProcessExit);
  const targetPid = () => (wrap ? (childPids(child.pid ?? -1)[0] ?? -1) : (child.pid ?? -1));
  return {
    child,
    pid: child.pid ?? -1,
    targetPid,
    alive: () => !exited,
    async stop(graceMs = 10_000) {
      if (exited) return;
      const target = targetPid();
      killQuietly(target > 0 ? target : child.pid!, "SIGTERM");
      const timer = setTimeout(() => {
        if (!exited) for (const p of processTree(child.pid!).reverse()) killQuietly(p, "SIGKILL");
      }, graceMs);
      await exitPromise;
      clearTimeout(timer);
    },
  };
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/** Number of regular files directly in `dir` (0 when it does not exist). */
export async function countFiles(dir: string): Promise<number> {
  try {
    const entries = await fs.readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isFile()).length;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw err;
  }
}

/** Number of regular files anywhere below `dir`. */
export async function countFilesDeep(dir: string): Promise<number> {
  try {
    const entries = await fs.readdir(dir, { withFileTypes: true, recursive: true });
    return entries.filter((e) => e.isFile()).length;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw err;
  }
}

/** Polls `check` every `intervalMs` until it returns true; false on timeout. */
export async function waitUntil(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  intervalMs = 50,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
}

/** Resolves a system user's numeric uid/gid from /etc/passwd (daemons' files must be owned by
 * them). */
export async function systemUser(name: string): Promise<{ uid: number; gid: number }> {
  const passwd = await fs.readFile("/etc/passwd", "utf8");
  for (const line of passwd.split("\n")) {
    const f = line.split(":");
    if (f[0] === name) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  throw new Error(`system user ${name} not found`);
}

export async function systemGroup(name: string): Promise<number> {
  const group = await fs.readFile("/etc/group", "utf8");
  for (const line of group.split("\n")) {
    const f = line.split(":");
    if (f[0] === name) return Number(f[2]);
  }
  throw new Error(`system group ${name} not found`);
}
