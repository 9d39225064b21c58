// EHLO and HELO (RFC 5321 §4.1.1.1), and LHLO for LMTP (RFC 2033 §4.1).
import { defineCommand } from "./command.ts";
import type { CommandContext } from "./command.ts";
import { SmtpError } from "../errors.ts";
import { reply } from "../reply.ts";
import { reset } from "./transaction.ts";
import type { HeloInfo } from "../types.ts";

/** The EHLO keywords for this session, in the order they are advertised. */
export function ehloKeywords(ctx: CommandContext): string[] {
  const f = ctx.features;
  const k: string[] = ["PIPELINING"]; // RFC 2920
  k.push(`SIZE ${ctx.limits.maxMessageSize}`); // RFC 1870
  // RFC 3207 §4: STARTTLS is not advertised once TLS is active.
  if (f.startTls && ctx.session.info.tls === undefined) k.push("STARTTLS");
  k.push("ENHANCEDSTATUSCODES"); // RFC 2034
  k.push("8BITMIME"); // RFC 6152
  if (f.dsn) k.push("DSN"); // RFC 3461
  if (f.smtputf8) k.push("SMTPUTF8"); // RFC 6531
  k.push("CHUNKING"); // RFC 3030
  if (f.binaryMime) k.push("BINARYMIME"); // RFC 3030 §3
  for (const ext of ctx.extensions) if (ext.ehloKeywords) k.push(...ext.ehloKeywords(ctx.session.info));
  return k;
}

// RFC 5321 §4.1.1.1: the argument is a Domain or an address literal. Real clients send
// underscores and bare host names; like Postfix (smtpd_helo_restrictions empty by default) we
// accept any single printable token and leave judging it to policy (SPF HELO checks).
const HELO_TOKEN = /^[^\s\x00-\x1f\x7f]+$/u;

function parseName(verb: string, args: string): string {
  const name = args.trim();
  if (name === "") throw new SmtpError("badArguments", `${verb} requires a domain name`);
  if (!HELO_TOKEN.test(name)) throw new SmtpError("badArguments", `Invalid ${verb} argument`);
  return name;
}

async function greet(ctx: CommandContext, helo: HeloInfo): Promise<void> {
  // RFC 5321 §4.1.4: EHLO/HELO in a transaction resets it as RSET would.
  await reset(ctx, helo.verb);
  await ctx.handler.helo?.(ctx.session.info, helo);
  ctx.session.info.helo = helo;
  ctx.session.state = { phase: "ready", helo };
}

function greetingText(ctx: CommandContext, name: string): string {
  return `${ctx.session.info.serverName} Hello ${name} [${ctx.session.info.remoteAddress}]`;
}

const HELO_PHASES = ["start", "ready", "mail", "rcpt"] as const;

export const ehlo = defineCommand<string>({
  verb: "EHLO",
  phases: HELO_PHASES,
  roles: ["mx", "submission", "submissions"],
  parse: (args) => parseName("EHLO", args),
  async handle(ctx, name) {
    await greet(ctx, { verb: "EHLO", name });
    // RFC 2034 §3: no enhanced status code on EHLO replies.
    ctx.send(reply(250, undefined, greetingText(ctx, name), ...ehloKeywords(ctx)));
  },
});

export const helo = defineCommand<string>({
  verb: "HELO",
  phases: HELO_PHASES,
  roles: ["mx", "submission", "submissions"],
  parse: (args) => parseName("HELO", args),
  async handle(ctx, name) {
    await greet(ctx, { verb: "HELO", name });
    ctx.send(reply(250, undefined, greetingText(ctx, name)));
  },
});

export const lhlo = defineCommand<string>({
  verb: "LHLO",
  phases: HELO_PHASES,
  roles: ["lmtp"],
  parse: (args) => parseName("LHLO", args),
  async handle(ctx, name) {
    await greet(ctx, { verb: "LHLO", name });
    ctx.send(reply(250, undefined, greetingText(ctx, name), ...ehloKeywords(ctx)));
  },
});
