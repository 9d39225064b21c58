// RFC 5161 ENABLE: CONDSTORE and QRESYNC (RFC 7162 §3.2.3: QRESYNC implies CONDSTORE).
import { enabledResponse } from "../protocol/response.ts";
import type { CommandEntry } from "./types.ts";
import { AUTH } from "./types.ts";

const SUPPORTED = new Set(["CONDSTORE", "QRESYNC"]);

export const enable: CommandEntry<"ENABLE"> = {
  states: AUTH,
  async run(s, cmd) {
    const now: string[] = [];
    for (const c of cmd.capabilities) {
      if (!SUPPORTED.has(c) || s.enabled.has(c)) continue;
      s.enabled.add(c);
      now.push(c);
      if (c === "QRESYNC" && !s.enabled.has("CONDSTORE")) {
        s.enabled.add("CONDSTORE");
      }
      s.condstore = true;
    }
    // RFC 5161 §3.2: list only what this command newly enabled.
    await s.send(enabledResponse(now));
  },
};
