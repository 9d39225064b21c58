// RFC 9051 §6.3.11 STATUS (plus RFC 7162 HIGHESTMODSEQ, RFC 8438 SIZE, RFC 7889 APPENDLIMIT).
import type { MailboxRecord } from "../../store/types.ts";
import type { StatusItem } from "../protocol/commands.ts";
import { statusResponse } from "../protocol/response.ts";
import { requireMailbox } from "../mailboxes.ts";
import type { Session } from "../session.ts";
import { recentClaims } from "../recent.ts";
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
        out.push([it, await recentCount(s, mb)]);
        break;
      case "HIGHESTMODSEQ":
        await s.enableCondstore(); // RFC 7162 §3.1: a CONDSTORE-enabling command
        out.push([it, mb.highestModseq]);
        break;
      case "APPENDLIMIT":
        out.push([it, s.limits.maxAppendSize]);
        break;
    }
  }
  return out;
}

/**
 * RFC 3501 §6.3.10 STATUS RECENT: the messages no session has claimed as \Recent yet
 * (recent.ts), plus this session's own when it has the mailbox selected (as Dovecot counts).
 * IMAP4rev2 has no RECENT (RFC 9051 Appendix E): 0 there, if a client asks anyway.
 */
async function recentCount(s: Session, mb: MailboxRecord): Promise<number> {
  if (!s.showsRecent) return 0;
  const h = await recentClaims(s.deps.store).horizon(mb.userId, mb.id, mb.uidValidity);
  let n = 0;
  if (mb.uidNext - 1 > h) {
    const snap = await s.statusCache.index.snapshot(s.deps.store, mb.id);
    if (snap) {
      const c = snap.columns;
      for (let i = c.n - 1; i >= 0 && c.uid[i] > h; i--) n++;
    }
  }
  const v = s.state.kind === "selected" ? s.state.view : null;
  if (v && !v.readOnly && v.mailboxId === mb.id && v.uidValidity === mb.uidValidity) {
    n += v.recentCount();
  }
  return n;
}

export const status: CommandEntry<"STATUS"> = {
  states: AUTH,
  async run(s, cmd) {
    const mb = await requireMailbox(s, cmd.mailbox);
    await s.send(statusResponse(s.mode, mb.name, await statusItems(s, mb, cmd.items)));
  },
};
