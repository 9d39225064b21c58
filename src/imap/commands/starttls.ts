// RFC 9051 §6.2.1 STARTTLS: only on the `imap` role before TLS; the tagged OK goes out in the
// clear, then TLS starts and bytes the client pipelined after STARTTLS are thrown away (the
// connection does that: injected plaintext must not be read as commands, CVE-2011-0411 style).
import { tagged } from "../protocol/response.ts";
import { bad } from "../errors.ts";
import type { CommandEntry } from "./types.ts";
import { NOT_AUTH } from "./types.ts";

export const starttls: CommandEntry<"STARTTLS"> = {
  states: NOT_AUTH,
  async run(s, cmd) {
    if (s.t.tls || s.t.listener.role !== "imap" || !s.t.listener.secureContext) throw bad("STARTTLS not available");
    await s.send(tagged(cmd.tag, "OK", "Begin TLS negotiation now"));
    await s.t.startTls();
    // RFC 9051 §6.2.1: the client must ask for capabilities again; nothing more is sent.
    throw new AlreadyAnswered();
  },
};

/** Thrown by a handler that has sent its own tagged response. */
export class AlreadyAnswered extends Error {}
