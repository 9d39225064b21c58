// RFC 9051 §6.1.3 LOGOUT: untagged BYE, then the tagged OK, then the connection closes.
import { untaggedStatus } from "../protocol/response.ts";
import type { CommandEntry } from "./types.ts";
import { ANY } from "./types.ts";

export const logout: CommandEntry<"LOGOUT"> = {
  states: ANY,
  async run(s) {
    await s.send(untaggedStatus("BYE", "Logging out"));
    s.close();
    s.state = { kind: "logout" };
    return { text: "LOGOUT completed" };
  },
};
