// Starts Freehold the way an operator would, for the benchmark cases: `freehold init`,
// `domain add`, `user add --password-stdin`, then the config's listeners replaced by loopback
// ones and its DNS pointed at a loopback DNS server (never the system resolver, which is off the
// machine), then `freehold serve` as our child. Any step that fails (the CLI is still being
// built) throws Unavailable with that step's error, so a case can print why and go on.
import fs from "node:fs/promises";
import { existsSync, openSync, closeSync } from "node:fs";
import path from "node:path";
import { parseDocument } from "yaml";
import { freePort, run, spawnManaged, waitForGreeting, type ManagedChild } from "../../test/support/peer-util.ts";
import { startFaultServer, type FaultHandler, type FaultServer } from "../../test/support/dns-fault.ts";

/** The target cannot run here; the case prints the reason and measures the other side. */
export class Unavailable extends Error {}

export interface FreeholdOptions {
  hostname: string;
  domain: string;
  /** The user created with `user add`. */
  user: { address: string; password: string };
  /** Listener roles to open on free loopback ports, e.g. ["mx"] or ["mx", "imaps"]. */
  roles: Array<{ role: string; tls?: "none" | "starttls" | "implicit" }>;
  /** Answers of the loopback DNS server (default: NXDOMAIN for everything). */
  dns?: FaultHandler;
  /** Run `serve` under this prefix (strace). */
  wrap?: string[];
  /** More config keys to set, e.g. [["queue", "holdOutbound"], false]. */
  configSet?: Array<[string[], unknown]>;
  /** Files to write into the data folder before `serve`, e.g. relays.yaml. */
  files?: Record<string, string>;
  /** Last step before `serve` (the data folder is set up, no server runs yet), e.g. filling the store. */
  beforeServe?: (data: string) => Promise<void>;
}

export interface FreeholdServer {
  readonly data: string;
  /** Port per role, in the order given. */
  readonly ports: Record<string, number>;
  readonly logFile: string;
  readonly dns: FaultServer;
  /** The running `serve` (a new one after restart()). */
  readonly server: ManagedChild;
  stop(): Promise<void>;
  /** Stops `serve` and starts it again on the same data and ports (a process at rest). */
  restart(): Promise<void>;
}

let built: Promise<string> | null = null;

/**
 * The CLI entry the bench runs. By default the production build (`npm run build`: src/ compiled
 * to plain JS in dist/, what bin/freehold runs when it is fresh), made once per bench run, so the
 * memory figures do not include Node's type stripping (~30 MiB); BENCH_FREEHOLD_JS=0 runs the
 * TypeScript sources as in development.
 */
async function cliEntry(root: string): Promise<string> {
  const src = path.join(root, "src", "cli", "main.ts");
  if (!existsSync(src)) throw new Unavailable("src/cli/main.ts does not exist yet");
  if (/^(0|false|no|off)$/i.test(process.env.BENCH_FREEHOLD_JS ?? "")) return src;
  built ??= (async () => {
    // What `npm run build` does (package.json), without needing npm here.
    const dist = path.join(root, "dist");
    await fs.rm(dist, { recursive: true, force: true });
    const tsc = path.join(root, "node_modules", ".bin", "tsc");
    const r = await run(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: root, timeoutMs: 300_000 });
    const js = path.join(dist, "src", "cli", "main.js");
    if (r.code === 0) await fs.writeFile(path.join(dist, ".built"), "");
    if (r.code !== 0 || !existsSync(js)) throw new Unavailable(`\`npm run build\` failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().split("\n").slice(0, 3).join(" / ")}`);
    return js;
  })();
  return built;
}

export async function startFreehold(benchRoot: string, dir: string, o: FreeholdOptions): Promise<FreeholdServer> {
  // BENCH_FREEHOLD_ROOT: measure another checkout's server with this bench (before/after a change).
  const root = process.env.BENCH_FREEHOLD_ROOT || benchRoot;
  const cli = await cliEntry(root);
  const node = process.execPath;
  await fs.mkdir(dir, { recursive: true });
  const data = path.join(dir, "data");
  const step = async (what: string, args: string[], input?: string) => {
    const r = await run(node, [cli, ...args], { input, cwd: root, timeoutMs: 60_000 });
    if (r.code !== 0) {
      const why = (r.stderr || r.stdout).trim().split("\n").slice(0, 3).join(" / ");
      throw new Unavailable(`\`freehold ${what}\` failed (exit ${r.code}): ${why}`);
    }
  };
  await step("init", ["init", "--hostname", o.hostname, "--data", data]);
  await step("domain add", ["--data", data, "domain", "add", o.domain]);
  await step("user add", ["--data", data, "user", "add", o.user.address, "--password-stdin"], `${o.user.password}\n`);

  const configFile = path.join(data, "freehold.yaml");
  if (!existsSync(configFile)) throw new Unavailable(`init wrote no ${path.relative(dir, configFile)}`);
  const ports: Record<string, number> = {};
  const listeners: object[] = [];
  for (const l of o.roles) {
    ports[l.role] = await freePort();
    listeners.push({ role: l.role, address: "127.0.0.1", port: ports[l.role], ...(l.tls ? { tls: l.tls } : {}) });
  }
  const dns = await startFaultServer(o.dns ?? (() => ({ kind: "rcode", rcode: "NXDOMAIN" })));
  const doc = parseDocument(await fs.readFile(configFile, "utf8"));
  doc.set("listeners", listeners);
  doc.setIn(["dns", "servers"], [dns.address]);
  for (const [keyPath, value] of o.configSet ?? []) doc.setIn(keyPath, value);
  await fs.writeFile(configFile, doc.toString());
  for (const [name, text] of Object.entries(o.files ?? {})) {
    await fs.mkdir(path.dirname(path.join(data, name)), { recursive: true });
    await fs.writeFile(path.join(data, name), text);
  }
  try {
    await o.beforeServe?.(data);
  } catch (err) {
    await dns.close();
    throw err;
  }

  const logFile = path.join(dir, "freehold.log");
  // Profiling hooks (docs/benchmarks.md): node options for `serve` (e.g. --cpu-prof, or
  // --import bench/support/loop-delay.ts) and a wrapper (e.g. strace -c -f -o FILE).
  const nodeArgs = (process.env.BENCH_FREEHOLD_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const envWrap = process.env.BENCH_FREEHOLD_WRAP ? process.env.BENCH_FREEHOLD_WRAP.split(" ").filter(Boolean) : undefined;
  let server: ManagedChild;
  const stop = async () => {
    await server.stop();
    await dns.close();
  };
  const first = o.roles[0].role;
  const serve = async () => {
    const logFd = openSync(logFile, "a");
    server = spawnManaged(node, [...nodeArgs, cli, "--data", data, "serve"], {
      cwd: root,
      stdio: ["ignore", logFd, logFd],
      wrap: o.wrap ?? envWrap,
    });
    closeSync(logFd);
    try {
      await waitForGreeting("127.0.0.1", ports[first], {
        timeoutMs: 30_000,
        isAlive: () => server.alive(),
        expect: first.startsWith("imap") ? "* OK" : "220",
      });
    } catch (err) {
      await stop();
      throw new Unavailable(`\`freehold serve\` did not answer on the ${first} port: ${(err as Error).message}; log: ${await logExcerpt(logFile)}`);
    }
  };
  await serve();
  return {
    data,
    ports,
    logFile,
    dns,
    get server() {
      return server;
    },
    stop,
    async restart() {
      await server.stop();
      await serve();
    },
  };
}

/** The first error line of the log and the one after it: more telling than a stack's tail. */
export async function logExcerpt(logFile: string): Promise<string> {
  const lines = (await fs.readFile(logFile, "utf8").catch(() => "")).trim().split("\n");
  const at = lines.findIndex((l) => /error/i.test(l));
  return (at >= 0 ? lines.slice(at, at + 2) : lines.slice(-2)).map((l) => l.trim()).join(" / ");
}
