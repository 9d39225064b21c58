// RFC 2971 ID: logged (clients identify themselves, which helps support); we answer our name.
import { idResponse } from "../protocol/response.ts";
import type { CommandEntry } from "./types.ts";
import { ANY } from "./types.ts";

export const id: CommandEntry<"ID"> = {
  states: ANY,
  async run(s, cmd) {
    if (cmd.params) s.log.debug({ id: Object.fromEntries(cmd.params.slice(0, 30)) }, "imap client id");
    await s.send(idResponse(s.mode, [["name", s.deps.serverName ?? "Freehold"]]));
  },
};
