// RFC 9051 §6.4.4 SEARCH, UID SEARCH; RFC 4731 ESEARCH (RETURN options), RFC 5182 SEARCHRES
// (SAVE and "$"), RFC 7162 §3.1.5 MODSEQ.
import { searchResults } from "../protocol/response.ts";
import { charsetDecoder } from "../protocol/parse-search.ts";
import { runSearch } from "../search.ts";
import { ImapError } from "../errors.ts";
import type { MailboxView } from "../mailbox-view.ts";
import type { SearchReturn } from "../protocol/commands.ts";
import type { CommandEntry } from "./types.ts";
import { SELECTED } from "./types.ts";

/**
 * RFC 7162 §3.1.5 (with RFC 4731 ESEARCH): the MODSEQ reported is the highest mod-sequence of
 * the messages being returned. RETURN (MIN) returns one message, so its MODSEQ is that
 * message's; (MAX) likewise; (MIN MAX) the larger of the two; PARTIAL (RFC 9394) the messages
 * in its range. ALL and COUNT cover every match, as does the IMAP4rev1 SEARCH response.
 */
export function returnedModseq(view: MailboxView, uids: readonly number[], returns: SearchReturn | null, all: number): number {
  if (!returns || returns.all || returns.count || uids.length === 0) return all;
  const picked: number[] = [];
  if (returns.min) picked.push(uids[0]);
  if (returns.max) picked.push(uids[uids.length - 1]);
  if (returns.partial) {
    const { from, to } = returns.partial;
    const n = uids.length;
    picked.push(...(from > 0 ? uids.slice(from - 1, to) : uids.slice(Math.max(0, n + to), n + from + 1)));
  }
  if (picked.length === 0) return all; // SAVE alone: nothing is returned, nothing is reported
  let m = 0;
  for (const u of picked) m = Math.max(m, view.get(u)?.modseq ?? 0);
  return m;
}

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
    if (outcome.modseq !== null) await s.enableCondstore();
    if (cmd.returns?.save) s.saved = outcome.uids;
    const nums = cmd.uid ? outcome.uids : outcome.uids.map((u) => view.seqOf(u));
    const modseq = outcome.modseq === null ? null : returnedModseq(view, outcome.uids, cmd.returns, outcome.modseq);
    await s.send(searchResults(s.mode, { tag: cmd.tag, uid: cmd.uid, nums, returns: cmd.returns, modseq }));
  },
};
