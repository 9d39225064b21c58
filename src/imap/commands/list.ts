// RFC 9051 §6.3.9 LIST with RFC 5258 LIST-EXTENDED selection/return options, RFC 5819
// LIST-STATUS, RFC 6154 SPECIAL-USE and RFC 3348 CHILDREN; RFC 3501 §6.3.9 LSUB.
import type { MailboxRecord } from "../../store/types.ts";
import { listResponse, statusResponse } from "../protocol/response.ts";
import { DELIMITER } from "../mailboxes.ts";
import type { Session } from "../session.ts";
import { statusItems } from "./status.ts";
import { orphanSubscriptions } from "../subscriptions.ts";
import type { CommandEntry } from "./types.ts";
import { AUTH } from "./types.ts";

/** RFC 9051 §6.3.9: "*" matches anything, "%" anything but the delimiter. */
export function patternRegex(reference: string, pattern: string): RegExp {
  const full = normalizePattern(reference + pattern);
  let re = "";
  for (const ch of full) {
    if (ch === "*") re += ".*";
    else if (ch === "%") re += "[^/]*";
    else re += ch.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`, "su");
}

interface Entry {
  name: string;
  mb: MailboxRecord | null;
  hasChildren: boolean;
  subscribedChild: boolean;
}

function entries(mailboxes: MailboxRecord[]): Map<string, Entry> {
  const map = new Map<string, Entry>();
  for (const mb of mailboxes) map.set(mb.name, { name: mb.name, mb, hasChildren: false, subscribedChild: false });
  for (const mb of mailboxes) {
    const parts = mb.name.split(DELIMITER);
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join(DELIMITER);
      let e = map.get(parent);
      if (!e) {
        // A level that exists only as a prefix of real mailboxes (RFC 9051 §6.3.9: \NonExistent).
        e = { name: parent, mb: null, hasChildren: false, subscribedChild: false };
        map.set(parent, e);
      }
      e.hasChildren = true;
      if (mb.subscribed) e.subscribedChild = true;
    }
  }
  return map;
}

/** INBOX is case-insensitive (RFC 9051 §5.1), so is a pattern's INBOX prefix. */
function normalizePattern(p: string): string {
  return /^inbox(\/|$)/i.test(p) ? "INBOX" + p.slice(5) : p;
}

export const list: CommandEntry<"LIST"> = {
  states: AUTH,
  async run(s, cmd) {
    // RFC 9051 §6.3.9: an empty pattern asks for the delimiter and the root.
    if (cmd.patterns.length === 1 && cmd.patterns[0] === "") {
      await s.send(listResponse(s.mode, { name: "", attributes: ["\\Noselect"], delimiter: DELIMITER }));
      return;
    }
    const all = await s.deps.store.mail.listMailboxes(s.user().id);
    const map = entries(all);
    const sel = cmd.selection;
    const ret = cmd.returns;
    const orphans = sel.subscribed || ret.subscribed ? new Set(await orphanSubscriptions(s.deps.store, s.user().id)) : new Set<string>();
    // RFC 5258 §3.1: subscribed names without a mailbox are listed with \NonExistent.
    for (const name of orphans) if (!map.has(name)) map.set(name, { name, mb: null, hasChildren: false, subscribedChild: false });
    const res = cmd.patterns.map((p) => patternRegex(cmd.reference, p));
    const names = [...map.keys()].sort((a, b) => (a === "INBOX" ? -1 : b === "INBOX" ? 1 : a < b ? -1 : a > b ? 1 : 0));
    for (const name of names) {
      const e = map.get(name)!;
      const matches = res.some((r) => r.test(name));
      let childInfo: string[] | undefined;
      if (!matches) continue;
      const subscribed = e.mb ? e.mb.subscribed : orphans.has(name);
      if (sel.subscribed && !subscribed) {
        // RFC 5258 §3.5: with RECURSIVEMATCH a parent of subscribed children is listed with CHILDINFO.
        if (!(sel.recursiveMatch && e.subscribedChild)) continue;
        childInfo = ["SUBSCRIBED"];
      }
      if (sel.specialUse && !e.mb?.specialUse) continue;
      const attrs: string[] = [];
      if (!e.mb) attrs.push(cmd.extended || s.mode.rev2 || orphans.has(name) ? "\\NonExistent" : "\\Noselect");
      // A name with neither a mailbox nor children (a kept subscription) has no children to tell.
      if (e.mb || e.hasChildren) attrs.push(e.hasChildren ? "\\HasChildren" : "\\HasNoChildren");
      if ((sel.subscribed || ret.subscribed) && subscribed) attrs.push("\\Subscribed");
      if (e.mb?.specialUse) attrs.push(e.mb.specialUse);
      await s.send(listResponse(s.mode, { name, attributes: attrs, delimiter: DELIMITER, childInfo }));
      // RFC 5819 §2: STATUS follows the LIST of each selectable mailbox.
      if (ret.status && e.mb) await s.send(statusResponse(s.mode, name, await statusItems(s, e.mb, ret.status)));
    }
  },
};

export const lsub: CommandEntry<"LSUB"> = {
  states: AUTH,
  async run(s, cmd) {
    const all = await s.deps.store.mail.listMailboxes(s.user().id);
    const r = patternRegex(cmd.reference, cmd.pattern);
    const names = new Map<string, string[]>();
    for (const mb of all) if (mb.subscribed) names.set(mb.name, []);
    // RFC 3501 §6.3.9: a subscribed name without a mailbox is listed \Noselect.
    for (const o of await orphanSubscriptions(s.deps.store, s.user().id)) if (!names.has(o)) names.set(o, ["\\Noselect"]);
    for (const [name, attributes] of [...names].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      if (r.test(name)) await s.send(listResponse(s.mode, { name, attributes, delimiter: DELIMITER }, "LSUB"));
    }
  },
};
