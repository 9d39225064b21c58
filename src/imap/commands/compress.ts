// RFC 4978 COMPRESS=DEFLATE is not offered yet (not advertised), so the command is refused.
import { no } from "../errors.ts";
import type { CommandEntry } from "./types.ts";
import { AUTH } from "./types.ts";

export const compress: CommandEntry<"COMPRESS"> = {
  states: AUTH,
  async run() {
    throw no("COMPRESS is not supported", "CANNOT");
  },
};
