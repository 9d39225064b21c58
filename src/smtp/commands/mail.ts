// MAIL FROM (RFC 5321 §4.1.1.2) with SIZE (RFC 1870), BODY (RFC 6152, RFC 3030), SMTPUTF8
// (RFC 6531) and DSN's RET/ENVID (RFC 3461).
import { defineCommand } from "./command.ts";
import type { CommandContext } from "./command.ts";
import { SmtpError } from "../errors.ts";
import { ok } from "../reply.ts";
import { hasNonAscii, parsePath, PathSyntaxError } from "../address.ts";
import type { ParsedPath } from "../address.ts";
import { parseMailParams } from "../params.ts";
import type { MailParams } from "../params.ts";

interface MailArgs {
  readonly path: ParsedPath;
  readonly params: MailParams;
}

// "FROM:" then the path. RFC 5321 §4.1.1.2 has no space after the colon, but many clients send
// one; Postfix and Exim accept it, and nothing is ambiguous, so we do too.
const FROM = /^FROM: */i;

function parse(args: string, ctx: CommandContext): MailArgs {
  const m = FROM.exec(args);
  if (!m) throw new SmtpError("badArguments", "Syntax: MAIL FROM:<address> [parameters]");
  const rest = args.slice(m[0].length);
  const claim = (p: { keyword: string; value: string | null }) =>
    ctx.extensions.some((e) => e.claimMailParam?.(ctx.session.info, p) === true);
  const utf8Requested = ctx.features.smtputf8 && / SMTPUTF8(?= |$)/i.test(rest);
  let path: ParsedPath;
  try {
    path = parsePath(rest, { utf8: utf8Requested, allowNull: true, allowPostmaster: false, unbracketed: !ctx.features.strictEnvelopes });
  } catch (e) {
    if (!(e instanceof PathSyntaxError)) throw e;
    // RFC 6531 §3.5: a non-ASCII address without SMTPUTF8 gets 553 5.6.7.
    if (!utf8Requested && hasNonAscii(rest)) throw new SmtpError("utf8NotAllowed");
    throw new SmtpError("badSenderSyntax", `Bad sender address syntax: ${e.message}`);
  }
  const params = parseMailParams(path.rest, {
    utf8Allowed: ctx.features.smtputf8,
    binaryMime: ctx.features.binaryMime,
    dsn: ctx.features.dsn,
    claim,
  });
  // The SMTPUTF8 sniffing above only widened what the path parser accepts; the parameter itself
  // decides (a quoted local part could contain the word).
  if (!params.smtputf8 && path.mailbox && hasNonAscii(path.mailbox.address)) throw new SmtpError("utf8NotAllowed");
  // Accepted as Postfix does by default (strict_rfc821_envelopes = no), but noted: it marks
  // old scripts and misconfigured appliances.
  if (path.unbracketed) ctx.log.info({ from: path.mailbox?.address }, "MAIL FROM without angle brackets accepted");
  return { path, params };
}

export const mail = defineCommand<MailArgs>({
  verb: "MAIL",
  phases: ["ready"],
  // RFC 1870 §3 (+26 for SIZE) and RFC 3461 §4 (+100 for ENVID and RET).
  extraLineOctets: 26 + 100 + 30,
  parse,
  async handle(ctx, { path, params }) {
    for (const ext of ctx.extensions) ext.beforeMail?.(ctx.session.info);
    // RFC 1870 §6.1: a declared size beyond our limit is refused right away.
    if (params.size !== undefined && params.size > ctx.limits.maxMessageSize) throw new SmtpError("messageTooBig");
    const s = ctx.session.state;
    if (s.phase !== "ready") throw new SmtpError("badSequence");
    await ctx.handler.mailFrom(ctx.session.info, path.mailbox, params);
    ctx.session.info.smtputf8 = params.smtputf8;
    ctx.session.state = { phase: "mail", helo: s.helo, tx: { from: path.mailbox, params, recipients: [], overshoot: 0 } };
    ctx.send(ok("2.1.0", "Sender OK"));
  },
});
