// VRFY (RFC 5321 §3.5.3, §4.1.1.6). We never confirm addresses (that would hand out the user
// list); RFC 5321 §3.5.3 says to answer 252 rather than 502 in that case, since some clients
// treat 502 as a broken server.
import { defineCommand } from "./command.ts";
import { SmtpError } from "../errors.ts";
import { reply } from "../reply.ts";

export const vrfy = defineCommand<void>({
  verb: "VRFY",
  phases: ["start", "ready", "mail", "rcpt"],
  parse(args) {
    if (args.trim() === "") throw new SmtpError("badArguments", "VRFY requires an address");
  },
  async handle(ctx) {
    ctx.send(reply(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery"));
  },
});
