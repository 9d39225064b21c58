// RFC 9051 §6.1.2 NOOP and §6.4.1 (RFC 3501) CHECK: both are chances to hear about changes.
import type { CommandEntry } from "./types.ts";
import { ANY, SELECTED } from "./types.ts";

export const noop: CommandEntry<"NOOP"> = {
  states: ANY,
  async run(s, cmd) {
    await s.announce(cmd, true);
  },
};

export const check: CommandEntry<"CHECK"> = {
  states: SELECTED,
  async run(s, cmd) {
    await s.announce(cmd, true);
  },
};
