// RFC 2342 NAMESPACE: one personal namespace, "" with "/" as delimiter; no shared ones.
import { namespaceResponse } from "../protocol/response.ts";
import type { CommandEntry } from "./types.ts";
import { AUTH } from "./types.ts";

export const namespace: CommandEntry<"NAMESPACE"> = {
  states: AUTH,
  async run(s) {
    await s.send(namespaceResponse(s.mode, [{ prefix: "", delimiter: "/" }], [], []));
  },
};
