// HELP (RFC 5321 §4.1.1.8): 214 with the commands this listener knows.
import { defineCommand } from "./command.ts";
import { reply } from "../reply.ts";

export const help = defineCommand<void>({
  verb: "HELP",
  phases: ["start", "ready", "mail", "rcpt", "bdat"],
  parse: () => undefined,
  async handle(ctx) {
    ctx.send(reply(214, "2.0.0", `Commands: ${ctx.verbs.join(" ")}`, "See RFC 5321 for details"));
  },
});
