// `freehold sendmail`: the sendmail(1) interface local programs (cron, scripts, PHP's mail())
// expect. Reads a message from standard input and submits it through the same pipeline as the
// submission listeners (src/submission/submit.ts): fix-ups, DKIM, local delivery or the queue —
// straight into the data folder, no network.
//
//   freehold [--data DIR] sendmail [-t] [-i | -oi] [-f sender] [-F "Full Name"] [recipient ...]
//
// The caller is trusted as Postfix trusts local sendmail users: whoever can run this against the
// data folder can read every mailbox in it anyway, so -f and From: are not checked against an
// account. Exit codes are BSD sysexits (<sysexits.h>), which cron and MTAs interpret:
//   0 sent · 64 EX_USAGE bad options / no recipients · 65 EX_DATAERR unusable message ·
//   67 EX_NOUSER unknown local recipient · 75 EX_TEMPFAIL storage busy or full, try again ·
//   78 EX_CONFIG no usable data folder · 70 EX_SOFTWARE a bug.
import type { Command } from "commander";
import { loadConfig, ConfigError } from "../config/load.ts";
import { openStorage } from "../store/open.ts";
import { isStoreError } from "../store/errors.ts";
import { openSideDb, SqliteDkimKeys, SqliteQueueParams } from "../store/sqlite/dkim.ts";
import { DkimService } from "../emailauth/dkim-service.ts";
import { createLogger } from "../log/logger.ts";
import { rfc5322Date } from "../queue/dsn.ts";
import { classifyRecipient, submit } from "../submission/submit.ts";
import type { SubmitRecipient } from "../submission/submit.ts";
import { mailboxesOf, parseAddressField } from "../submission/header-addresses.ts";
import { readHeaderFields } from "../submission/sender-policy.ts";
import type { CliIo } from "./context.ts";
import { CliError, dataDirOf } from "./context.ts";

export const EX_USAGE = 64;
export const EX_DATAERR = 65;
export const EX_NOUSER = 67;
export const EX_SOFTWARE = 70;
export const EX_TEMPFAIL = 75;
export const EX_CONFIG = 78;

export interface SendmailArgs {
  extractRecipients: boolean;
  ignoreDots: boolean;
  from?: string;
  fullName?: string;
  recipients: string[];
}

/** sendmail's option syntax (getopt-like: "-f addr" or "-faddr"; -oi; unknown -o… ignored as Postfix does). */
export function parseSendmailArgs(args: readonly string[]): SendmailArgs {
  const out: SendmailArgs = { extractRecipients: false, ignoreDots: false, recipients: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      out.recipients.push(...args.slice(i + 1));
      break;
    }
    if (!a.startsWith("-") || a === "-") {
      out.recipients.push(a);
      continue;
    }
    const value = (flag: string): string => {
      if (a.length > 2) return a.slice(2);
      const v = args[++i];
      if (v === undefined) throw new CliError(`option ${flag} needs a value`, EX_USAGE);
      return v;
    };
    switch (a.slice(0, 2)) {
      case "-t":
        if (a !== "-t") throw new CliError(`unknown option ${a}`, EX_USAGE);
        out.extractRecipients = true;
        break;
      case "-i":
        if (a !== "-i") throw new CliError(`unknown option ${a}`, EX_USAGE);
        out.ignoreDots = true;
        break;
      case "-o":
        // -oi is -i; other -oX options (-oem, -odb …) have no meaning here.
        if (a === "-oi") out.ignoreDots = true;
        break;
      case "-f":
      case "-r":
        out.from = value("-f");
        break;
      case "-F":
        out.fullName = value("-F");
        break;
      case "-B":
      case "-N":
      case "-R":
      case "-V":
        value(a.slice(0, 2)); // accepted for compatibility, no effect
        break;
      case "-v":
        break;
      default:
        throw new CliError(`unknown option ${a}`, EX_USAGE);
    }
  }
  return out;
}

/** The message as read: without -i a line holding only "." ends it; line endings become CRLF. */
export function prepareMessage(input: Buffer, ignoreDots: boolean): Buffer {
  let text = input.toString("latin1");
  if (!ignoreDots) {
    const m = /(^|\r?\n)\.\r?\n|(^|\r?\n)\.$/.exec(text);
    if (m) text = text.slice(0, m.index + (m[1] ?? m[2] ?? "").length);
  }
  // RFC 5322 §2.1: lines end in CRLF; local programs write bare LF.
  text = text.replace(/\r?\n/g, "\r\n");
  return Buffer.from(text, "latin1");
}

function headerAddresses(message: Buffer, names: readonly string[]): string[] | null {
  const out: string[] = [];
  for (const f of readHeaderFields(message)) {
    if (!names.includes(f.name.toLowerCase())) continue;
    const p = parseAddressField(f.value);
    if (!p.ok) return null;
    out.push(...mailboxesOf(p.items).map((m) => `${m.local}@${m.domain}`));
  }
  return out;
}

async function readStdin(io: CliIo): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of io.stdin) chunks.push(typeof c === "string" ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks);
}

export async function runSendmail(cmd: Command, io: CliIo, rawArgs: readonly string[]): Promise<void> {
  const args = parseSendmailArgs(rawArgs);
  if (!args.extractRecipients && args.recipients.length === 0) throw new CliError("no recipients (give addresses or -t)", EX_USAGE);
  let dataDir: string;
  let config;
  try {
    dataDir = dataDirOf(cmd, io);
    config = await loadConfig(dataDir);
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(e.problems.join("; "), EX_CONFIG);
    if (e instanceof CliError) throw new CliError(e.message, EX_CONFIG);
    throw e;
  }
  let message = prepareMessage(await readStdin(io), args.ignoreDots);
  if (message.length === 0) throw new CliError("empty message on standard input", EX_DATAERR);

  const hasFrom = readHeaderFields(message).some((f) => f.name.toLowerCase() === "from");
  const fromHeader = hasFrom ? headerAddresses(message, ["from"]) : [];
  if (fromHeader === null) throw new CliError("cannot read the From: field", EX_DATAERR);
  const sender = args.from ?? fromHeader[0] ?? `postmaster@${config.hostname}`;
  if (!hasFrom) {
    // sendmail(8) adds From: from -F and the sender when the message has none.
    const name = args.fullName ? `"${args.fullName.replace(/(["\\])/g, "\\$1")}" ` : "";
    message = Buffer.concat([Buffer.from(`From: ${name}<${sender}>\r\n`, "utf8"), message]);
  }
  let rcpts = [...args.recipients];
  if (args.extractRecipients) {
    const fromHeaders = headerAddresses(message, ["to", "cc", "bcc"]);
    if (fromHeaders === null) throw new CliError("cannot read the To:/Cc:/Bcc: fields", EX_DATAERR);
    rcpts.push(...fromHeaders);
  }
  rcpts = [...new Map(rcpts.map((r) => [r.toLowerCase(), r])).values()];
  if (rcpts.length === 0) throw new CliError("no recipients in the message", EX_USAGE);

  const storage = await openStorage(config.dataDir, { clock: io.clock });
  const side = openSideDb(config.dataDir, { clock: io.clock });
  try {
    const recipients: SubmitRecipient[] = [];
    for (const address of rcpts) {
      if (!/^[^@\s]+@[^@\s]+$/.test(address)) throw new CliError(`bad recipient address ${address}`, EX_USAGE);
      const c = await classifyRecipient(storage.store, address);
      if (c.kind === "local" || c.kind === "remote") recipients.push({ address, route: c });
      else throw new CliError(`${address}: ${c.kind === "loop" ? "alias loop" : c.kind === "disabled" ? "mailbox disabled" : "no such user here"}`, EX_NOUSER);
    }
    const now = io.clock.now();
    const received = `Received: by ${config.hostname} (Freehold sendmail); ${rfc5322Date(now)}\r\n`;
    const result = await submit(
      {
        store: storage.store,
        blobs: storage.blobs,
        writer: storage.writer,
        dkim: new DkimService({ keys: new SqliteDkimKeys(side), clock: io.clock }),
        queueParams: new SqliteQueueParams(side),
        clock: io.clock,
        logger: createLogger({ level: "silent" }),
        hostname: config.hostname,
        defaultQuotaBytes: config.quota.defaultBytes,
      },
      {
        user: "sendmail",
        authority: { addresses: [], domains: [] },
        trusted: true,
        mailFrom: sender,
        recipients,
        message,
        traceHeaders: received,
        // 8-bit bytes anywhere: the queue must know (RFC 6152) for a next hop without 8BITMIME.
        body: message.some((b) => b > 0x7f) ? "8BITMIME" : "7BIT",
        smtputf8: /[^\x00-\x7f]/.test(sender + rcpts.join("")),
      },
    );
    void result;
  } catch (e) {
    if (e instanceof CliError) throw e;
    if (isStoreError(e, "busy") || isStoreError(e, "io") || (e as NodeJS.ErrnoException)?.code === "ENOSPC") {
      throw new CliError(`cannot store the message now: ${(e as Error).message}`, EX_TEMPFAIL);
    }
    if (isStoreError(e, "over-quota")) throw new CliError("a recipient's mailbox is full", EX_TEMPFAIL);
    throw e;
  } finally {
    side.close();
    await storage.close();
  }
}

export const SENDMAIL_USAGE = `Usage: freehold [--data DIR] sendmail [-t] [-i | -oi] [-f sender] [-F "Full Name"] [recipient ...]

Submit the message on standard input, as sendmail(1) does, straight into the data folder.
  -t            take the recipients from To:, Cc: and Bcc: (Bcc: is removed)
  -i, -oi       a line holding only "." does not end the message
  -f, -r ADDR   the envelope sender (default: the From: address)
  -F NAME       the sender's full name for a From: added by us
  -B, -N, -R, -V, -v, other -o options: accepted for compatibility, no effect
Exit status: 0 sent, 64 bad usage, 65 unusable message, 67 unknown local recipient,
75 storage busy or full (try again), 78 no usable data folder, 70 a bug.
`;

export function registerSendmail(program: Command, io: CliIo): void {
  program
    .command("sendmail")
    .description("submit a message from standard input (sendmail -t -i -f -F; recipients as arguments)")
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument("[args...]", "options and recipients, as sendmail(1) takes them")
    .action(async function (this: Command, rest: string[]) {
      // sendmail(1) has no --help of its own; ours prints the options it takes. (-h is
      // sendmail's hop count, so only the long form is help.)
      if (rest?.[0] === "--help") {
        io.stdout.write(SENDMAIL_USAGE);
        return;
      }
      await runSendmail(this, io, rest ?? []);
    });
}
