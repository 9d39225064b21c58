// RFC 9051 §6.2.2 AUTHENTICATE with PLAIN (RFC 4616) and SASL-IR (RFC 4959).
import { continuation } from "../protocol/response.ts";
import { bad, no } from "../errors.ts";
import { logIn } from "./login.ts";
import { mayLogin } from "../capabilities.ts";
import type { CommandEntry } from "./types.ts";
import { NOT_AUTH } from "./types.ts";

export const authenticate: CommandEntry<"AUTHENTICATE"> = {
  states: NOT_AUTH,
  async run(s, cmd) {
    if (cmd.mechanism.toUpperCase() !== "PLAIN") throw no(`Unsupported mechanism ${cmd.mechanism}`, "CANNOT");
    // Refuse before asking for credentials that would cross the wire in the clear.
    if (!mayLogin(s)) throw no("Use STARTTLS first", "PRIVACYREQUIRED");
    let response = cmd.initialResponse;
    if (response === null) {
      await s.send(continuation(""));
      const line = await s.t.readLine();
      if (line === null) throw bad("Connection closed");
      // RFC 9051 §6.2.2: "*" cancels the exchange.
      if (line === "*") throw bad("Authentication cancelled");
      response = line;
    }
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(response)) throw bad("Invalid base64");
    // RFC 4616 §2: message = [authzid] NUL authcid NUL passwd
    const parts = Buffer.from(response, "base64").toString("utf8").split("\0");
    if (parts.length !== 3) throw bad("Malformed PLAIN response");
    const [authzid, authcid, passwd] = parts;
    if (authzid !== "" && authzid.toLowerCase() !== authcid.toLowerCase()) throw no("Cannot act as another user", "AUTHORIZATIONFAILED");
    return logIn(s, authcid, passwd);
  },
};
