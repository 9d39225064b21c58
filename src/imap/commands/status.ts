// RFC 9051 §6.3.11 STATUS (plus RFC 7162 HIGHESTMODSEQ, RFC 8438 SIZE, RFC 7889 APPENDLIMIT).
import type { MailboxRecord } from "../../store/types.ts";
import type { StatusItem } from "../protocol/commands.ts";
import { statusResponse } from "../protocol/response.ts";
import { requireMailbox } from "../mailboxes.ts";
import type { Session } from "../session.ts";
import type { CommandEntry } from "./types.ts";
import { AUTH } from "./types.ts";

export async function statusItems(s: Session, mb: MailboxRecord, items: readonly StatusItem[]): Promise<Array<[StatusItem, number]>> {
  const needCounts = items.some((i) => i === "MESSAGES" || i === "UNSEEN" || i === "DELETED" || i === "SIZE");
  const c = needCounts ? await s.statusCache.counts(s.deps.store, mb) : { messages: 0, unseen: 0, deleted: 0, size: 0 };
  const out: Array<[StatusItem, number]> = [];
  for (const it of items) {
    switch (it) {
      case "MESSAGES":
        out.push([it, c.messages]);
        break;
      case "UIDNEXT":
        out.push([it, mb.uidNext]);
        break;
      case "UIDVALIDITY":
        out.push([it, mb.uidValidity]);
        break;
      case "UNSEEN":
        out.push([it, c.unseen]);
        break;
      case "DELETED":
        out.push([it, c.deleted]);
        break;
      case "SIZE":
        out.push([it, c.size]);
        break;
      case "RECENT":
        out.push([it, 0]); // \Recent is not tracked (RFC 9051 Appendix E drops it)
        break;
      case "HIGHESTMODSEQ":
        s.condstore = true; // RFC 7162 §3.1: a CONDSTORE-enabling command
        out.push([it, mb.highestModseq]);
        break;
      case "APPENDLIMIT":
        out.push([it, s.limits.maxAppendSize]);
        break;
    }
  }
  return out;
}

export const status: CommandEntry<"STATUS"> = {
  states: AUTH,
  async run(s, cmd) {
    const mb = await requireMailbox(s, cmd.mailbox);
    await s.send(statusResponse(s.mode, mb.name, await statusItems(s, mb, cmd.items)));
  },
};
