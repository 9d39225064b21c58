// `freehold relay add|list|remove|test` and `freehold relay route set|remove|list`.
// Relays and routes live in <data>/relays.yaml, credentials in <data>/secrets/relays.yaml (0600);
// see src/delivery/relays.ts and docs/relay.md. A running server reads both on every queue pass.
// Changes go through src/delivery/relay-admin.ts (the API's service), so they are audited.
import type { Command } from "commander";
import type { Readable } from "node:stream";
import type { CliIo } from "./context.ts";
import { CliError, EXIT_FAILURE, EXIT_USAGE, dataDirOf, print, withDataDir } from "./context.ts";
import { SYSTEM } from "../accounts/authz.ts";
import { RelayAdmin } from "../delivery/relay-admin.ts";
import { table } from "./table.ts";
import { loadConfig } from "../config/load.ts";
import {
  RELAY_TLS_MODES,
  RelayConfigError,
  loadRelayFile,
  loadRelaySecrets,
} from "../delivery/relays.ts";
import type { RelayFile, RelayTlsMode } from "../delivery/relays.ts";
import { NoSuchRelayError, testRelay } from "../delivery/relay-test.ts";
import type { RelayTestResult } from "../delivery/relay-test.ts";

async function firstLine(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === "string" ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString("utf8").split(/\r?\n/)[0];
}

async function load(dataDir: string): Promise<RelayFile> {
  try {
    return await loadRelayFile(dataDir);
  } catch (e) {
    if (e instanceof RelayConfigError) throw new CliError(e.message);
    throw e;
  }
}

const RULE_KINDS = ["default", "recipient-domain", "sender-domain"] as const;
type RuleKind = (typeof RULE_KINDS)[number];

export function registerRelay(program: Command, io: CliIo): void {
  const relay = program.command("relay").description("smarthost relays and the routes that use them");

  relay
    .command("add")
    .description("add or replace a relay; with --user the password is read from standard input")
    .argument("<name>", "relay name, e.g. smtp2go")
    .requiredOption("--host <host>", "relay host name")
    .requiredOption("--port <port>", "port (587 or 2525 with starttls, 465 with implicit)")
    .option("--tls <mode>", `TLS: ${RELAY_TLS_MODES.join(", ")} (none only on loopback)`, "starttls")
    .option("--user <username>", "AUTH user name")
    .option("--max-connections <n>", "connections open at once", "10")
    .option("--spf-include <domain>", "the relay's SPF domain, added as include: to the SPF of domains it sends for")
    .action(async function (this: Command, name: string) {
      const o = this.opts() as { host: string; port: string; tls: string; user?: string; maxConnections: string; spfInclude?: string };
      if (!(RELAY_TLS_MODES as readonly string[]).includes(o.tls)) throw new CliError(`--tls must be one of ${RELAY_TLS_MODES.join(", ")}`, EXIT_USAGE);
      const port = Number(o.port);
      const maxConnections = Number(o.maxConnections);
      if (!Number.isInteger(port)) throw new CliError("--port must be a number", EXIT_USAGE);
      if (!Number.isInteger(maxConnections)) throw new CliError("--max-connections must be a number", EXIT_USAGE);
      const dataDir = dataDirOf(this, io);
      let password: string | undefined;
      if (o.user) {
        password = await firstLine(io.stdin);
        if (password === "") throw new CliError("no password on standard input (pipe it in: printf %s \"$PASS\" | freehold relay add ...)", EXIT_USAGE);
      }
      // Through the service layer (validated by relays.ts, audited with the password redacted).
      await withDataDir(this, io, ({ store }) =>
        new RelayAdmin({ dataDir, store }).put(SYSTEM, name, { host: o.host, port, tls: o.tls as RelayTlsMode, maxConnections, username: o.user, password, spfInclude: o.spfInclude }),
      );
      print(io, `Relay ${name}: ${o.host}:${port} (${o.tls}${o.user ? `, AUTH as ${o.user}` : ""}). Route mail to it with: freehold relay route set default ${name}`);
    });

  relay
    .command("list")
    .description("list relays")
    .option("--json", "print JSON (no passwords)")
    .action(async function (this: Command) {
      const { json } = this.opts() as { json?: boolean };
      const dataDir = dataDirOf(this, io);
      const file = await load(dataDir);
      const secrets = await loadRelaySecrets(dataDir);
      const rows = file.relays.map((r) => ({ ...r, user: secrets[r.name]?.username ?? null }));
      if (json) return print(io, JSON.stringify(rows, null, 2));
      if (rows.length === 0) return print(io, "No relays.");
      print(io, table(["NAME", "HOST", "PORT", "TLS", "AUTH USER", "MAX CONN"], rows.map((r) => [r.name, r.host, String(r.port), r.tls, r.user ?? "-", String(r.maxConnections)])));
    });

  relay
    .command("remove")
    .description("remove a relay (refused while a route uses it)")
    .argument("<name>", "relay name")
    .action(async function (this: Command, name: string) {
      const dataDir = dataDirOf(this, io);
      await withDataDir(this, io, ({ store }) => new RelayAdmin({ dataDir, store }).remove(SYSTEM, name));
      print(io, `Removed relay ${name}.`);
    });

  relay
    .command("test")
    .description("connect to a relay, negotiate TLS and authenticate, reporting each step (no mail is sent)")
    .argument("<name>", "relay name")
    .option("--ca-file <file>", "trust this CA too (a relay with a private CA)")
    .action(async function (this: Command, name: string) {
      const { caFile } = this.opts() as { caFile?: string };
      const dataDir = dataDirOf(this, io);
      const config = await loadConfig(dataDir);
      let r: RelayTestResult;
      try {
        r = await testRelay(dataDir, config, name, {
          caFile,
          onStep: (s) => print(io, `${s.ok ? "ok  " : "FAIL"}  ${s.step.padEnd(10)} ${s.detail}`),
        });
      } catch (e) {
        if (e instanceof NoSuchRelayError) throw new CliError(e.message);
        throw e;
      }
      if (!r.ok) throw new CliError(`relay ${name} failed the test`, EXIT_FAILURE);
      print(io, `Relay ${name} is ready.`);
    });

  const route = relay.command("route").description("which routes carry mail (recipient-domain rules win over sender-domain rules over the default)");

  route
    .command("set")
    .description("set the ordered failover list of routes: default, or for a recipient or sender domain")
    .argument("<kind>", RULE_KINDS.join(" | "))
    .argument("<domainOrRoute>", "the domain (or, for default, the first route)")
    .argument("[routes...]", "routes in failover order: direct or relay names")
    .action(async function (this: Command, kind: string, first: string, rest: string[]) {
      if (!(RULE_KINDS as readonly string[]).includes(kind)) throw new CliError(`kind must be one of ${RULE_KINDS.join(", ")}`, EXIT_USAGE);
      const dataDir = dataDirOf(this, io);
      const k = kind as RuleKind;
      const setRoute = (domain: string | null, routes: string[]) =>
        withDataDir(this, io, ({ store }) => new RelayAdmin({ dataDir, store }).setRoute(SYSTEM, k, domain, routes));
      if (k === "default") {
        await setRoute(null, [first, ...rest]);
        return print(io, `Default routes: ${[first, ...rest].join(" → ")}`);
      }
      if (rest.length === 0) throw new CliError("give at least one route after the domain", EXIT_USAGE);
      await setRoute(first, rest);
      print(io, `${kind} ${first.toLowerCase()}: ${rest.join(" → ")}`);
    });

  route
    .command("remove")
    .description("remove a recipient-domain or sender-domain rule")
    .argument("<kind>", "recipient-domain | sender-domain")
    .argument("<domain>", "the domain")
    .action(async function (this: Command, kind: string, domain: string) {
      if (kind !== "recipient-domain" && kind !== "sender-domain") throw new CliError("kind must be recipient-domain or sender-domain", EXIT_USAGE);
      const dataDir = dataDirOf(this, io);
      await withDataDir(this, io, ({ store }) => new RelayAdmin({ dataDir, store }).removeRoute(SYSTEM, kind, domain));
      print(io, `Removed the ${kind} rule for ${domain.toLowerCase()}.`);
    });

  route
    .command("list")
    .description("show the route rules")
    .action(async function (this: Command) {
      const file = await load(dataDirOf(this, io));
      const rows: string[][] = [
        ...Object.entries(file.routes.recipientDomains).map(([d, l]) => ["recipient-domain", d, l.join(" → ")]),
        ...Object.entries(file.routes.senderDomains).map(([d, l]) => ["sender-domain", d, l.join(" → ")]),
        ["default", "*", file.routes.default.join(" → ")],
      ];
      print(io, table(["RULE", "DOMAIN", "ROUTES (failover order)"], rows));
    });
}
