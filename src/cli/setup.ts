// `freehold setup`: a production server in one command (issue 12; docs/install.md). Flags make it
// non-interactive; on a terminal it asks for what is missing. It writes the production
// freehold.yaml (real ports, no dev shortcuts; submission and IMAP offer AUTH only under TLS, the
// servers' rule), creates the first domain (with its DKIM keys) and the admin (generated password,
// printed once), optionally a relay as the default route, and prints the DNS records to publish.
// Preflight first: outbound TCP 25 (many VPS providers block it: then a relay is the way out),
// the host name's addresses (through the one Resolver), and port 80 for ACME's HTTP-01.
import { realpath } from "node:fs/promises";
import { exists } from "./init.ts";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import { normalizeDomain, parseOwnAddress } from "../accounts/address.ts";
import { SYSTEM } from "../accounts/authz.ts";
import { configPath, parseConfigText } from "../config/load.ts";
import { ConfigFileSchema, DEFAULT_LISTENERS } from "../config/schema.ts";
import { RelayAdmin } from "../delivery/relay-admin.ts";
import { relayAddresses } from "../delivery/transport.ts";
import { createResolver } from "../dns/resolver.ts";
import type { Resolver } from "../dns/resolver.ts";
import { discoverPublicIps, isPublicIp } from "../health/public-ips.ts";
import { domainRecords } from "../health/service.ts";
import { openSqliteStore } from "../store/sqlite/store.ts";
import { writeFileAtomic } from "../tls/atomic-file.ts";
import { generatePassword } from "../login/password.ts";
import type { CliIo } from "./context.ts";
import { CliError, EXIT_USAGE, dataDirOf, openDataDir, print, printGeneratedPassword } from "./context.ts";
import { table } from "./table.ts";

/** SMTP2GO's submission endpoint (port 2525 with STARTTLS also gets through most port blocks). */
export const SMTP2GO = { host: "mail.smtp2go.com", port: 2525, tls: "starttls" as const, spfInclude: "spf.smtp2go.com" };

/** Outbound 25 is tried against this MX by default (any big provider's MX answers on 25). */
const DEFAULT_PORT25_TARGET = "gmail-smtp-in.l.google.com:25";

export type PortCheck = { ok: true; detail: string } | { ok: false; detail: string };

/** Connect to host:port (host an IP, or a name resolved through the Resolver) within timeoutMs. */
export async function probeTcp(resolver: Resolver, target: string, timeoutMs: number): Promise<PortCheck> {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(target);
  if (!m) return { ok: false, detail: `bad target ${target} (expected host:port)` };
  const host = m[1] ?? m[2] ?? "";
  const port = Number(m[3]);
  let address = host;
  if (!net.isIP(host)) {
    try {
      const addrs = await relayAddresses(resolver, host);
      if (addrs.length === 0) return { ok: false, detail: `${host}: no address` };
      address = addrs[0];
    } catch (e) {
      return { ok: false, detail: `${host}: cannot resolve (${(e as Error).message})` };
    }
  }
  return await new Promise<PortCheck>((resolve) => {
    const sock = net.connect({ host: address, port });
    const done = (r: PortCheck) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ ok: false, detail: `${address}:${port}: no answer within ${timeoutMs} ms (filtered)` }), timeoutMs);
    sock.once("connect", () => done({ ok: true, detail: `${address}:${port} reachable` }));
    sock.once("error", (e: NodeJS.ErrnoException) => done({ ok: false, detail: `${address}:${port}: ${e.code ?? e.message}` }));
  });
}

/** Can this process bind address:port (nothing else listens there)? */
async function canBind(address: string, port: number): Promise<PortCheck> {
  return await new Promise<PortCheck>((resolve) => {
    const srv = net.createServer();
    srv.once("error", (e: NodeJS.ErrnoException) => resolve({ ok: false, detail: `${address}:${port}: ${e.code ?? e.message}` }));
    srv.listen({ host: address, port, exclusive: true }, () => srv.close(() => resolve({ ok: true, detail: `${address}:${port} free` })));
  });
}

function localAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(os.networkInterfaces())) for (const i of list ?? []) out.add(i.address);
  return out;
}

export interface SetupAnswers {
  hostname: string;
  domain: string;
  admin: string;
  ips: string[];
  listen: string[];
  relay?: { name: string; host: string; port: number; tls: "starttls" | "implicit"; username?: string; password?: string; spfInclude?: string };
  dnsServers: string[];
  acme?: { directoryUrl: string; email?: string; caFile?: string };
}

const LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory";

/** Does this version's config have the `acme` section (issue 12 item 4)? */
function acmeSupported(): boolean {
  return "acme" in ConfigFileSchema.shape;
}

/** The production freehold.yaml. */
export function productionConfigText(a: SetupAnswers): string {
  const listeners = a.listen.flatMap((addr) => DEFAULT_LISTENERS.map((l) => ({ ...l, address: addr })));
  const lines = [
    "# Freehold production configuration, written by `freehold setup`.",
    "# Every key, with its default and meaning: `freehold config example`. Check changes with",
    "# `freehold config check`, then `systemctl restart freehold`.",
    `hostname: ${a.hostname}`,
    "server:",
    `  publicIps: [${a.ips.map((ip) => JSON.stringify(ip)).join(", ")}]`,
    "# The standard ports: MX 25 (STARTTLS), submission 587 (STARTTLS) and 465 (TLS), IMAP 143",
    "# (STARTTLS) and 993 (TLS), http 80 (ACME, redirects), https 443 (web admin, API, MTA-STS).",
    "# AUTH is offered only once TLS is on.",
    "listeners:",
    ...listeners.map((l) => `  - { role: ${l.role}, address: ${JSON.stringify(l.address)}, port: ${l.port} }`),
  ];
  if (a.dnsServers.length > 0) lines.push(`dns: { servers: [${a.dnsServers.map((s) => JSON.stringify(s)).join(", ")}] }`);
  // issue 12 item 4 (ACME) adds an `acme` section; setup writes it once the schema has the key.
  if (a.acme) {
    const parts = [`enabled: true`, `directoryUrl: ${JSON.stringify(a.acme.directoryUrl)}`];
    if (a.acme.email) parts.push(`email: ${JSON.stringify(a.acme.email)}`);
    if (a.acme.caFile) parts.push(`caFile: ${JSON.stringify(a.acme.caFile)}`);
    lines.push(`acme: { ${parts.join(", ")} }`);
  } else if (acmeSupported()) {
    lines.push(`acme: { enabled: true, directoryUrl: ${JSON.stringify(LETS_ENCRYPT)} }`);
  }
  return lines.join("\n") + "\n";
}

interface SetupFlags {
  hostname?: string;
  domain?: string;
  admin?: string;
  ip?: string[];
  listen?: string[];
  relay?: string;
  relayUser?: string;
  relayTls?: string;
  dnsServer?: string[];
  port25Target: string;
  port25TimeoutMs: string;
  preflight: boolean;
  acmeDirectory?: string;
  acmeEmail?: string;
  acmeCaFile?: string;
}

export function registerSetup(program: Command, io: CliIo): void {
  program
    .command("setup")
    .description("set up a production server: config, first domain, admin, DKIM, DNS records (asks on a terminal)")
    .option("--hostname <name>", "this server's host name, e.g. mail.example.com (its A/AAAA point here; PTR of the IPs too)")
    .option("--domain <domain>", "the first mail domain, e.g. example.com (default: the host name minus its first label)")
    .option("--admin <address>", "the server admin's address (default: postmaster@DOMAIN)")
    .option("--ip <address...>", "the public IP addresses (default: the public ones on this host's interfaces)")
    .option("--listen <address...>", "addresses to listen on (default: 0.0.0.0 and ::)")
    .option("--relay <relay>", "send through a smarthost: smtp2go, or host:port")
    .option("--relay-user <user>", "the relay's AUTH user name; the password is read from standard input")
    .option("--relay-tls <mode>", "starttls or implicit (default: implicit on 465, else starttls)")
    .option("--dns-server <server...>", "recursive resolvers to use, ip or ip:port (default: the system's)")
    .option("--port25-target <host:port>", "where the outbound port 25 test connects", DEFAULT_PORT25_TARGET)
    .option("--port25-timeout-ms <ms>", "how long the port 25 test waits", "5000")
    .option("--no-preflight", "skip the outbound 25, host name and port 80 checks")
    .option("--acme-directory <url>", "ACME directory URL (default: Let's Encrypt production)")
    .option("--acme-email <address>", "ACME account contact address")
    .option("--acme-ca-file <file>", "trust this CA for the ACME server (a private or test CA such as pebble)")
    .action(async function (this: Command) {
      const o = this.opts() as SetupFlags;
      const dataDir = dataDirOf(this, io);
      await runSetup(dataDir, o, io);
    });
}

async function ask(io: CliIo, question: string, fallback?: string): Promise<string> {
  const rl = createInterface({ input: io.stdin, output: io.stdout });
  try {
    const a = (await rl.question(fallback ? `${question} [${fallback}]: ` : `${question}: `)).trim();
    return a === "" ? (fallback ?? "") : a;
  } finally {
    rl.close();
  }
}

async function firstLine(io: CliIo): Promise<string> {
  let text = "";
  for await (const chunk of io.stdin) {
    text += String(chunk);
    if (text.includes("\n")) break;
  }
  return text.split(/\r?\n/)[0];
}

export async function runSetup(dataDir: string, o: SetupFlags, io: CliIo): Promise<void> {
  const tty = io.stdin.isTTY === true;
  if (await exists(path.join(dataDir, "meta.sqlite"))) {
    throw new CliError(`${dataDir} is already set up (meta.sqlite exists); change it with the other commands (freehold --help)`);
  }
  const given = o.hostname ?? (tty ? await ask(io, "Host name of this server (e.g. mail.example.com)") : undefined);
  if (!given) throw new CliError("--hostname is required (e.g. --hostname mail.example.com)", EXIT_USAGE);
  const hostname = normalizeDomain(given) ?? "";
  if (!hostname.includes(".")) throw new CliError(`--hostname: "${hostname}" is not a fully qualified host name`, EXIT_USAGE);
  const defDomain = hostname.split(".").slice(1).join(".");
  const domain = normalizeDomain(o.domain ?? (tty ? await ask(io, "First mail domain", defDomain) : defDomain)) ?? "";
  if (!domain.includes(".")) throw new CliError(`--domain: not a domain`, EXIT_USAGE);
  const adminAddr = o.admin ?? (tty ? await ask(io, "Admin address", `postmaster@${domain}`) : `postmaster@${domain}`);
  const admin = parseOwnAddress(adminAddr);
  const discovered = discoverPublicIps();
  let ips = o.ip ?? discovered;
  if (!o.ip && tty) {
    const a = await ask(io, "Public IP addresses (space separated)", discovered.join(" ") || undefined);
    ips = a.split(/[\s,]+/).filter((s) => s !== "");
  }
  for (const ip of ips) if (!net.isIP(ip)) throw new CliError(`--ip: not an IP address: ${ip}`, EXIT_USAGE);
  for (const ip of ips) if (!isPublicIp(ip)) io.stderr.write(`freehold: warning: ${ip} is not a public address (other servers cannot reach it)\n`);
  const listen = o.listen ?? ["0.0.0.0", "::"];
  for (const a of listen) if (!net.isIP(a)) throw new CliError(`--listen: not an IP address: ${a}`, EXIT_USAGE);
  const dnsServers = o.dnsServer ?? [];
  const resolver = createResolver({ servers: dnsServers.length > 0 ? dnsServers : undefined, timeoutMs: 3000, tries: 2 });
  let relaySpec = o.relay;
  try {
    if (o.preflight) {
      print(io, "Preflight:");
      const timeoutMs = Number(o.port25TimeoutMs);
      const p25 = await probeTcp(resolver, o.port25Target, Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs : 5000);
      print(io, `  ${p25.ok ? "ok  " : "FAIL"} outbound TCP 25: ${p25.detail}`);
      if (!p25.ok) {
        print(io, "       Outbound port 25 looks blocked (many VPS providers block it). Ask the provider to open it,");
        print(io, "       or send through a relay: --relay smtp2go --relay-user USER (password on stdin), or --relay host:port.");
        if (!relaySpec && tty) {
          const a = await ask(io, "Configure a relay now? smtp2go, host:port, or empty for none", "");
          if (a !== "") relaySpec = a;
        }
      }
      let addrs: string[] = [];
      try {
        addrs = [...(await resolver.a(hostname).catch(() => [])), ...(await resolver.aaaa(hostname).catch(() => []))];
      } catch {
        addrs = [];
      }
      const mine = new Set([...localAddresses(), ...ips]);
      const hit = addrs.filter((a) => mine.has(a));
      if (addrs.length === 0) print(io, `  FAIL host name: ${hostname} does not resolve yet; publish its A/AAAA records (below)`);
      else if (hit.length === 0) print(io, `  FAIL host name: ${hostname} resolves to ${addrs.join(", ")}, not to this machine (${[...ips].join(", ") || "no public IP"})`);
      else print(io, `  ok   host name: ${hostname} resolves to this machine (${hit.join(", ")})`);
      const p80 = await Promise.all(listen.map((a) => canBind(a, 80)));
      const busy = p80.filter((r) => !r.ok);
      if (busy.length > 0) print(io, `  FAIL port 80: ${busy.map((b) => b.detail).join("; ")}: another program holds it; ACME's HTTP-01 needs it`);
      else print(io, `  ok   port 80: free on ${listen.join(", ")} (open it in the provider's firewall too: ACME validates from outside)`);
    }
    let relay: SetupAnswers["relay"];
    if (relaySpec) {
      if (relaySpec === "smtp2go") relay = { name: "smtp2go", ...SMTP2GO };
      else {
        const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(relaySpec);
        if (!m) throw new CliError(`--relay: expected smtp2go or host:port, got ${relaySpec}`, EXIT_USAGE);
        const port = Number(m[3]);
        const tls = (o.relayTls ?? (port === 465 ? "implicit" : "starttls")) as "starttls" | "implicit";
        if (tls !== "starttls" && tls !== "implicit") throw new CliError("--relay-tls must be starttls or implicit", EXIT_USAGE);
        relay = { name: "relay", host: m[1] ?? m[2] ?? "", port, tls };
      }
      if (o.relayUser) {
        relay.username = o.relayUser;
        relay.password = tty ? await ask(io, `Password for ${o.relayUser} at ${relay.host}`) : await firstLine(io);
        if (!relay.password) throw new CliError("--relay-user: no password on standard input", EXIT_USAGE);
      }
    }
    let acme: SetupAnswers["acme"];
    if (o.acmeDirectory || o.acmeEmail || o.acmeCaFile) {
      if (!acmeSupported()) throw new CliError("--acme-*: this version has no ACME support yet (no acme section in the config)", EXIT_USAGE);
      acme = { directoryUrl: o.acmeDirectory ?? LETS_ENCRYPT, email: o.acmeEmail, caFile: o.acmeCaFile ? path.resolve(o.acmeCaFile) : undefined };
    }
    const answers: SetupAnswers = { hostname, domain, admin: `${admin.local}@${admin.domain}`, ips, listen, relay, dnsServers, acme };
    await writeSetup(dataDir, answers, io);
  } finally {
    resolver.cancel();
  }
}

async function writeSetup(dataDir: string, a: SetupAnswers, io: CliIo): Promise<void> {
  const text = productionConfigText(a);
  // The file must load before anything is created (a template bug fails here).
  parseConfigText(text, { file: "freehold.yaml", dataDir });
  // In the package the data folder's freehold.yaml links to /etc/freehold/freehold.yaml: write there.
  let file = configPath(dataDir);
  try {
    file = await realpath(file);
  } catch {
    /* not there yet */
  }
  const certPath = path.join(dataDir, "tls", "cert.pem");
  const keyPath = path.join(dataDir, "tls", "key.pem");
  if (!(await exists(certPath))) {
    // Until a certificate is obtained (ACME, or your own files in tls/): a self-signed one, so
    // TLS (and with it AUTH) works from the first start.
    const { writeSelfSigned } = await import("../tls/selfsigned.ts");
    await writeSelfSigned(certPath, keyPath, { hostname: a.hostname, clock: io.clock });
  }
  await writeFileAtomic(file, text, 0o640);
  const store = openSqliteStore(dataDir, { clock: io.clock });
  await store.close();
  print(io, `Wrote ${file}`);
  const opened = await openDataDir(dataDir, io);
  try {
    if (!(await opened.store.accounts.getDomain(a.domain))) await opened.accounts.addDomain(SYSTEM, a.domain);
    const adminDomain = a.admin.split("@")[1] ?? a.domain;
    if (!(await opened.store.accounts.getDomain(adminDomain))) await opened.accounts.addDomain(SYSTEM, adminDomain);
    const password = generatePassword();
    const u = await opened.accounts.addUser(SYSTEM, { address: a.admin, password, role: "admin" });
    print(io, `Created domain ${a.domain} (DKIM keys made) and server admin ${u.address}`);
    printGeneratedPassword(io, u.address, password);
    if (a.relay) {
      const admin = new RelayAdmin({ dataDir, store: opened.store });
      const { name, ...input } = a.relay;
      await admin.put(SYSTEM, name, input);
      await admin.setRoute(SYSTEM, "default", null, [name]);
      print(io, `Relay ${name}: ${a.relay.host}:${a.relay.port} (${a.relay.tls}) carries all outbound mail (freehold relay test ${name})`);
    }
    const { loadRelayFile } = await import("../delivery/relays.ts");
    const recs = domainRecords(opened.config, opened.dkim, a.domain, { relays: await loadRelayFile(dataDir) });
    print(io);
    print(io, `DNS records to publish for ${a.domain} (freehold dns records ${a.domain} --zone prints a zone snippet):`);
    print(io, table(["NAME", "TYPE", "VALUE", "PURPOSE"], recs.map((r) => [r.name, r.type, r.value, r.purpose])));
    if (a.ips.length === 0) print(io, "No public IP: pass --ip (SPF, A/AAAA and PTR above are incomplete).");
    print(io);
    print(io, "Next: publish the records, ask the provider for the PTR (reverse DNS) of each IP, then");
    print(io, "      systemctl enable --now freehold   (docs/install.md)");
  } finally {
    await opened.close();
  }
}
