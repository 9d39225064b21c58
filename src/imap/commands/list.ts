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
}

/** Mailboxes and, for each, the levels above it that exist only as a prefix (RFC 9051 §6.3.9). */
function entries(mailboxes: MailboxRecord[]): Map<string, Entry> {
  const map = new Map<string, Entry>();
  for (const mb of mailboxes) map.set(mb.name, { name: mb.name, mb, hasChildren: false });
  for (const mb of mailboxes) {
    for (const parent of ancestors(mb.name)) {
      let e = map.get(parent);
      if (!e) {
        // A level that exists only as a prefix of real mailboxes (RFC 9051 §6.3.9: \NonExistent).
        e = { name: parent, mb: null, hasChildren: false };
        map.set(parent, e);
      }
      e.hasChildren = true;
    }
  }
  return map;
}

/** "a/b/c" → ["a", "a/b"]. */
function ancestors(name: string): string[] {
  const parts = name.split(DELIMITER);
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join(DELIMITER));
  return out;
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
    const orphans = sel.subscribed ? new Set(await orphanSubscriptions(s.deps.store, s.user().id)) : new Set<string>();
    // RFC 5258 §3.1: with the SUBSCRIBED selection, subscribed names without a mailbox are listed
    // \NonExistent (a plain LIST, even with RETURN (SUBSCRIBED), lists mailboxes only); their
    // missing parents can still carry CHILDINFO.
    for (const name of orphans) {
      for (const n of [name, ...ancestors(name)]) if (!map.has(n)) map.set(n, { name: n, mb: null, hasChildren: false });
    }
    const res = cmd.patterns.map((p) => patternRegex(cmd.reference, p));
    const matches = (name: string): boolean => res.some((r) => r.test(name));
    const isSubscribed = (e: Entry): boolean => (e.mb ? e.mb.subscribed : orphans.has(e.name));
    // RFC 5258 §3: the selection criteria a name must meet (SUBSCRIBED; RFC 6154 SPECIAL-USE).
    const meets = (e: Entry): boolean => (!sel.subscribed || isSubscribed(e)) && (!sel.specialUse || !!e.mb?.specialUse);
    const criteria = [...(sel.subscribed ? ["SUBSCRIBED"] : []), ...(sel.specialUse ? ["SPECIAL-USE"] : [])];
    // RFC 5258 §3.3 rule 2B, §3.5: with RECURSIVEMATCH, a name gets CHILDINFO when a descendant
    // meets the criteria and is not itself being returned (redundant CHILDINFO suppressed).
    const childInfoFor = new Set<string>();
    if (sel.recursiveMatch) {
      for (const e of map.values()) {
        if (!meets(e) || matches(e.name)) continue;
        for (const parent of ancestors(e.name)) childInfoFor.add(parent);
      }
    }
    const names = [...map.keys()].sort((a, b) => (a === "INBOX" ? -1 : b === "INBOX" ? 1 : a < b ? -1 : a > b ? 1 : 0));
    for (const name of names) {
      const e = map.get(name)!;
      if (!matches(name)) continue;
      const childInfo = childInfoFor.has(name) ? criteria : undefined;
      // RFC 5258 §3.5 table: listed when it meets the criteria, or when it has CHILDINFO.
      if (!meets(e) && !childInfo) continue;
      const subscribed = isSubscribed(e);
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
    // RFC 3501 §6.3.9: a subscription is a name; one whose mailbox is gone is still listed.
    // Such a name is flagged \Noselect (it cannot be selected; Dovecot sends no attribute).
    const subscribed = new Map<string, string[]>(all.filter((mb) => mb.subscribed).map((mb) => [mb.name, []]));
    for (const o of await orphanSubscriptions(s.deps.store, s.user().id)) if (!subscribed.has(o)) subscribed.set(o, ["\\Noselect"]);
    const out = new Map<string, string[]>();
    for (const [name, attributes] of subscribed) {
      if (r.test(name)) {
        out.set(name, attributes);
        continue;
      }
      // RFC 3501 §6.3.9: with "%", "foo/bar" subscribed and "foo" not, LSUB "" % returns "foo"
      // flagged \Noselect (here meaning: not subscribed itself, but a descendant is).
      for (const parent of ancestors(name)) if (!subscribed.has(parent) && r.test(parent)) out.set(parent, ["\\Noselect"]);
    }
    for (const [name, attributes] of [...out].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      await s.send(listResponse(s.mode, { name, attributes, delimiter: DELIMITER }, "LSUB"));
    }
  },
};
