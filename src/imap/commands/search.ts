// RFC 9051 §6.4.4 SEARCH, UID SEARCH; RFC 4731 ESEARCH (RETURN options), RFC 5182 SEARCHRES
// (SAVE and "$"), RFC 7162 §3.1.5 MODSEQ.
import { searchResults } from "../protocol/response.ts";
import { charsetDecoder } from "../protocol/parse-search.ts";
import { runSearch } from "../search.ts";
import { ImapError } from "../errors.ts";
import type { CommandEntry } from "./types.ts";
import { SELECTED } from "./types.ts";

export const search: CommandEntry<"SEARCH"> = {
  states: SELECTED,
  async run(s, cmd) {
    if (cmd.charset !== null && charsetDecoder(cmd.charset) === null) {
      throw new ImapError("NO", "Unknown charset", { code: "BADCHARSET", charsets: ["UTF-8", "US-ASCII"] });
    }
    const view = s.view();
    let outcome;
    try {
      outcome = await runSearch(s, view, cmd.key);
    } catch (e) {
      // RFC 5182 §2.4: a failed SEARCH with SAVE empties the saved result.
      if (cmd.returns?.save) s.saved = [];
      throw e;
    }
    if (outcome.modseq !== null) s.condstore = true;
    if (cmd.returns?.save) s.saved = outcome.uids;
    const nums = cmd.uid ? outcome.uids : outcome.uids.map((u) => view.seqOf(u));
    await s.send(searchResults(s.mode, { tag: cmd.tag, uid: cmd.uid, nums, returns: cmd.returns, modseq: outcome.modseq }));
  },
};
