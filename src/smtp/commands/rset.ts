// RSET (RFC 5321 §4.1.1.5): drop the transaction, keep HELO; allowed in any phase.
import { defineCommand, noArgs } from "./command.ts";
import { ok } from "../reply.ts";
import { reset } from "./transaction.ts";

export const rset = defineCommand<void>({
  verb: "RSET",
  phases: ["start", "ready", "mail", "rcpt", "bdat"],
  parse: noArgs,
  async handle(ctx) {
    await reset(ctx, "RSET");
    ctx.send(ok("2.0.0", "OK"));
  },
});
