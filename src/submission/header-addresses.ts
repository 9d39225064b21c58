// A strict reader of RFC 5322 §3.4 address fields (From, Sender, Reply-To …) for the sender
// check of mail our users submit.
//
// src/mail/address.ts reads addresses leniently, as IMAP ENVELOPE must show whatever arrived.
// A security decision needs the opposite: anything a mail client could read in more than one
// way is refused, not repaired. So: no obsolete routes, no missing domains, no unbalanced
// quotes, comments or brackets, no stray words or commas. RFC 6532 UTF-8 is accepted
// (SMTPUTF8 submissions); RFC 2047 encoded words in display names are decoded so the policy
// sees what a reader will see. (To consolidate with src/mail/address.ts later: same tokens,
// a strict mode.)
import type Libmime from "libmime";
import { lazyRequire } from "../lazy.ts";

// Loaded on first use, not at start (src/lazy.ts: +15 MiB).
const libmime = lazyRequire<typeof Libmime>("libmime");

export interface HeaderMailbox {
  /** The display name as a reader sees it: quotes removed, encoded words decoded. */
  displayName: string;
  /** Local part in canonical form: unquoted when it is a dot-atom, else quoted. */
  local: string;
  /** Domain as written (a domain literal keeps its brackets). */
  domain: string;
  /** The text of comments in and around the mailbox, decoded. */
  comments: string[];
}

export interface HeaderGroup {
  group: string;
  members: HeaderMailbox[];
}

export type HeaderAddress = HeaderMailbox | HeaderGroup;

export type ParseResult = { ok: true; items: HeaderAddress[] } | { ok: false; error: string };

export function isHeaderGroup(a: HeaderAddress): a is HeaderGroup {
  return (a as HeaderGroup).members !== undefined;
}

type Tok =
  | { t: "atom"; v: string }
  | { t: "quoted"; v: string }
  | { t: "literal"; v: string }
  | { t: "special"; v: string }
  | { t: "comment"; v: string };

class Refused extends Error {}

// RFC 5322 §3.2.3 atext, "." (dot-atoms and obs-phrase are read as one run, then checked),
// and any non-ASCII character (RFC 6532 §3.2 extends atext with UTF8-non-ascii).
const ATEXT = /[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.\u0080-\u{10ffff}]/u;
const DOT_ATOM = /^[^.]+(\.[^.]+)*$/;

function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const chars = [...s];
  while (i < chars.length) {
    const c = chars[i];
    if (c === " " || c === "\t" || c === "\r" || c === "\n") {
      i++;
    } else if (c === "(") {
      let depth = 0;
      let text = "";
      for (;;) {
        if (i >= chars.length) throw new Refused("unterminated comment");
        const ch = chars[i++];
        if (ch === "\\") {
          if (i >= chars.length) throw new Refused("unterminated comment");
          text += chars[i++];
        } else if (ch === "(") {
          if (depth > 0) text += ch;
          depth++;
        } else if (ch === ")") {
          depth--;
          if (depth === 0) break;
          text += ch;
        } else text += ch;
      }
      out.push({ t: "comment", v: text });
    } else if (c === '"') {
      i++;
      let text = "";
      for (;;) {
        if (i >= chars.length) throw new Refused("unterminated quoted string");
        const ch = chars[i++];
        if (ch === '"') break;
        if (ch === "\\") {
          if (i >= chars.length) throw new Refused("unterminated quoted string");
          text += chars[i++];
        } else if (ch !== "\r" && ch !== "\n") text += ch;
      }
      out.push({ t: "quoted", v: text });
    } else if (c === "[") {
      let j = i + 1;
      while (j < chars.length && chars[j] !== "]" && chars[j] !== "[" && chars[j] !== "\\") j++;
      if (chars[j] !== "]") throw new Refused("bad domain literal");
      out.push({ t: "literal", v: chars.slice(i, j + 1).join("") });
      i = j + 1;
    } else if (ATEXT.test(c)) {
      let j = i;
      while (j < chars.length && ATEXT.test(chars[j])) j++;
      out.push({ t: "atom", v: chars.slice(i, j).join("") });
      i = j;
    } else if ("<>:;@,".includes(c)) {
      out.push({ t: "special", v: c });
      i++;
    } else {
      throw new Refused(`unexpected character ${JSON.stringify(c)}`);
    }
  }
  return out;
}

function decodeWords(s: string): string {
  try {
    return libmime().decodeWords(s);
  } catch {
    return s;
  }
}

/** RFC 5322 §3.4.1: a local part that is a dot-atom is written bare, otherwise quoted. */
function canonicalLocal(v: string): string {
  return DOT_ATOM.test(v) && [...v].every((c) => ATEXT.test(c)) ? v : `"${v.replace(/(["\\])/g, "\\$1")}"`;
}

class Parser {
  toks: Tok[];
  i = 0;
  comments: string[] = [];
  constructor(toks: Tok[]) {
    this.toks = toks;
  }
  /** The next token that is not a comment; comments are collected for the current mailbox. */
  peek(): Tok | undefined {
    while (this.toks[this.i]?.t === "comment") this.comments.push(decodeWords(this.toks[this.i++].v));
    return this.toks[this.i];
  }
  next(): Tok | undefined {
    const t = this.peek();
    this.i++;
    return t;
  }
  isSpecial(v: string): boolean {
    const t = this.peek();
    return t?.t === "special" && t.v === v;
  }
  expect(v: string): void {
    if (!this.isSpecial(v)) throw new Refused(`expected "${v}"`);
    this.i++;
  }

  words(): Tok[] {
    const out: Tok[] = [];
    for (let t = this.peek(); t && (t.t === "atom" || t.t === "quoted"); t = this.peek()) {
      out.push(t);
      this.i++;
    }
    return out;
  }

  domain(): string {
    const t = this.next();
    if (t?.t === "literal") return t.v;
    if (t?.t === "atom" && DOT_ATOM.test(t.v)) return t.v;
    throw new Refused("missing or bad domain");
  }

  addrSpec(localTok: Tok | undefined): { local: string; domain: string } {
    if (!localTok || (localTok.t !== "atom" && localTok.t !== "quoted")) throw new Refused("missing local part");
    if (localTok.t === "atom" && !DOT_ATOM.test(localTok.v)) throw new Refused("bad local part");
    this.expect("@");
    return { local: canonicalLocal(localTok.v), domain: this.domain() };
  }

  mailbox(phrase: Tok[]): HeaderMailbox {
    const displayName = decodeWords(phrase.map((w) => w.v).join(" "));
    if (this.isSpecial("<")) {
      this.i++;
      // RFC 5322 §4.4 obs-route ("<@a,@b:x@y>") is refused: it names more than one host.
      if (this.isSpecial("@")) throw new Refused("source routes are not accepted");
      const { local, domain } = this.addrSpec(this.next());
      this.expect(">");
      this.peek(); // collect trailing comments
      return { displayName, local, domain, comments: this.comments };
    }
    if (phrase.length === 1 && this.isSpecial("@")) {
      const { local, domain } = this.addrSpec(phrase[0]);
      this.peek();
      return { displayName: "", local, domain, comments: this.comments };
    }
    throw new Refused(phrase.length === 0 ? "missing address" : "words without an address");
  }

  /** address = mailbox / group (RFC 5322 §3.4; RFC 6854 allows groups in From). */
  address(): HeaderAddress {
    this.comments = [];
    const phrase = this.words();
    if (this.isSpecial(":")) {
      if (phrase.length === 0) throw new Refused("group without a name");
      this.i++;
      const group = decodeWords(phrase.map((w) => w.v).join(" "));
      const members: HeaderMailbox[] = [];
      while (!this.isSpecial(";")) {
        if (this.peek() === undefined) throw new Refused("unterminated group");
        if (members.length > 0) this.expect(",");
        this.comments = [];
        members.push(this.mailbox(this.words()));
      }
      this.i++;
      this.peek();
      return { group, members };
    }
    return this.mailbox(phrase);
  }

  list(): HeaderAddress[] {
    const items: HeaderAddress[] = [this.address()];
    while (this.peek() !== undefined) {
      this.expect(",");
      items.push(this.address());
    }
    return items;
  }
}

/** Parses the unfolded value of an address field. Anything ambiguous is an error. */
export function parseAddressField(value: string): ParseResult {
  try {
    const toks = tokenize(value);
    if (toks.every((t) => t.t === "comment")) return { ok: false, error: "empty address field" };
    return { ok: true, items: new Parser(toks).list() };
  } catch (err) {
    if (err instanceof Refused) return { ok: false, error: err.message };
    throw err;
  }
}

/** All mailboxes, group members included. */
export function mailboxesOf(items: readonly HeaderAddress[]): HeaderMailbox[] {
  return items.flatMap((a) => (isHeaderGroup(a) ? a.members : [a]));
}
