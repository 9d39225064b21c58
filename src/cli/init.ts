// `freehold init --hostname H --data DIR`: a new data folder (mode 0700) with freehold.yaml, a
// self-signed certificate and the database. It never touches an existing setup.
import { chmod, mkdir, stat } from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import type { Clock } from "../clock.ts";
import { CONFIG_FILE, loadConfig } from "../config/load.ts";
import { normalizeDomain, parseOwnAddress } from "../accounts/address.ts";
import { SYSTEM } from "../accounts/authz.ts";
import { openSqliteStore } from "../store/sqlite/store.ts";
import { writeFileAtomic } from "../tls/atomic-file.ts";
import { discoverPublicIps, publicIpsYaml } from "../health/public-ips.ts";
import type { CliIo } from "./context.ts";
import { CliError, EXIT_USAGE, dataDirOf, obtainPassword, openDataDir, print, printGeneratedPassword } from "./context.ts";

/** The database file H1's SQLite store creates (src/store/sqlite/store.ts default). */
const DB_FILE = "meta.sqlite";

/** Whether a path exists (init and setup refuse to overwrite). */
export async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

export function initialConfigText(hostname: string, extra = ""): string {
  return [
    "# Freehold configuration. Every key, with its default and meaning: `freehold config example`.",
    "# Check changes with `freehold config check`.",
    `hostname: ${hostname}`,
    extra,
  ]
    .filter((l) => l !== "")
    .join("\n") + "\n";
}

export interface InitOptions {
  hostname: string;
  /** Extra YAML appended to the config (dev setup). */
  extraConfig?: string;
  /** Extra certificate names (dev: localhost, 127.0.0.1). */
  altNames?: string[];
  /** `server.publicIps`; default: the public addresses of this host's interfaces. */
  publicIps?: string[];
}

/**
 * Create a data folder. Refuses when freehold.yaml or the database exists. The config is written
 * last, so a failed init can simply be run again.
 */
export async function initDataDir(dataDir: string, opts: InitOptions, env: { clock: Clock; warn(line: string): void }): Promise<string[]> {
  for (const f of [CONFIG_FILE, DB_FILE]) {
    if (await exists(path.join(dataDir, f))) {
      throw new CliError(`${dataDir} already holds a Freehold setup (${f}); refusing to overwrite it`);
    }
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  // The folder holds keys and mail: owner only, even if it existed with wider permissions.
  await chmod(dataDir, 0o700);
  const created: string[] = [];
  const certPath = path.join(dataDir, "tls", "cert.pem");
  const keyPath = path.join(dataDir, "tls", "key.pem");
  if ((await exists(certPath)) || (await exists(keyPath))) {
    env.warn(`keeping the existing ${path.relative(dataDir, certPath)} and ${path.relative(dataDir, keyPath)}`);
  } else {
    // Loaded on demand: the X.509 stack is only needed here, and every other command starts faster.
    const { writeSelfSigned } = await import("../tls/selfsigned.ts");
    await writeSelfSigned(certPath, keyPath, { hostname: opts.hostname, altNames: opts.altNames, clock: env.clock });
    created.push("tls/cert.pem", "tls/key.pem (0600)");
  }
  const store = openSqliteStore(dataDir, { clock: env.clock });
  await store.close();
  created.push(DB_FILE);
  await writeFileAtomic(path.join(dataDir, CONFIG_FILE), initialConfigText(opts.hostname, [opts.extraConfig ?? "", publicIpsYaml(opts.publicIps ?? discoverPublicIps())].filter((t) => t !== "").join("\n")), 0o600);
  created.push(CONFIG_FILE);
  // Whatever we wrote must load: a template bug should fail here, not at the first `serve`.
  await loadConfig(dataDir);
  return created;
}

export function registerInit(program: Command, io: CliIo): void {
  program
    .command("init")
    .description("create a data folder: freehold.yaml, a self-signed certificate, the database")
    .requiredOption("--hostname <name>", "this server's host name, e.g. mail.example.com")
    .option("--admin <address>", "also create this server admin (and its domain)")
    .option("--password-stdin", "read the admin's password from standard input")
    .action(async function (this: Command) {
      const o = this.opts() as { hostname: string; admin?: string; passwordStdin?: boolean };
      const hostname = normalizeDomain(o.hostname);
      if (!hostname || !hostname.includes(".")) {
        throw new CliError(`--hostname: "${o.hostname}" is not a fully qualified host name (e.g. mail.example.com)`, EXIT_USAGE);
      }
      const admin = o.admin !== undefined ? parseOwnAddress(o.admin) : undefined;
      const dataDir = dataDirOf(this, io);
      const created = await initDataDir(dataDir, { hostname }, { clock: io.clock, warn: (l) => io.stderr.write(`freehold: ${l}\n`) });
      print(io, `Created ${dataDir}: ${created.join(", ")}`);
      if (admin) {
        const opened = await openDataDir(dataDir, io);
        try {
          if (!(await opened.store.accounts.getDomain(admin.domain))) await opened.accounts.addDomain(SYSTEM, admin.domain);
          const { password, generated } = await obtainPassword(io, o.passwordStdin);
          const u = await opened.accounts.addUser(SYSTEM, { address: `${admin.local}@${admin.domain}`, password, role: "admin" });
          print(io, `Created server admin ${u.address}`);
          if (generated) printGeneratedPassword(io, u.address, password);
        } finally {
          await opened.close();
        }
      }
      print(io, "Next: the certificate is self-signed; replace tls/cert.pem and tls/key.pem for production.");
      print(io, `      freehold --data ${dataDir} domain add <your domain>`);
    });
}
