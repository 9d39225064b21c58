// What DATA and BDAT share: streaming content into the sink with its counts, the checks made
// once the content is complete, and handing the message over (sink.end) for the final reply.
import type { CommandContext } from "./command.ts";
import { SmtpError, toSmtpError } from "../errors.ts";
import type { ContentInspector, ContentStats } from "../content.ts";
import { buildReceived, receivedInputFromSession } from "../received.ts";
import { reply } from "../reply.ts";
import type { Reply } from "../reply.ts";
import type { Transaction } from "../session-state.ts";
import type { EndInfo, MessageSink } from "../types.ts";
import { abortQuietly } from "./transaction.ts";

/** A fault found while the content streamed; the reply waits for the end of the content. */
export interface StreamState {
  error?: SmtpError;
}

/**
 * Reads content events up to content-end, counting everything and writing to the sink while
 * nothing has gone wrong. Content faults are recorded in `st` (the client is still sending and
 * can only be answered at the end); connection failures (close, timeout, shutdown) throw.
 */
export async function streamContent(ctx: CommandContext, sink: MessageSink, inspector: ContentInspector, st: StreamState): Promise<void> {
  for (;;) {
    const ev = await ctx.nextEvent();
    if (ev.kind === "content-end") return;
    if (ev.kind !== "content") throw new Error(`reader gave ${ev.kind} inside content`);
    inspector.write(ev.bytes);
    if (st.error) continue;
    // RFC 1870 §6.3: past the limit, keep reading (to stay in sync) but store nothing more.
    if (inspector.size > ctx.limits.maxMessageSize) {
      st.error = new SmtpError("messageTooBig");
      continue;
    }
    try {
      await sink.write(ev.bytes);
    } catch (e) {
      st.error = toSmtpError(e);
      logFault(ctx, st.error, "message sink write failed");
    }
  }
}

/**
 * The checks made once the whole content is in (policy in reader.ts and docs/smtp.md).
 * `bareLf`: bare LFs the reader saw in DATA (normalized to CRLF unless the policy is "reject").
 */
export function contentVerdict(ctx: CommandContext, stats: ContentStats, transport: "DATA" | "BDAT", bareLf = 0): SmtpError | undefined {
  if (stats.size > ctx.limits.maxMessageSize) return new SmtpError("messageTooBig");
  if (transport === "DATA") {
    // BDAT content is counted, not delimited, so these DATA-only framing rules don't apply to it
    // (RFC 3030 §3: BINARYMIME content may hold any octet).
    if (ctx.features.bareLineEndings === "reject" && bareLf + stats.bareCr > 0) return new SmtpError("bareLineEnding");
    // A bare CR is refused even when bare LF is normalized: it is no line ending we could
    // repair with confidence, and stored as it came, a relay would carry <CR>.<CR> smuggling
    // payloads on to receivers that take CR as a line end (docs/smtp.md).
    if (stats.bareCr > 0) return new SmtpError("bareCr");
    // NUL: RFC 5321 §4.5.2 / RFC 6152 allow none in DATA, and IMAP cannot serve it as text.
    if (stats.nul > 0) return new SmtpError("nulInData");
    const limit = ctx.limits.textLineOctets;
    if (stats.longestLine > limit) {
      return new SmtpError("dataLineTooLong", `Message has a line of ${stats.longestLine} octets; the limit is ${limit} octets per line including CRLF`);
    }
  }
  // RFC 5321 §6.3: a hop count beyond the limit means a loop.
  if (stats.receivedCount > ctx.limits.maxHops) return new SmtpError("tooManyHops");
  return undefined;
}

export function endInfo(ctx: CommandContext, tx: Transaction, stats: ContentStats, bareLfNormalized = 0): EndInfo {
  const receivedHeader = buildReceived(receivedInputFromSession(ctx.session.info, { recipients: tx.recipients, mailParams: tx.params }, new Date(ctx.clock.now())));
  return {
    stats,
    receivedCount: stats.receivedCount,
    bareLfNormalized,
    bareLineEnding: bareLfNormalized + stats.bareLf + stats.bareCr > 0,
    receivedHeader,
  };
}

/**
 * Hands the complete message to the sink and sends its reply (one per recipient for LMTP,
 * RFC 2033 §4.2). A refusal from the sink is rendered like any other error.
 */
export async function finishMessage(ctx: CommandContext, sink: MessageSink, tx: Transaction, stats: ContentStats, bareLfNormalized = 0): Promise<void> {
  let result: Reply | readonly Reply[];
  try {
    result = await sink.end(endInfo(ctx, tx, stats, bareLfNormalized));
  } catch (e) {
    const err = toSmtpError(e);
    logFault(ctx, err, "message refused at end of data");
    result = err.toReply();
  }
  const replies = Array.isArray(result) ? (result as readonly Reply[]) : [result as Reply];
  if (ctx.features.role === "lmtp") {
    for (const r of replies) ctx.send(r);
  } else {
    ctx.send(replies[0] ?? reply(451, "4.3.0", "No reply from storage"));
  }
  ctx.log.info({ size: stats.size, rcpts: tx.recipients.length, code: replies[0]?.code, bareLfNormalized: bareLfNormalized || undefined }, "message end");
}

/** Rejects the message: aborts the sink and answers with the error. */
export async function refuseMessage(ctx: CommandContext, sink: MessageSink, err: SmtpError, tx: Transaction): Promise<void> {
  await abortQuietly(sink, err.code, ctx.log);
  logFault(ctx, err, "message refused");
  if (ctx.features.role === "lmtp") for (let i = 0; i < tx.recipients.length; i++) ctx.send(err.toReply());
  else ctx.send(err.toReply());
}

function logFault(ctx: CommandContext, err: SmtpError, msg: string): void {
  if (err.fault === "server") ctx.log.warn({ code: err.code, err: err.cause ?? err }, msg);
  else ctx.log.info({ code: err.code }, msg);
}
