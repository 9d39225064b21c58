// Shared helpers for running Debian's reference servers (Postfix, smtp-sink, Dovecot) as child
// processes of a test or benchmark: free loopback ports, temp dirs the daemons' unprivileged
// users can enter, waiting for a greeting, and stopping a child reliably, also when the test
// process itself ends early.
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs/promises";
import { existsSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

/** A port that was free on `host` a moment ago. Daemons that bind their own sockets (Postfix's
 * master, Dovecot) cannot take port 0, so we ask the kernel for one and hand it over; the race
 * with another process grabbing it in between is small and shows up as a start failure. */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const server = net.createServer();
  server.listen(0, host);
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, "close");
  return port;
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
  readonly pid: number;
  alive(): boolean;
  /** SIGTERM, wait up to `graceMs`, then SIGKILL; resolves when the process is reaped. */
  stop(graceMs?: number): Promise<void>;
}

export function spawnManaged(cmd: string, args: string[], opts: SpawnOptions = {}): ManagedChild {
  const [file, argv] = existsSync(SETPRIV)
    ? [SETPRIV, ["--pdeathsig", "KILL", "--", cmd, ...args]]
    : [cmd, args];
  const child = spawn(file, argv, { stdio: ["ignore", "pipe", "pipe"], ...opts });
  let exited = false;
  const exitPromise = new Promise<void>((resolve) => {
    child.once("exit", () => {
      exited = true;
      process.removeListener("exit", onProcessExit);
      resolve();
    });
    child.once("error", () => {
      exited = true;
      process.removeListener("exit", onProcessExit);
      resolve();
    });
  });
  const onProcessExit = () => {
    if (!exited) child.kill("SIGKILL");
  };
  process.on("exit", onProcessExit);
  if (child.pid === undefined) {
    // spawn failed synchronously (e.g. ENOENT); the 'error' event follows.
    exited = true;
  }
  return {
    child,
    pid: child.pid ?? -1,
    alive: () => !exited,
    async stop(graceMs = 10_000) {
      if (exited) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => {
        if (!exited) child.kill("SIGKILL");
      }, graceMs);
      await exitPromise;
      clearTimeout(timer);
    },
  };
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
