// DATA (RFC 5321 §4.1.1.4): 354, then content up to <CRLF>.<CRLF> (framing in reader.ts), then
// one reply for the whole message (one per recipient for LMTP).
import { defineCommand, noArgs } from "./command.ts";
import { SmtpError } from "../errors.ts";
import { reply } from "../reply.ts";
import { ContentInspector } from "../content.ts";
import type { Envelope, MessageSink } from "../types.ts";
import { abortQuietly } from "./transaction.ts";
import { contentVerdict, finishMessage, refuseMessage, streamContent } from "./body.ts";
import type { StreamState } from "./body.ts";
import { afterTransaction } from "../session-state.ts";

export const data = defineCommand<void>({
  verb: "DATA",
  // In "bdat" it gets 503 5.5.1 "DATA and BDAT cannot be mixed" (session-state.ts).
  phases: ["rcpt"],
  parse: noArgs,
  async handle(ctx) {
    const s = ctx.session.state;
    if (s.phase !== "rcpt") throw new SmtpError("badSequence");
    const tx = s.tx;
    // RFC 3030 §3: BINARYMIME content cannot be sent with DATA.
    if (tx.params.body === "BINARYMIME") throw new SmtpError("binaryNeedsBdat");
    const envelope: Envelope = { mailFrom: tx.from, mailParams: tx.params, recipients: tx.recipients, transport: "DATA" };
    const sink: MessageSink = await ctx.handler.data(ctx.session.info, envelope);
    // RFC 2920 §3.1: DATA ends a pipelined group; the client must wait for 354 before sending
    // content. Content already here was sent blind — the pattern of smuggling and of bots — and
    // we cannot tell what the client meant by it, so the session ends (as Postfix's
    // "improper command pipelining after DATA" check).
    if (ctx.pendingInput() > 0) {
      await abortQuietly(sink, "improper pipelining", ctx.log);
      throw new SmtpError("improperPipelining");
    }
    ctx.session.state = { phase: "data", helo: s.helo, tx, sink };
    ctx.send(reply(354, undefined, "End data with <CR><LF>.<CR><LF>"));
    const normalizeBareLf = ctx.features.bareLineEndings === "normalize";
    ctx.reader.startData({ normalizeBareLf });
    const inspector = new ContentInspector();
    const st: StreamState = {};
    let settled = false;
    try {
      await streamContent(ctx, sink, inspector, st);
      const stats = inspector.stats();
      const bareLf = ctx.reader.bareLfCount;
      const err = st.error ?? contentVerdict(ctx, stats, "DATA", bareLf);
      settled = true;
      ctx.session.state = afterTransaction(ctx.session.state);
      ctx.session.info.smtputf8 = false;
      if (err) {
        await refuseMessage(ctx, sink, err, tx);
        ctx.handler.reset?.(ctx.session.info);
      } else {
        await finishMessage(ctx, sink, tx, stats, normalizeBareLf ? bareLf : 0);
      }
    } finally {
      // The client vanished, timed out or the server is shutting down mid-DATA.
      if (!settled) {
        ctx.session.state = afterTransaction(ctx.session.state);
        await abortQuietly(sink, "connection ended during DATA", ctx.log);
      }
    }
  },
});
