// RCPT TO (RFC 5321 §4.1.1.3) with DSN's NOTIFY/ORCPT (RFC 3461 §4.1, §4.2).
import { defineCommand } from "./command.ts";
import type { CommandContext } from "./command.ts";
import { SmtpError } from "../errors.ts";
import { ok } from "../reply.ts";
import { hasNonAscii, parsePath, PathSyntaxError } from "../address.ts";
import type { ParsedPath } from "../address.ts";
import { parseRcptParams } from "../params.ts";
import type { RcptParams } from "../params.ts";
import type { Envelope } from "../types.ts";

interface RcptArgs {
  readonly path: ParsedPath;
  readonly params: RcptParams;
}

const TO = /^TO: */i;

function parse(args: string, ctx: CommandContext): RcptArgs {
  const m = TO.exec(args);
  if (!m) throw new SmtpError("badArguments", "Syntax: RCPT TO:<address> [parameters]");
  const rest = args.slice(m[0].length);
  const s = ctx.session.state;
  const utf8 = (s.phase === "mail" || s.phase === "rcpt") && s.tx.params.smtputf8;
  let path: ParsedPath;
  try {
    // RFC 5321 §4.5.1: "<Postmaster>" without a domain must be accepted.
    path = parsePath(rest, { utf8, allowNull: false, allowPostmaster: true, unbracketed: !ctx.features.strictEnvelopes });
  } catch (e) {
    if (!(e instanceof PathSyntaxError)) throw e;
    if (!utf8 && hasNonAscii(rest)) throw new SmtpError("utf8NotAllowed");
    throw new SmtpError("badRecipientSyntax", `Bad recipient address syntax: ${e.message}`);
  }
  const claim = (p: { keyword: string; value: string | null }) =>
    ctx.extensions.some((e) => e.claimRcptParam?.(ctx.session.info, p) === true);
  const params = parseRcptParams(path.rest, { utf8, dsn: ctx.features.dsn, claim });
  if (path.unbracketed) ctx.log.info({ to: path.mailbox?.address }, "RCPT TO without angle brackets accepted");
  return { path, params };
}

export const rcpt = defineCommand<RcptArgs>({
  verb: "RCPT",
  phases: ["mail", "rcpt"],
  // RFC 3461 §4: +500 for NOTIFY and ORCPT.
  extraLineOctets: 500,
  parse,
  async handle(ctx, { path, params }) {
    const s = ctx.session.state;
    if (s.phase !== "mail" && s.phase !== "rcpt") throw new SmtpError("badSequence");
    // RFC 5321 §4.5.3.1.8: at least 100 recipients; past the limit, 452 and the client sends
    // the rest in another transaction (§4.5.3.1.10): "the client ... MUST treat [452] as a
    // temporary failure" for those recipients only, and the transaction for the accepted ones
    // goes on. Such replies count towards the error limit only past the overshoot allowance
    // (Postfix smtpd_recipient_overshoot_limit), or a list pipelining 150 RCPTs to a limit of
    // 100 would be cut off with 421 and deliver nothing.
    if (s.tx.recipients.length >= ctx.limits.maxRecipients) {
      s.tx.overshoot++;
      throw new SmtpError("tooManyRecipients", undefined, { counted: s.tx.overshoot > ctx.limits.recipientOvershoot });
    }
    const mailbox = path.mailbox!;
    const envelope: Envelope = { mailFrom: s.tx.from, mailParams: s.tx.params, recipients: s.tx.recipients, transport: "DATA" };
    const resolved = await ctx.handler.rcptTo(ctx.session.info, mailbox, params, { postmaster: path.postmaster, envelope });
    // The handler may have taken a while; the state object is replaced only from here.
    s.tx.recipients.push({ mailbox, postmaster: path.postmaster, params, resolved });
    if (s.phase === "mail") ctx.session.state = { phase: "rcpt", helo: s.helo, tx: s.tx };
    ctx.send(ok("2.1.5", "Recipient OK"));
  },
});
