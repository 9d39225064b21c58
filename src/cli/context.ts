// What every CLI command shares: the data folder (`--data DIR` or FREEHOLD_DATA), the I/O
// streams, user-facing errors with exit codes, and opening the configured store and services.
import { WatchStore } from "../health/watch/history.ts";
import path from "node:path";
import type { Readable, Writable } from "node:stream";
import type { Command } from "commander";
import type { Clock } from "../clock.ts";
import { loadConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { openSqliteStore } from "../store/sqlite/store.ts";
import type { MetadataStore } from "../store/types.ts";
import { AccountsService } from "../accounts/service.ts";
import { generatePassword } from "../login/password.ts";
import { openSideDb, SqliteDkimKeys } from "../store/sqlite/dkim.ts";
import { DkimService } from "../emailauth/dkim-service.ts";

/** Exit codes: 0 done; 1 the operation failed (not found, exists, bad config); 2 bad usage/input. */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** A bug: the message and stack go to stderr (BSD sysexits EX_SOFTWARE). */
export const EXIT_INTERNAL = 70;

/** An error meant for the operator: printed as `freehold: <message>`, no stack trace. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT_FAILURE) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  stdin: Readable & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  clock: Clock;
}

export function print(io: CliIo, line = ""): void {
  io.stdout.write(line + "\n");
}

/** The data folder from `--data` (any position) or FREEHOLD_DATA, absolute. */
export function dataDirOf(cmd: Command, io: CliIo): string {
  const opts = cmd.optsWithGlobals() as { data?: string };
  const dir = opts.data ?? io.env.FREEHOLD_DATA;
  if (!dir) throw new CliError("no data folder: pass --data DIR or set FREEHOLD_DATA", EXIT_USAGE);
  return path.resolve(dir);
}

export interface Opened {
  config: Config;
  store: MetadataStore;
  accounts: AccountsService;
  dkim: DkimService;
  /** Check history and the relay switch state (src/health/watch/). */
  watch: WatchStore;
  close(): Promise<void>;
}

/** Load the config and open the store of an initialised data folder. */
export async function openDataDir(dataDir: string, io: CliIo): Promise<Opened> {
  const config = await loadConfig(dataDir);
  const store = openSqliteStore(config.dataDir, { clock: io.clock });
  const side = openSideDb(config.dataDir, { clock: io.clock });
  const dkim = new DkimService({ keys: new SqliteDkimKeys(side), clock: io.clock });
  const accounts = new AccountsService({
    store,
    clock: io.clock,
    defaultQuotaBytes: config.quota.defaultBytes,
    // Every new domain gets its DKIM keys (state "new"; `freehold dkim list` shows the records).
    onDomainAdded: async (d) => void (await dkim.createDomainKeys(d.name)),
  });
  return {
    config,
    store,
    accounts,
    dkim,
    watch: new WatchStore(side),
    close: async () => {
      side.close();
      await store.close();
    },
  };
}

/** Run `fn` with the opened data folder, always closing the store. */
export async function withDataDir<T>(cmd: Command, io: CliIo, fn: (o: Opened) => Promise<T>): Promise<T> {
  const opened = await openDataDir(dataDirOf(cmd, io), io);
  try {
    return await fn(opened);
  } finally {
    await opened.close();
  }
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === "string" ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * A new password: the first line of stdin when `--password-stdin` is given or stdin is piped,
 * else a generated one (the caller prints it once). Never from argv, where other local users
 * could read it in the process list and it lands in shell history.
 */
export async function obtainPassword(io: CliIo, passwordStdin: boolean | undefined): Promise<{ password: string; generated: boolean }> {
  if (passwordStdin || io.stdin.isTTY !== true) {
    const text = await readAll(io.stdin);
    const nl = text.search(/\r?\n/);
    const line = nl < 0 ? text : text.slice(0, nl);
    if (line !== "") return { password: line, generated: false };
    if (passwordStdin) throw new CliError("--password-stdin: no password on standard input", EXIT_USAGE);
  }
  return { password: generatePassword(), generated: true };
}

export function printGeneratedPassword(io: CliIo, address: string, password: string): void {
  print(io, `Password for ${address} (shown only now; store it safely): ${password}`);
}
