// BDAT (RFC 3030 §2): "BDAT size [LAST]" followed by exactly size octets. Chunks of one
// message are concatenated into the sink as they come; the last one gets the final reply.
// Whatever else happens, the chunk's octets are read, so the byte stream stays in step even
// when the command is refused (RFC 3030 §2: the server must consume the data) — except for a
// chunk larger than the whole message size limit, which ends the session instead.
import { defineCommand } from "./command.ts";
import type { CommandContext } from "./command.ts";
import { SmtpError, toSmtpError } from "../errors.ts";
import { ok } from "../reply.ts";
import { ContentInspector } from "../content.ts";
import type { ChunkedBody, Transaction } from "../session-state.ts";
import { afterTransaction, sequenceText } from "../session-state.ts";
import type { Envelope } from "../types.ts";
import { abortQuietly, reset } from "./transaction.ts";
import { contentVerdict, finishMessage, refuseMessage, streamContent } from "./body.ts";
import type { StreamState } from "./body.ts";

interface BdatArgs {
  readonly size: number;
  readonly last: boolean;
}

// RFC 3030 §4: bdat-cmd ::= "BDAT" SP chunk-size [ SP end-marker ] CR LF; chunk-size ::= 1*DIGIT
const BDAT = /^(\d{1,15})(?: +(LAST))? *$/i;

function parse(args: string): BdatArgs {
  const m = BDAT.exec(args);
  if (!m) throw new SmtpError("badArguments", "Syntax: BDAT <size> [LAST]");
  return { size: Number(m[1]), last: m[2] !== undefined };
}

/** Reads and drops a chunk the session will not take. */
async function discardChunk(ctx: CommandContext, size: number): Promise<void> {
  ctx.reader.startChunk(size);
  for (;;) {
    const ev = await ctx.nextEvent();
    if (ev.kind === "content-end") return;
  }
}

export const bdat = defineCommand<BdatArgs>({
  verb: "BDAT",
  // Every phase: a refused chunk must still be consumed, so the sequence check is done here.
  phases: ["start", "ready", "mail", "rcpt", "bdat"],
  parse,
  async handle(ctx, { size, last }) {
    const s = ctx.session.state;
    if (size > ctx.limits.maxMessageSize) {
      await reset(ctx, "BDAT chunk too big");
      throw new SmtpError("chunkTooBig");
    }
    if (s.phase !== "rcpt" && s.phase !== "bdat") {
      await discardChunk(ctx, size);
      throw new SmtpError("badSequence", sequenceText("DATA", s.phase));
    }
    const tx: Transaction = s.tx;
    let body: ChunkedBody;
    if (s.phase === "rcpt") {
      const envelope: Envelope = { mailFrom: tx.from, mailParams: tx.params, recipients: tx.recipients, transport: "BDAT" };
      let sink;
      try {
        sink = await ctx.handler.data(ctx.session.info, envelope);
      } catch (e) {
        await discardChunk(ctx, size);
        await reset(ctx, "BDAT refused");
        throw toSmtpError(e);
      }
      body = { sink, inspector: new ContentInspector(), chunks: 0, startedAt: Date.now(), octets: 0 };
      ctx.session.state = { phase: "bdat", helo: s.helo, tx, body };
    } else {
      body = s.body;
      // Slow chunks (issue 13 §2): each chunk's content is rate-checked by the connection, but a
      // client could send a 1-octet chunk every few minutes, each command arriving in time. The
      // message as a whole must keep smtp.minDataRate after the first dataTimeoutMs, as DATA
      // does (Postfix smtpd_min_data_rate): else 421 4.4.2 and the connection closes.
      const l = ctx.limits;
      if (l.minDataRate > 0 && Date.now() - body.startedAt > l.dataTimeoutMs + (body.octets * 1000) / l.minDataRate) {
        await reset(ctx, "BDAT below the minimum data rate");
        throw new SmtpError("timeout");
      }
      if (body.chunks >= l.maxBdatChunks) {
        ctx.log.info({ chunks: body.chunks, octets: body.octets }, "too many BDAT chunks");
        await discardChunk(ctx, size);
        await reset(ctx, "too many BDAT chunks");
        throw new SmtpError("tooManyChunks");
      }
    }
    body.chunks++;
    body.octets += size;
    ctx.reader.startChunk(size);
    const st: StreamState = {};
    let settled = false;
    try {
      await streamContent(ctx, body.sink, body.inspector, st);
      settled = true;
    } finally {
      if (!settled) {
        ctx.session.state = afterTransaction(ctx.session.state);
        await abortQuietly(body.sink, "connection ended during BDAT", ctx.log);
      }
    }
    if (!last && !st.error) {
      ctx.send(ok("2.0.0", `${size} octets received`));
      return;
    }
    // The transaction ends here: with the final reply, or with an error that makes the client
    // stop sending chunks (RFC 3030 §2: after a 4xx/5xx to BDAT the client must not continue).
    ctx.session.state = afterTransaction(ctx.session.state);
    ctx.session.info.smtputf8 = false;
    const stats = body.inspector.stats();
    const err = st.error ?? (last ? contentVerdict(ctx, stats, "BDAT") : undefined);
    if (err) {
      await refuseMessage(ctx, body.sink, err, tx);
      ctx.handler.reset?.(ctx.session.info);
      return;
    }
    await finishMessage(ctx, body.sink, tx, stats);
  },
});
