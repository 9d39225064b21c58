// RFC 2177 IDLE: "+ idling", then changes to the selected mailbox are pushed as they happen
// (the change bus calls the session; no timer or polling per connection) until "DONE".
import { continuation } from "../protocol/response.ts";
import { bad } from "../errors.ts";
import type { CommandEntry } from "./types.ts";
import { AUTH } from "./types.ts";

export const idle: CommandEntry<"IDLE"> = {
  states: AUTH,
  async run(s, cmd) {
    await s.announce(cmd, true);
    await s.send(continuation("idling"));
    s.idling = true;
    let line: string | null;
    try {
      line = await s.t.readLine();
    } finally {
      await s.endIdle();
    }
    if (line === null) throw bad("Connection closed");
    if (line.toUpperCase() !== "DONE") throw bad("Expected DONE");
  },
};
