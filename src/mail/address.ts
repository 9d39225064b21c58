// RFC 5322 §3.4 address lists, read leniently (§4.4 obsolete syntax: routes, unquoted dots in
// display names, empty list members; plus the usual breakage: missing domain, missing angle
// brackets, stray commas). Encoded words (RFC 2047) are left as written: ENVELOPE carries them
// raw (RFC 3501 §7.4.2) and decoding is a display concern. Input is a latin1 string (one char
// per header byte); nothing here throws.

export interface Mailbox {
  /** Display name (phrase words joined by one space, quoted strings unescaped), or null. */
  name: string | null;
  /** Obsolete source route (RFC 5322 §4.4 obs-route) without the trailing ":", e.g. "@a,@b". */
  route: string | null;
  /** Local part as written (a quoted local part keeps its quotes); null when missing. */
  local: string | null;
  /** Domain as written (a domain literal keeps its brackets); null when missing. */
  domain: string | null;
  /** Text of the comments found in the mailbox (RFC 5322 §3.2.2), in order. */
  comments: string[];
  /** True when written with angle brackets (so "<>" is an entry, if an empty one). */
  angle: boolean;
  /**
   * The comment that stands in for a missing display name ("user@host (Real Name)", RFC 5322
   * §3.4 note): the last comment after the start of a bare addr-spec. Comments before it, or
   * around an angle-addr, name nobody (as Dovecot reads them). Null when there is none.
   */
  nameComment: string | null;
}

export interface Group {
  group: string;
  members: Mailbox[];
}

export type AddressItem = Mailbox | Group;

export function isGroup(a: AddressItem): a is Group {
  return (a as Group).group !== undefined;
}

type Tok =
  | { t: "atom"; v: string }
  | { t: "quoted"; v: string; raw: string }
  | { t: "literal"; v: string }
  | { t: "special"; v: string };

// RFC 5322 §3.2.3 atext, plus "." (obs-phrase and dot-atom are read as one run) and 8-bit bytes.
const ATOM = /[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.\x80-\xff]/;

function tokenize(s: string): { toks: Tok[]; comments: number[]; commentText: string[] } {
  const toks: Tok[] = [];
  const comments: number[] = []; // index in toks where each comment occurred
  const commentText: string[] = [];
  let i = 0;
  while (i < s.length) {
    const ch = s[i];
    if (ch === " " || ch === "\t" || ch === "\r" || ch === "\n") {
      i++;
    } else if (ch === "(") {
      let depth = 0;
      let out = "";
      while (i < s.length) {
        const c = s[i++];
        if (c === "\\" && i < s.length) out += s[i++];
        else if (c === "(") {
          if (depth > 0) out += c;
          depth++;
        } else if (c === ")") {
          depth--;
          if (depth === 0) break;
          out += c;
        } else out += c;
      }
      comments.push(toks.length);
      commentText.push(out);
    } else if (ch === '"') {
      const st = i;
      i++;
      let out = "";
      while (i < s.length && s[i] !== '"') {
        if (s[i] === "\\" && i + 1 < s.length) {
          out += s[i + 1];
          i += 2;
        } else {
          if (s[i] !== "\r" && s[i] !== "\n") out += s[i];
          i++;
        }
      }
      i++;
      toks.push({ t: "quoted", v: out, raw: s.slice(st, Math.min(i, s.length)) });
    } else if (ch === "[") {
      const end = s.indexOf("]", i);
      const stop = end < 0 ? s.length : end + 1;
      toks.push({ t: "literal", v: s.slice(i, stop) });
      i = stop;
    } else if (ATOM.test(ch)) {
      const st = i;
      while (i < s.length && ATOM.test(s[i])) i++;
      toks.push({ t: "atom", v: s.slice(st, i) });
    } else {
      toks.push({ t: "special", v: ch });
      i++;
    }
  }
  return { toks, comments, commentText };
}

// RFC 5322 §3.4.1: a local part that is not a dot-atom must stay quoted.
function quoteLocal(v: string): string {
  return /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\x80-\xff]+(\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\x80-\xff]+)*$/.test(v)
    ? v
    : `"${v.replace(/(["\\])/g, "\\$1")}"`;
}

class AddrParser {
  toks: Tok[];
  i = 0;
  commentsAt: number[];
  commentText: string[];
  constructor(s: string) {
    const t = tokenize(s);
    this.toks = t.toks;
    this.commentsAt = t.comments;
    this.commentText = t.commentText;
  }
  peek(): Tok | undefined {
    return this.toks[this.i];
  }
  isSpecial(v: string): boolean {
    const t = this.toks[this.i];
    return t !== undefined && t.t === "special" && t.v === v;
  }
  commentsBetween(a: number, b: number): string[] {
    const out: string[] = [];
    this.commentsAt.forEach((at, k) => {
      if (at >= a && at <= b) out.push(this.commentText[k]);
    });
    return out;
  }

  /** The last comment after token `st` (exclusive) up to the current position, or null. */
  lastCommentAfter(st: number): string | null {
    const c = this.commentsBetween(st + 1, this.i);
    return c.length > 0 ? c[c.length - 1] : null;
  }

  /** Words up to the next special (phrase, or the local part of a bare addr-spec). */
  words(): Tok[] {
    const out: Tok[] = [];
    for (let t = this.peek(); t && t.t !== "special" && t.t !== "literal"; t = this.peek()) {
      out.push(t);
      this.i++;
    }
    return out;
  }

  /** domain := dot-atom / domain-literal / obs-domain; stops at "," ";" ">" or the end. */
  domain(): string | null {
    let out = "";
    let wantLabel = true;
    for (let t = this.peek(); t; t = this.peek()) {
      if ((t.t === "atom" || t.t === "literal") && wantLabel) {
        out += t.v;
        // An atom may carry its own dots ("a.b"); a trailing one asks for another label.
        wantLabel = t.v.endsWith(".");
      } else if (t.t === "special" && t.v === ".") {
        out += ".";
        wantLabel = true;
      } else break;
      this.i++;
    }
    return out === "" ? null : out;
  }

  /** Inside "<...>": [obs-route] addr-spec ">" */
  angle(): { route: string | null; local: string | null; domain: string | null } {
    this.i++; // "<"
    let route: string | null = null;
    if (this.isSpecial("@")) {
      // RFC 5322 §4.4 obs-route: "@" domain *("," ["@" domain]) ":"
      const st = this.i;
      let r = "";
      while (this.peek() && !this.isSpecial(":") && !this.isSpecial(">")) {
        const t = this.peek()!;
        r += t.v;
        this.i++;
      }
      if (this.isSpecial(":")) {
        this.i++;
        route = r;
      } else this.i = st;
    }
    const localToks: string[] = [];
    for (let t = this.peek(); t && !(t.t === "special" && (t.v === "@" || t.v === ">")); t = this.peek()) {
      localToks.push(t.t === "quoted" ? quoteLocal(t.v) : t.v);
      this.i++;
    }
    let domain: string | null = null;
    if (this.isSpecial("@")) {
      this.i++;
      domain = this.domain();
    }
    while (this.peek() && !this.isSpecial(">")) this.i++;
    if (this.isSpecial(">")) this.i++;
    const local = localToks.join("");
    return { route, local: local === "" ? null : local, domain };
  }

  /** One mailbox (name-addr or addr-spec), or a group when a ":" follows the phrase. */
  item(inGroup: boolean): AddressItem | null {
    const st = this.i;
    const phrase = this.words();
    const t = this.peek();
    const phraseText = phrase.map((w) => w.v).join(" ");
    if (t && t.t === "special" && t.v === ":" && !inGroup) {
      this.i++;
      const members: Mailbox[] = [];
      while (this.peek() && !this.isSpecial(";")) {
        if (this.isSpecial(",")) {
          this.i++;
          continue;
        }
        const before = this.i;
        const m = this.item(true);
        if (m && !isGroup(m)) members.push(m);
        if (this.i === before) this.i++;
      }
      if (this.isSpecial(";")) this.i++;
      return { group: phraseText, members };
    }
    if (t && t.t === "special" && t.v === "<") {
      const a = this.angle();
      const comments = this.commentsBetween(st, this.i);
      return { name: phrase.length > 0 ? phraseText : null, route: a.route, local: a.local, domain: a.domain, comments, angle: true, nameComment: null };
    }
    if (t && t.t === "special" && t.v === "@") {
      // addr-spec: the words form the local part (RFC 5322 §3.4.1).
      this.i++;
      const local = phrase.map((w) => (w.t === "quoted" ? quoteLocal(w.v) : w.v)).join("");
      const domain = this.domain();
      const comments = this.commentsBetween(st, this.i);
      return { name: null, route: null, local: local === "" ? null : local, domain, comments, angle: false, nameComment: this.lastCommentAfter(st) };
    }
    if (phrase.length === 0) return null;
    const comments = this.commentsBetween(st, this.i);
    // No "@" and no "<": one word is a local part without a domain; several words are a display
    // name without an address (what a person typed, not what a machine meant).
    if (phrase.length === 1) {
      const w = phrase[0];
      return { name: null, route: null, local: w.t === "quoted" ? quoteLocal(w.v) : w.v, domain: null, comments, angle: false, nameComment: this.lastCommentAfter(st) };
    }
    return { name: phraseText, route: null, local: null, domain: null, comments, angle: false, nameComment: null };
  }

  list(): AddressItem[] {
    const out: AddressItem[] = [];
    while (this.peek()) {
      // RFC 5322 §4.4: obs-addr-list allows empty members; stray ";" are skipped the same way.
      if (this.isSpecial(",") || this.isSpecial(";")) {
        this.i++;
        continue;
      }
      const before = this.i;
      const it = this.item(false);
      if (it) out.push(it);
      if (this.i === before) this.i++; // a token no rule takes (e.g. a stray ">"): skip it
    }
    return out;
  }
}

/** Parses an address-list / mailbox-list header value (RFC 5322 §3.4). */
export function parseAddressList(value: string): AddressItem[] {
  return new AddrParser(value).list();
}

/** The mailboxes of a list with groups flattened. */
export function flattenMailboxes(items: AddressItem[]): Mailbox[] {
  return items.flatMap((it) => (isGroup(it) ? it.members : [it]));
}

/** "local@domain" of a mailbox, or null when either part is missing (e.g. for From: checks). */
export function mailboxAddress(m: Mailbox): string | null {
  return m.local !== null && m.domain !== null ? `${m.local}@${m.domain}` : null;
}
