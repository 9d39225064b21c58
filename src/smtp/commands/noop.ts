// NOOP (RFC 5321 §4.1.1.9): an argument string is allowed and ignored.
import { defineCommand } from "./command.ts";
import { ok } from "../reply.ts";

export const noop = defineCommand<void>({
  verb: "NOOP",
  phases: ["start", "ready", "mail", "rcpt", "bdat"],
  parse: () => undefined,
  async handle(ctx) {
    ctx.send(ok("2.0.0", "OK"));
  },
});
