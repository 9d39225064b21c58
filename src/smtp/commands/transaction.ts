// Ending a transaction the same way from every command (RSET, HELO/EHLO, STARTTLS, QUIT, errors).
import type { CommandContext, Session } from "./command.ts";
import type { SmtpHandler } from "../types.ts";
import type { Logger } from "../../log/logger.ts";
import { afterTransaction, hasTransaction, openSink } from "../session-state.ts";

/** Drops the envelope (aborting an open sink) and returns to "ready" (or "start"). */
export async function resetTransaction(session: Session, handler: SmtpHandler, log: Logger, reason: string): Promise<void> {
  const s = session.state;
  if (!hasTransaction(s)) return;
  const sink = openSink(s);
  session.state = afterTransaction(s);
  session.info.smtputf8 = false;
  if (sink) await abortQuietly(sink, reason, log);
  handler.reset?.(session.info);
}

export async function abortQuietly(sink: { abort(reason: string): Promise<void> }, reason: string, log: Logger): Promise<void> {
  try {
    await sink.abort(reason);
  } catch (err) {
    // The message is being dropped anyway; a failing abort must not take the session down.
    log.warn({ err }, "message sink abort failed");
  }
}

export function reset(ctx: CommandContext, reason: string): Promise<void> {
  return resetTransaction(ctx.session, ctx.handler, ctx.log, reason);
}
