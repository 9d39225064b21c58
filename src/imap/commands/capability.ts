// RFC 9051 §6.1.1 CAPABILITY.
import { capabilityResponse } from "../protocol/response.ts";
import { capabilities } from "../capabilities.ts";
import type { CommandEntry } from "./types.ts";
import { ANY } from "./types.ts";

export const capability: CommandEntry<"CAPABILITY"> = {
  states: ANY,
  async run(s) {
    await s.send(capabilityResponse(capabilities(s)));
  },
};
