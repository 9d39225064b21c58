// RFC 5161 ENABLE: CONDSTORE and QRESYNC (RFC 7162 §3.2.3: QRESYNC implies CONDSTORE),
// UTF8=ACCEPT (RFC 6855 §3: UTF-8 mailbox names and strings) and IMAP4rev2 (RFC 9051 Appendix E:
// ESEARCH answers, no \Recent, UTF-8 mailbox names, a LIST line in SELECT).
import { enabledResponse } from "../protocol/response.ts";
import type { CommandEntry } from "./types.ts";
import { AUTH } from "./types.ts";

const SUPPORTED = new Set(["CONDSTORE", "QRESYNC", "UTF8=ACCEPT", "IMAP4REV2"]);

export const enable: CommandEntry<"ENABLE"> = {
  states: AUTH,
  async run(s, cmd) {
    const now: string[] = [];
    for (const c of cmd.capabilities) {
      if (!SUPPORTED.has(c) || s.enabled.has(c)) continue;
      s.enabled.add(c);
      if (c === "IMAP4REV2") {
        now.push("IMAP4rev2");
        // RFC 9051 §5.1: IMAP4rev2 mailbox names are UTF-8.
        s.mode = { rev2: true, utf8: true };
        continue;
      }
      now.push(c);
      if (c === "UTF8=ACCEPT") {
        s.mode = { ...s.mode, utf8: true };
        continue;
      }
      if (c === "QRESYNC") s.enabled.add("CONDSTORE");
      await s.enableCondstore();
    }
    // RFC 5161 §3.2: list only what this command newly enabled.
    await s.send(enabledResponse(now));
  },
};
