// RFC 4978 COMPRESS=DEFLATE: the tagged OK goes out uncompressed, then both directions are raw
// DEFLATE (RFC 1951) streams, flushed after every response batch (connection.ts).
import { tagged } from "../protocol/response.ts";
import { ImapError, bad } from "../errors.ts";
import { AlreadyAnswered } from "./starttls.ts";
import type { CommandEntry } from "./types.ts";
import { AUTH } from "./types.ts";

export const compress: CommandEntry<"COMPRESS"> = {
  states: AUTH,
  async run(s, cmd) {
    if (cmd.mechanism.toUpperCase() !== "DEFLATE") throw bad(`Unknown compression mechanism ${cmd.mechanism}`);
    // RFC 4978 §3: a second COMPRESS answers NO [COMPRESSIONACTIVE].
    if (s.t.compressed) throw new ImapError("NO", "Compression already active", { code: "COMPRESSIONACTIVE" });
    await s.send(tagged(cmd.tag, "OK", "DEFLATE active"));
    s.t.startCompression();
    throw new AlreadyAnswered();
  },
};
