// QUIT (RFC 5321 §4.1.1.10): 221, then the server closes. An open transaction is dropped.
import { defineCommand, noArgs } from "./command.ts";
import { reply } from "../reply.ts";
import { reset } from "./transaction.ts";

export const quit = defineCommand<void>({
  verb: "QUIT",
  phases: ["start", "ready", "mail", "rcpt", "bdat"],
  parse: noArgs,
  async handle(ctx) {
    await reset(ctx, "QUIT");
    ctx.send(reply(221, "2.0.0", `${ctx.session.info.serverName} closing connection`));
    ctx.close();
  },
});
