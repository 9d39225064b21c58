// STARTTLS (RFC 3207). After "220 Ready to start TLS" the handshake runs on the same socket;
// everything the client sent before it in plaintext is thrown away (CVE-2011-0411, command
// injection), and the session starts over: RFC 3207 §4.2 — the server "MUST discard any
// knowledge obtained from the client, such as the argument to the EHLO command".
import { defineCommand, noArgs } from "./command.ts";
import { SmtpError } from "../errors.ts";
import { reply } from "../reply.ts";
import { reset } from "./transaction.ts";

export const starttls = defineCommand<void>({
  verb: "STARTTLS",
  phases: ["start", "ready"],
  roles: ["mx", "submission"],
  parse: noArgs,
  async handle(ctx) {
    if (ctx.session.info.tls !== undefined) throw new SmtpError("tlsAlreadyActive");
    if (!ctx.features.startTls) throw new SmtpError("tlsNotAvailable");
    await reset(ctx, "STARTTLS");
    ctx.send(reply(220, "2.0.0", "Ready to start TLS"));
    await ctx.flush();
    const dropped = ctx.reader.discardBuffered();
    if (dropped > 0) ctx.log.info({ dropped }, "plaintext pipelined after STARTTLS discarded");
    const tls = await ctx.startTls();
    ctx.session.state = { phase: "start" };
    ctx.session.info.helo = undefined;
    ctx.log.info({ protocol: tls.protocol, cipher: tls.cipher }, "TLS started");
  },
});
