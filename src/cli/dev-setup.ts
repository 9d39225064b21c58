// Dev mode's data folder (`npm start` → `freehold serve --dev`, data in .freehold-dev/): created on
// the first run, read back on every later one. Idempotent: each step checks what exists.
//
// - freehold.yaml with `dev: true` (outbound mail held in the queue) and loopback listeners on
//   high ports (mx 2525, submission 2587, submissions 2465, imap 2143, imaps 2993, http 8080);
// - a self-signed certificate for mail.example.test, localhost and 127.0.0.1;
// - the domain example.test with demo@example.test (user) and admin@example.test (server admin);
// - their passwords in dev-demo.password and dev-admin.password (0600) so every start can print
//   the logins. If a password was changed with the CLI, the next dev start sets it back to the
//   file's, so the printed login is always true (dev data only; never used outside dev mode).
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Clock } from "../clock.ts";
import { systemClock } from "../clock.ts";
import { CONFIG_FILE, loadConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { SYSTEM } from "../accounts/authz.ts";
import { AccountsService } from "../accounts/service.ts";
import { generatePassword, verifyPassword } from "../login/password.ts";
import type { ScryptParams } from "../login/password.ts";
import { openSqliteStore } from "../store/sqlite/store.ts";
import { writeFileAtomic } from "../tls/atomic-file.ts";
import { initDataDir } from "./init.ts";

export const DEV_HOSTNAME = "mail.example.test";
export const DEV_DOMAIN = "example.test";

export const DEV_LISTENERS = [
  { role: "mx", port: 2525 },
  { role: "submission", port: 2587 },
  { role: "submissions", port: 2465 },
  { role: "imap", port: 2143 },
  { role: "imaps", port: 2993 },
  { role: "http", port: 8080 },
] as const;

const DEV_ACCOUNTS = [
  { key: "demo", address: `demo@${DEV_DOMAIN}`, role: "user", file: "dev-demo.password" },
  { key: "admin", address: `admin@${DEV_DOMAIN}`, role: "admin", file: "dev-admin.password" },
] as const;

export interface Login {
  address: string;
  password: string;
}

export interface DevSetup {
  config: Config;
  demo: Login;
  admin: Login;
}

function devConfigYaml(): string {
  return [
    "# Development mode: loopback only, outbound mail held in the queue, demo logins printed.",
    "dev: true",
    "listeners:",
    ...DEV_LISTENERS.map((l) => `  - { role: ${l.role}, address: 127.0.0.1, port: ${l.port} }`),
    "# The system resolver, 2 s per try, one retry; a failed lookup is a temperror.",
    "dns: { timeoutMs: 2000, tries: 2 }",
    "log: { level: info }",
  ].join("\n");
}

async function readOrCreatePassword(file: string): Promise<string> {
  try {
    const pw = (await readFile(file, "utf8")).trim();
    if (pw !== "") return pw;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const pw = generatePassword();
  await writeFileAtomic(file, pw + "\n", 0o600);
  return pw;
}

export async function ensureDevSetup(
  dataDir: string,
  opts: { clock?: Clock; scrypt?: ScryptParams; warn?: (line: string) => void } = {},
): Promise<DevSetup> {
  const clock = opts.clock ?? systemClock;
  const dir = path.resolve(dataDir);
  try {
    await readFile(path.join(dir, CONFIG_FILE));
  } catch {
    await initDataDir(
      dir,
      { hostname: DEV_HOSTNAME, extraConfig: devConfigYaml(), altNames: ["localhost", "127.0.0.1"] },
      { clock, warn: opts.warn ?? (() => {}) },
    );
  }
  const config = await loadConfig(dir);
  const store = openSqliteStore(config.dataDir, { clock });
  try {
    const accounts = new AccountsService({ store, clock, defaultQuotaBytes: config.quota.defaultBytes, scrypt: opts.scrypt });
    if (!(await store.accounts.getDomain(DEV_DOMAIN))) await accounts.addDomain(SYSTEM, DEV_DOMAIN);
    const logins: Record<string, Login> = {};
    for (const a of DEV_ACCOUNTS) {
      const password = await readOrCreatePassword(path.join(dir, a.file));
      const existing = await store.accounts.getUserByAddress(a.address);
      if (!existing) {
        await accounts.addUser(SYSTEM, { address: a.address, password, role: a.role, displayName: a.key === "demo" ? "Demo User" : "Admin" });
      } else if (!(await verifyPassword(password, existing.passwordHash))) {
        await accounts.setPassword(SYSTEM, a.address, password);
      }
      logins[a.key] = { address: a.address, password };
    }
    return { config, demo: logins.demo, admin: logins.admin };
  } finally {
    await store.close();
  }
}

/** The lines dev mode prints on every start (the contract in issue 2: "Demo login: … password: …"). */
export function devLoginLines(s: Pick<DevSetup, "demo" | "admin">): string[] {
  return [`Demo login: ${s.demo.address} password: ${s.demo.password}`, `Admin login: ${s.admin.address} password: ${s.admin.password}`];
}
