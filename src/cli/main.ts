// The `freehold` command line. Every command takes `--data DIR` (or FREEHOLD_DATA). Operator
// mistakes print `freehold: <what is wrong>` and exit 1 (operation failed) or 2 (bad usage or
// input), never a stack trace; only a bug (exit 70) prints one.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Command, CommanderError } from "commander";
import { systemClock } from "../clock.ts";
import { ConfigError } from "../config/load.ts";
import { AccountError } from "../accounts/errors.ts";
import { StoreError } from "../store/errors.ts";
import { TlsFilesError } from "../tls/context.ts";
import { NewerSchemaError } from "../store/sqlite/migrations.ts";
import type { CliIo } from "./context.ts";
import { CliError, EXIT_FAILURE, EXIT_INTERNAL, EXIT_USAGE } from "./context.ts";
import { registerAlias } from "./alias.ts";
import { registerConfig } from "./config.ts";
import { registerDomain } from "./domain.ts";
import { registerInit } from "./init.ts";
import { registerServe } from "./serve.ts";
import { registerUser } from "./user.ts";
import { registerQueue } from "./queue.ts";
import { registerRelay } from "./relay.ts";
import { registerDkim } from "./dkim.ts";
import { registerDns } from "./dns.ts";
import { registerCheck } from "./check.ts";
import { registerSendmail } from "./sendmail.ts";
import { registerSpam } from "./spam.ts";
import { registerSuppress } from "./suppress.ts";
import { registerTrace } from "./trace.ts";
import { registerAudit } from "./audit.ts";
import { registerStatus } from "./status.ts";
import { registerMigrate } from "./migrate.ts";
import { registerBackup } from "./backup.ts";
import { registerContacts } from "./contacts.ts";
import { registerSetup } from "./setup.ts";

export function buildProgram(io: CliIo): Command {
  const program = new Command("freehold")
    .description("Freehold: a self-hosted mail server")
    .option("--data <dir>", "data folder (default: $FREEHOLD_DATA)")
    .showHelpAfterError("(run with --help for usage)")
    // Sub-commands inherit these: errors are thrown to runCli, output goes through io.
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(`freehold: ${s.replace(/^error: /, "")}`),
    });
  registerInit(program, io);
  registerConfig(program, io);
  registerDomain(program, io);
  registerUser(program, io);
  registerAlias(program, io);
  registerServe(program);
  registerQueue(program, io);
  registerRelay(program, io);
  registerDkim(program, io);
  registerDns(program, io);
  registerCheck(program, io);
  registerSendmail(program, io);
  registerSpam(program, io);
  registerSuppress(program, io);
  registerTrace(program, io);
  registerAudit(program, io);
  registerStatus(program, io);
  registerMigrate(program, io);
  registerBackup(program, io);
  registerContacts(program, io);
  registerSetup(program, io);
  return program;
}

/** Run the CLI; resolves to the exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  if (argv.length <= 2) {
    program.outputHelp();
    return EXIT_USAGE;
  }
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    return reportError(e, io);
  }
}

function reportError(e: unknown, io: CliIo): number {
  const say = (msg: string) => io.stderr.write(`freehold: ${msg}\n`);
  if (e instanceof CommanderError) {
    // Commander has already printed its message (unknown command, missing argument, ...).
    if (e.code === "commander.helpDisplayed" || e.code === "commander.help" || e.code === "commander.version") return 0;
    return e.exitCode === 0 ? 0 : EXIT_USAGE;
  }
  if (e instanceof CliError) {
    say(e.message);
    return e.exitCode;
  }
  if (e instanceof ConfigError) {
    for (const p of e.problems) io.stderr.write(`${p}\n`);
    return EXIT_FAILURE;
  }
  if (e instanceof AccountError) {
    say(e.message);
    return e.code === "invalid" ? EXIT_USAGE : EXIT_FAILURE;
  }
  if (e instanceof NewerSchemaError) {
    say(e.message);
    return EXIT_FAILURE;
  }
  if (e instanceof TlsFilesError) {
    say(e.message);
    return EXIT_FAILURE;
  }
  if (e instanceof StoreError && (e.code === "busy" || e.code === "io")) {
    say(`storage problem: ${e.message}`);
    return EXIT_FAILURE;
  }
  const err = e as NodeJS.ErrnoException;
  if (err && (err.code === "EACCES" || err.code === "EPERM" || err.code === "ENOSPC" || err.code === "EROFS")) {
    say(err.message);
    return EXIT_FAILURE;
  }
  // A listener that cannot bind (another server on the port, an address not on this host).
  if (err && (err.code === "EADDRINUSE" || err.code === "EADDRNOTAVAIL")) {
    const where = (err as { address?: string; port?: number }).address !== undefined ? ` ${(err as { address?: string }).address}:${(err as { port?: number }).port}` : "";
    say(`cannot listen on${where}: ${err.code === "EADDRINUSE" ? "address already in use (another server running?)" : "address not available on this host"}`);
    return EXIT_FAILURE;
  }
  io.stderr.write(`freehold: internal error (a bug; please report it):\n${err?.stack ?? String(e)}\n`);
  return EXIT_INTERNAL;
}

// import.meta.main exists from Node 24.2; engines allows 22.19, where we compare paths instead.
const isMain = import.meta.main ?? (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url));

if (isMain) {
  // `freehold dkim list | head`: the reader went away. Stop quietly, as cat and ls do, instead
  // of an unhandled EPIPE stack trace.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
    throw e;
  });
  process.exitCode = await runCli(process.argv, {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    clock: systemClock,
  });
}
