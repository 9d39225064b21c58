// Freehold itself as a test peer. A data folder is set up through the real CLI (init, domain
// add, user add, alias add: what an operator types), its freehold.yaml gets an mx listener on a
// free loopback port and dns.servers pointing at the test's DNS server, and then either
//   - startFreeholdProcess(): `node src/cli/main.ts --data D serve` as a child, ready when it
//     prints "Freehold is ready."; kill9() (a crash), stop() (SIGTERM, graceful), restart; or
//   - startFreeholdInProcess(): openServices + startServer in this process (faster; lets a test
//     inject a resolver, clock or logger).
// openDataDir() opens the store of a folder for assertions (no recovery, no collector), as the
// CLI does beside a running server.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import YAML from "yaml";
import { loadConfig } from "../../src/config/load.ts";
import { openServices } from "../../src/server/services.ts";
import type { OpenServicesOptions, Services } from "../../src/server/services.ts";
import { startServer } from "../../src/server/run.ts";
import type { RunningServer } from "../../src/server/run.ts";
import { openSqliteStore } from "../../src/store/sqlite/store.ts";
import { openFileBlobStore } from "../../src/store/blob-files.ts";
import type { FileBlobStore } from "../../src/store/blob-files.ts";
import type { MessageRecord, MetadataStore } from "../../src/store/types.ts";
import { silentLogger } from "../../src/log/logger.ts";

/** The password createDataDir gives users without one. */
export const TEST_PASSWORD = "a long test password";

export const ROOT = path.resolve(import.meta.dirname, "../..");
const MAIN = path.join(ROOT, "src/cli/main.ts");

export interface FreeholdSpec {
  /** Default "mx.freehold.test". */
  hostname?: string;
  /** Server admin created by `init --admin` (its domain too); postmaster@ and abuse@ reach it. */
  admin?: string;
  domains?: string[];
  users?: Array<{ address: string; password?: string; quota?: string }>;
  aliases?: Array<{ address: string; targets: string[] }>;
  /** dns.servers ("127.0.0.1:port"). */
  dnsServers?: string[];
  /** Also an imap listener (STARTTLS) on a free loopback port. */
  imap?: boolean;
  /** Also a submission listener (STARTTLS) on a free loopback port. */
  submission?: boolean;
  /** Extra top-level config keys, merged over what this file writes (e.g. { log: { level: "debug" } }). */
  config?: Record<string, unknown>;
}

export interface DataDir {
  /** The data folder (inside a temp parent). */
  dir: string;
  hostname: string;
  /** The mx listener's port written into freehold.yaml. */
  mxPort: number;
  /** The imap listener's port, when asked for. */
  imapPort?: number;
  /** The submission listener's port, when asked for. */
  submissionPort?: number;
  remove(): Promise<void>;
}

/** A TCP port on 127.0.0.1 that was free a moment ago (bind port 0, read it, close). */
/** Ports this process has handed out: the kernel may offer a just-closed port again at once, and
 * two listeners of one config given the same port refuse to start (seen once in CI). */
const handedOut = new Set<number>();

export async function freePort(): Promise<number> {
  for (;;) {
    const srv = net.createServer();
    const port = await new Promise<number>((resolve, reject) => {
      srv.once("error", reject);
      srv.listen(0, "127.0.0.1", () => resolve((srv.address() as net.AddressInfo).port));
    });
    await new Promise<void>((r) => srv.close(() => r()));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

export async function runFreeholdCli(args: string[], stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env.FREEHOLD_DATA;
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, env, stdio: [stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    if (stdin !== undefined) child.stdin!.end(stdin);
  });
}

async function cli(dir: string, args: string[], stdin?: string): Promise<string> {
  const r = await runFreeholdCli(["--data", dir, ...args], stdin);
  if (r.code !== 0) throw new Error(`freehold ${args.join(" ")} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Creates a data folder with the CLI and writes loopback listeners and DNS into its config. */
export async function createDataDir(spec: FreeholdSpec = {}): Promise<DataDir> {
  const parent = await mkdtemp(path.join(os.tmpdir(), "freehold-fh-"));
  const dir = path.join(parent, "data");
  const hostname = spec.hostname ?? "mx.freehold.test";
  try {
    await cli(dir, ["init", "--hostname", hostname, ...(spec.admin ? ["--admin", spec.admin] : [])]);
    if (spec.domains?.length) await cli(dir, ["domain", "add", ...spec.domains]);
    // Independent CLI runs side by side (SQLite's busy timeout serialises their writes): each
    // one is a Node start plus a scrypt hash, so in sequence a dozen would take ~10 s.
    await Promise.all(
      (spec.users ?? []).map((u) =>
        cli(dir, ["user", "add", u.address, "--password-stdin", ...(u.quota ? ["--quota", u.quota] : [])], `${u.password ?? TEST_PASSWORD}\n`),
      ),
    );
    await Promise.all((spec.aliases ?? []).map((a) => cli(dir, ["alias", "add", a.address, ...a.targets])));
    const mxPort = await freePort();
    const imapPort = spec.imap ? await freePort() : undefined;
    const submissionPort = spec.submission ? await freePort() : undefined;
    const file = path.join(dir, "freehold.yaml");
    const doc = (YAML.parse(await readFile(file, "utf8")) ?? {}) as Record<string, unknown>;
    Object.assign(doc, {
      listeners: [
        { role: "mx", address: "127.0.0.1", port: mxPort },
        ...(imapPort ? [{ role: "imap", address: "127.0.0.1", port: imapPort }] : []),
        ...(submissionPort ? [{ role: "submission", address: "127.0.0.1", port: submissionPort }] : []),
      ],
      dns: { servers: spec.dnsServers ?? [], timeoutMs: 1000, tries: 2 },
      log: { level: "info" },
      // FREEHOLD_TEST_PROCESSES=2 runs a test's server as a store owner plus protocol processes (issue 14).
      ...(process.env.FREEHOLD_TEST_PROCESSES ? { server: { processes: Number(process.env.FREEHOLD_TEST_PROCESSES) } } : {}),
      ...spec.config,
    });
    await writeFile(file, YAML.stringify(doc), { mode: 0o600 });
    return { dir, hostname, mxPort, imapPort, submissionPort, remove: () => rm(parent, { recursive: true, force: true }) };
  } catch (e) {
    await rm(parent, { recursive: true, force: true });
    throw e;
  }
}

export interface FreeholdProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly mxPort: number;
  /** Everything the child wrote to stdout and stderr so far (pino JSON lines and the banner). */
  output(): string;
  /** SIGKILL: a crash at whatever moment this is. Resolves once the process is gone. */
  kill9(): Promise<void>;
  /** SIGTERM: the graceful shutdown (421 to open sessions, storage closed). Resolves with the exit code. */
  stop(): Promise<number | null>;
  /** Resolves when the child has exited, however. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `freehold serve` on a data folder and resolves once it printed "Freehold is ready."
 * (startup recovery has run, the listeners are bound).
 */
export interface StartProcessOptions {
  timeoutMs?: number;
  /** Run inside this network namespace (test/support/netns.ts), through `ip netns exec`. */
  netns?: string;
  /** Extra environment (e.g. FREEHOLD_TEST_FAULTS=1, src/server/fault-injection.ts). */
  env?: Record<string, string>;
}

export async function startFreeholdProcess(data: Pick<DataDir, "dir" | "mxPort">, opts: StartProcessOptions = {}): Promise<FreeholdProcess> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await startOnce(data, opts);
    } catch (e) {
      // The port was free when chosen; another test may have taken it since. Move the mx
      // listener to a new free port (data.mxPort follows) and try again.
      if (attempt >= 2 || !/EADDRINUSE/.test((e as Error).message)) throw e;
      const file = path.join(data.dir, "freehold.yaml");
      const doc = YAML.parse(await readFile(file, "utf8")) as { listeners: Array<{ role: string; port: number }> };
      const port = await freePort();
      for (const l of doc.listeners) if (l.role === "mx") l.port = port;
      await writeFile(file, YAML.stringify(doc), { mode: 0o600 });
      data.mxPort = port;
    }
  }
}

async function startOnce(data: Pick<DataDir, "dir" | "mxPort">, opts: StartProcessOptions): Promise<FreeholdProcess> {
  const argv = [process.execPath, MAIN, "--data", data.dir, "serve"];
  // `ip netns exec` execs the command in place: the child's pid is the server's, signals reach it.
  const [cmd, ...args] = opts.netns ? ["ip", "netns", "exec", opts.netns, ...argv] : argv;
  const env = { ...process.env, ...opts.env };
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env });
  let out = "";
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`freehold serve not ready in time:\n${out}`));
    }, opts.timeoutMs ?? 20_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes("Freehold is ready.\n")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`freehold serve exited (${code ?? signal}) before ready:\n${out}`));
    });
  });
  return {
    child,
    pid: child.pid!,
    mxPort: data.mxPort,
    output: () => out,
    exited,
    async kill9() {
      // Protocol processes (server.processes > 1) exit when their owner's pipe closes: wait for
      // them too, so the next start finds the sockets and the temp folder free.
      const kids = child.pid ? childPids(child.pid) : [];
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
      await waitGone(kids);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      const r = await exited;
      clearTimeout(timer);
      return r.code;
    },
  };
}

/** The JSON log lines of a child's output (banner lines skipped). */
/** The direct children of a process (Linux /proc): a store owner's protocol processes. */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Resolves once none of these pids runs any more (at most timeoutMs). */
export async function waitGone(pids: number[], timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  // A zombie (exited, not yet reaped by whoever inherited it) counts as gone.
  const alive = (p: number) => {
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${p}/stat`, "utf8"));
    } catch {
      return false;
    }
  };
  while (pids.some(alive)) {
    if (Date.now() > end) throw new Error(`processes ${pids.filter(alive).join(", ")} still running`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function logLines(output: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of output.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a line cut by SIGKILL
    }
  }
  return out;
}

/**
 * The first JSON log line with this msg, waiting for it: pino writes asynchronously, so lines
 * logged before "Freehold is ready." may reach the pipe after it.
 */
export async function waitForLog(p: Pick<FreeholdProcess, "output">, msg: string, timeoutMs = 5000): Promise<Record<string, unknown>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const line = logLines(p.output()).find((l) => l.msg === msg);
    if (line) return line;
    if (Date.now() > end) throw new Error(`no "${msg}" log line in:\n${p.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface InProcessFreehold {
  services: Services;
  server: RunningServer;
  mxPort: number;
  stop(): Promise<void>;
}

/** The same server in this process: config from the folder, services injectable. */
export async function startFreeholdInProcess(data: Pick<DataDir, "dir">, opts: OpenServicesOptions = {}): Promise<InProcessFreehold> {
  const config = await loadConfig(data.dir);
  const services = await openServices(config, { logger: silentLogger(), ...opts });
  let server: RunningServer;
  try {
    server = await startServer(services);
  } catch (e) {
    // stop() would have closed these; a failed start must not keep the folder locked.
    await services.storage.close();
    await services.dataLock?.release();
    throw e;
  }
  const mx = server.listeners.find((l) => l.role === "mx");
  if (!mx) throw new Error("no mx listener");
  return { services, server, mxPort: mx.port, stop: () => server.stop() };
}

export interface OpenedData {
  store: MetadataStore;
  blobs: FileBlobStore;
  close(): Promise<void>;
}

/** Opens a folder's store for assertions: reads beside a running server are safe (WAL). */
export async function openDataDir(dir: string): Promise<OpenedData> {
  const store = openSqliteStore(dir);
  const blobs = await openFileBlobStore({ dataDir: dir, meta: store.blobs });
  return { store, blobs, close: () => store.close() };
}

export interface StoredCopy {
  message: MessageRecord;
  blob: Buffer;
}

/** Every message in a user's mailbox with its blob (oldest first). */
export async function mailboxContents(data: OpenedData, address: string, mailbox = "INBOX"): Promise<StoredCopy[]> {
  const user = await data.store.accounts.getUserByAddress(address);
  if (!user) throw new Error(`no user ${address}`);
  const mb = await data.store.mail.getMailbox(user.id, mailbox);
  if (!mb) throw new Error(`no mailbox ${mailbox} for ${address}`);
  const out: StoredCopy[] = [];
  for (const m of await data.store.mail.listMessages(mb.id)) out.push({ message: m, blob: await data.blobs.readAll(m.blobId) });
  return out;
}
