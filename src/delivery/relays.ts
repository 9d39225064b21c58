// Relays (smarthosts) and the rules that pick a route for each recipient.
//
// Two files in the data folder, both written by Freehold (`freehold relay ...`, later the web
// admin), never by hand-editing the main config:
//   <data>/relays.yaml            relays (no secrets) and route rules, mode 0644
//   <data>/secrets/relays.yaml    AUTH credentials per relay name, mode 0600 in a 0700 folder
// Keeping credentials apart lets relays.yaml be shown, diffed and backed up freely.
//
// Route choice (docs/relay.md): a recipient-domain rule wins over a sender-domain rule, which
// wins over the default. The receiving side decides because that is where delivery succeeds or
// fails (a partner that only accepts our relay's IPs); a sender rule is a preference.
import fs from "node:fs/promises";
import path from "node:path";
import net from "node:net";
import { z } from "zod";
import YAML from "yaml";

export const RELAY_TLS_MODES = ["starttls", "implicit", "none"] as const;
export type RelayTlsMode = (typeof RELAY_TLS_MODES)[number];

const NAME_RE = /^[a-z0-9][a-z0-9_-]{0,62}$/;
/** Route names with a built-in meaning; a relay may not take them. */
export const BUILTIN_ROUTES = ["direct"] as const;

export const RelaySchema = z.strictObject({
  name: z.string().regex(NAME_RE, { error: "relay names are lower-case letters, digits, - and _" }),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  tls: z.enum(RELAY_TLS_MODES),
  /** Connections open at once to this relay. */
  maxConnections: z.number().int().min(1).max(1000).default(10),
  /** The relay's SPF domain (`include:` in the SPF of each domain it sends for), e.g. "spf.relay.example". */
  spfInclude: z.string().regex(/^[a-z0-9.-]+\.[a-z0-9-]+$/i, { error: "expected a domain such as spf.relay.example" }).optional(),
});
export type Relay = z.output<typeof RelaySchema>;

const routeList = z.array(z.string().min(1)).min(1);
export const RoutesSchema = z
  .strictObject({
    recipientDomains: z.record(z.string(), routeList).default({}),
    senderDomains: z.record(z.string(), routeList).default({}),
    default: routeList.default(["direct"]),
  })
  .prefault({});
export type Routes = z.output<typeof RoutesSchema>;

export const RelayFileSchema = z
  .strictObject({
    relays: z.array(RelaySchema).default([]),
    routes: RoutesSchema,
  })
  .superRefine((f, ctx) => {
    const names = new Set<string>();
    f.relays.forEach((r, i) => {
      if (names.has(r.name)) ctx.addIssue({ code: "custom", path: ["relays", i, "name"], message: `duplicate relay ${r.name}` });
      if ((BUILTIN_ROUTES as readonly string[]).includes(r.name)) ctx.addIssue({ code: "custom", path: ["relays", i, "name"], message: `${r.name} is a built-in route` });
      // Credentials and mail in clear text only to a relay on this machine.
      if (r.tls === "none" && !isLoopbackHost(r.host)) {
        ctx.addIssue({ code: "custom", path: ["relays", i, "tls"], message: "tls: none is allowed only for a relay on loopback" });
      }
      names.add(r.name);
    });
    const known = new Set([...BUILTIN_ROUTES, ...names]);
    const check = (list: string[], where: (string | number)[]) => {
      for (const n of list) if (!known.has(n)) ctx.addIssue({ code: "custom", path: where, message: `unknown route ${n}` });
    };
    check(f.routes.default, ["routes", "default"]);
    for (const [d, l] of Object.entries(f.routes.recipientDomains)) check(l, ["routes", "recipientDomains", d]);
    for (const [d, l] of Object.entries(f.routes.senderDomains)) check(l, ["routes", "senderDomains", d]);
  });
export type RelayFile = z.output<typeof RelayFileSchema>;

export interface RelayCredentials {
  username: string;
  password: string;
}
const SecretsSchema = z.record(z.string(), z.strictObject({ username: z.string(), password: z.string() }));

export function isLoopbackHost(host: string): boolean {
  if (host === "localhost" || host === "::1") return true;
  return net.isIPv4(host) && host.startsWith("127.");
}

export const relayFilePath = (dataDir: string): string => path.join(dataDir, "relays.yaml");
export const relaySecretsPath = (dataDir: string): string => path.join(dataDir, "secrets", "relays.yaml");

export class RelayConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RelayConfigError";
  }
}

/** Reads relays.yaml; a missing file is the default (every route direct). */
export async function loadRelayFile(dataDir: string): Promise<RelayFile> {
  let text: string;
  try {
    text = await fs.readFile(relayFilePath(dataDir), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return RelayFileSchema.parse({});
    throw e;
  }
  const r = RelayFileSchema.safeParse(YAML.parse(text) ?? {});
  if (!r.success) {
    throw new RelayConfigError(`${relayFilePath(dataDir)}: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  return r.data;
}

export async function loadRelaySecrets(dataDir: string): Promise<Record<string, RelayCredentials>> {
  try {
    const r = SecretsSchema.safeParse(YAML.parse(await fs.readFile(relaySecretsPath(dataDir), "utf8")) ?? {});
    if (!r.success) throw new RelayConfigError(`${relaySecretsPath(dataDir)}: not a map of name → {username, password}`);
    return r.data;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw e;
  }
}

/**
 * Relays and secrets as of their files' last change: the queue runner asks before every pass
 * (so CLI edits apply at once), and under load passes follow each other closely. A stat of
 * both files (inode, size, mtime; saves replace the file, so the inode changes) decides whether
 * to read and validate them again.
 */
export class RelayFileCache {
  #dataDir: string;
  #stamp = "";
  #value: { file: RelayFile; secrets: Record<string, RelayCredentials> } | null = null;

  constructor(dataDir: string) {
    this.#dataDir = dataDir;
  }

  async load(): Promise<{ file: RelayFile; secrets: Record<string, RelayCredentials> }> {
    const stamp = (await Promise.all([relayFilePath(this.#dataDir), relaySecretsPath(this.#dataDir)].map(fileStamp))).join("|");
    if (this.#value && stamp === this.#stamp) return this.#value;
    const value = { file: await loadRelayFile(this.#dataDir), secrets: await loadRelaySecrets(this.#dataDir) };
    // A change between the stat and the read only makes the next call read again.
    this.#stamp = stamp;
    this.#value = value;
    return value;
  }
}

async function fileStamp(file: string): Promise<string> {
  try {
    const st = await fs.stat(file, { bigint: true });
    return `${st.ino}:${st.size}:${st.mtimeNs}`;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return "none";
    throw e;
  }
}

/** Validates and writes relays.yaml atomically (temp file, rename). */
export async function saveRelayFile(dataDir: string, file: RelayFile): Promise<void> {
  const r = RelayFileSchema.safeParse(file);
  if (!r.success) throw new RelayConfigError(r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
  await writeAtomic(relayFilePath(dataDir), YAML.stringify(r.data), 0o644);
}

/** Writes the secrets file 0600 inside a 0700 folder, atomically. */
export async function saveRelaySecrets(dataDir: string, secrets: Record<string, RelayCredentials>): Promise<void> {
  const dir = path.dirname(relaySecretsPath(dataDir));
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await fs.chmod(dir, 0o700);
  await writeAtomic(relaySecretsPath(dataDir), YAML.stringify(secrets), 0o600);
}

async function writeAtomic(file: string, text: string, mode: number): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  const h = await fs.open(tmp, "w", mode);
  try {
    await h.writeFile(text);
    await h.sync();
  } finally {
    await h.close();
  }
  await fs.chmod(tmp, mode);
  await fs.rename(tmp, file);
}

const domainOf = (address: string): string => address.slice(address.lastIndexOf("@") + 1).toLowerCase();

/** Looks a domain up in a rule map: the exact domain, then each parent ("example.com" covers "a.example.com"). */
function lookupDomain(map: Record<string, string[]>, domain: string): string[] | undefined {
  const lower = Object.fromEntries(Object.entries(map).map(([k, v]) => [k.toLowerCase().replace(/^\./, ""), v]));
  let d = domain;
  for (;;) {
    if (lower[d]) return lower[d];
    const dot = d.indexOf(".");
    if (dot < 0) return undefined;
    d = d.slice(dot + 1);
  }
}

/** The ordered failover list of routes for one recipient of a message from `sender`. */
export function chooseRoutes(routes: Routes, sender: string, recipient: string): string[] {
  return (
    lookupDomain(routes.recipientDomains, domainOf(recipient)) ??
    (sender === "" ? undefined : lookupDomain(routes.senderDomains, domainOf(sender))) ??
    routes.default
  );
}
