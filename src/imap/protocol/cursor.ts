// The lexical layer of the command grammar (RFC 9051 §9, RFC 3501 §9): a cursor over a framed
// command that reads atoms, strings, numbers, lists and sequence sets, throwing ImapSyntaxError
// with the command's tag on the first thing that does not fit.

import { TextDecoder } from 'node:util';
import { ImapSyntaxError } from './errors.ts';
import type { ImapSyntaxCode } from './errors.ts';
import type { CommandFrame, FrameLiteral } from './reader.ts';
import { decodeMailboxName } from '../mutf7.ts';
import type { SeqNumber, SeqRange, SequenceSet } from './sequence-set.ts';

export interface ParseOptions {
  /**
   * UTF-8 mode: IMAP4rev2 or UTF8=ACCEPT is enabled (RFC 9051 §5.1, RFC 6855 §3). Mailbox names
   * are UTF-8 on the wire; otherwise they are modified UTF-7 (RFC 3501 §5.1.3).
   */
  utf8?: boolean;
}

// RFC 9051 §9: atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials /
// resp-specials. ATOM-CHAR is any CHAR except those; 8-bit octets arrive already decoded.
function isAtomChar(c: number): boolean {
  if (c <= 0x20 || c === 0x7f) return false;
  return !(c === 0x28 || c === 0x29 || c === 0x7b || c === 0x25 || c === 0x2a || c === 0x22 || c === 0x5c || c === 0x5d);
}
// ASTRING-CHAR = ATOM-CHAR / resp-specials ("]").
function isAstringChar(c: number): boolean {
  return c === 0x5d || isAtomChar(c);
}
// list-char = ATOM-CHAR / list-wildcards / resp-specials.
function isListChar(c: number): boolean {
  return c === 0x25 || c === 0x2a || isAstringChar(c);
}

const MAX_NUMBER = 0xffffffff; // RFC 9051 §9: number is unsigned 32-bit
const MAX_NZ_NUMBER = 0xffffffff;

/** A LIST pattern no mailbox name matches: names never hold control characters (mutf7.ts). */
export const UNMATCHABLE_PATTERN = '\u0000';

export class Cursor {
  readonly frame: CommandFrame;
  readonly tag: string | null;
  readonly utf8: boolean;
  #line = 0;
  #pos = 0;
  #s: string;
  #decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(frame: CommandFrame, opts: ParseOptions = {}) {
    this.frame = frame;
    this.tag = frame.tag;
    this.utf8 = opts.utf8 ?? false;
    this.#s = frame.lines[0] ?? '';
  }

  fail(message: string, code: ImapSyntaxCode = 'syntax'): never {
    throw new ImapSyntaxError(code, message, { tag: this.tag });
  }

  /** Current character, or '' at the end of a line. */
  get ch(): string {
    return this.#pos < this.#s.length ? this.#s[this.#pos] : '';
  }

  /** Text left on the current line (for error messages and look-ahead). */
  get rest(): string {
    return this.#s.slice(this.#pos);
  }

  atEnd(): boolean {
    return this.#pos >= this.#s.length && this.#line === this.frame.lines.length - 1;
  }

  end(): void {
    if (!this.atEnd()) this.fail(`Unexpected "${this.rest.slice(0, 20)}" at end of command`);
  }

  sp(): void {
    if (this.ch !== ' ') this.fail(this.ch === '' ? 'Missing argument' : `Expected space before "${this.rest.slice(0, 20)}"`);
    this.#pos++;
  }

  trySp(): boolean {
    if (this.ch !== ' ') return false;
    this.#pos++;
    return true;
  }

  expect(c: string): void {
    if (this.ch !== c) this.fail(`Expected "${c}"${this.ch ? ` at "${this.rest.slice(0, 20)}"` : ''}`);
    this.#pos++;
  }

  tryChar(c: string): boolean {
    if (this.ch !== c) return false;
    this.#pos++;
    return true;
  }

  /** Case-insensitively consume `word` when it is followed by a delimiter. */
  tryWord(word: string): boolean {
    const end = this.#pos + word.length;
    if (this.#s.slice(this.#pos, end).toUpperCase() !== word) return false;
    const next = end < this.#s.length ? this.#s.charCodeAt(end) : -1;
    if (next !== -1 && next !== 0x20 && next !== 0x29 /* ) */ && next !== 0x28 /* ( */ && next !== 0x5b /* [ */) return false;
    this.#pos = end;
    return true;
  }

  /** Consume a match of `re` (anchored with ^) at the cursor, or return null. */
  match(re: RegExp): RegExpExecArray | null {
    const m = re.exec(this.rest);
    if (m) this.#pos += m[0].length;
    return m;
  }

  /** RFC 9051 §9: atom = 1*ATOM-CHAR. */
  atom(what = 'atom'): string {
    const start = this.#pos;
    while (this.#pos < this.#s.length && isAtomChar(this.#s.charCodeAt(this.#pos))) this.#pos++;
    if (this.#pos === start) this.fail(`Expected ${what}${this.ch ? ` at "${this.rest.slice(0, 20)}"` : ''}`);
    return this.#s.slice(start, this.#pos);
  }

  /** A keyword made of letters, digits, '.', '-' (command names, fetch attributes), upper-cased. */
  keyword(what = 'keyword'): string {
    const m = /^[A-Za-z0-9.\-]+/.exec(this.rest);
    if (!m) this.fail(`Expected ${what}${this.ch ? ` at "${this.rest.slice(0, 20)}"` : ''}`);
    this.#pos += m[0].length;
    return m[0].toUpperCase();
  }

  /** RFC 9051 §9: number = 1*DIGIT (32-bit). */
  number(what = 'number', max = MAX_NUMBER): number {
    const m = /^[0-9]+/.exec(this.rest);
    if (!m) this.fail(`Expected ${what}`);
    this.#pos += m[0].length;
    const n = Number(m[0]);
    if (n > max) this.fail(`${what} out of range`);
    return n;
  }

  nzNumber(what = 'non-zero number'): number {
    const n = this.number(what, MAX_NZ_NUMBER);
    if (n === 0) this.fail(`${what} must not be 0`);
    return n;
  }

  /** RFC 9051 §9 number64: sizes and partial offsets (JS numbers are exact up to 2^53). */
  number64(what = 'number'): number {
    return this.number(what, Number.MAX_SAFE_INTEGER);
  }

  /**
   * RFC 7162 §7: mod-sequence-value = 1*DIGIT, at most 2^63-1. A bigint, since the RFC's own
   * examples (and other servers' MODSEQs a client may replay) go past 2^53.
   */
  modseq(what = 'mod-sequence', allowZero = true): bigint {
    const m = /^[0-9]+/.exec(this.rest);
    if (!m) this.fail(`Expected ${what}`);
    this.#pos += m[0].length;
    const n = BigInt(m[0]);
    if (n > 0x7fffffffffffffffn) this.fail(`${what} out of range`);
    if (!allowZero && n === 0n) this.fail(`${what} must not be 0`);
    return n;
  }

  /** RFC 9051 §9: quoted = DQUOTE *QUOTED-CHAR DQUOTE; only \" and \\ may be escaped. */
  quoted(): string {
    this.expect('"');
    let out = '';
    let from = this.#pos;
    for (;;) {
      if (this.#pos >= this.#s.length) this.fail('Unterminated quoted string');
      const c = this.#s.charCodeAt(this.#pos);
      if (c === 0x22) break;
      if (c === 0x5c) {
        const n = this.#s.charCodeAt(this.#pos + 1);
        if (n !== 0x22 && n !== 0x5c) this.fail('Invalid escape in quoted string (only \\" and \\\\)');
        out += this.#s.slice(from, this.#pos);
        from = this.#pos + 1;
        this.#pos += 2;
        continue;
      }
      // RFC 9051 §9: QUOTED-CHAR is a TEXT-CHAR, which excludes CR and LF (and CHAR excludes NUL).
      if (c === 0 || c === 0x0d || c === 0x0a) this.fail('NUL, CR or LF in quoted string');
      this.#pos++;
    }
    out += this.#s.slice(from, this.#pos);
    this.#pos++;
    return out;
  }

  isLiteral(): boolean {
    return this.ch === '{' || (this.ch === '~' && this.#s[this.#pos + 1] === '{');
  }

  /** A literal or literal8: its header must end the line; the cursor moves past the data. */
  literal(allowBinary = false): FrameLiteral {
    const m = /^(~?)\{([0-9]+)(\+?)\}$/.exec(this.rest);
    if (!m) this.fail('Malformed literal', 'bad-literal');
    if (m[1] && !allowBinary) this.fail('literal8 is only allowed for message data (RFC 3516 §4.2)', 'bad-literal');
    const lit = this.frame.literals[this.#line];
    if (!lit) this.fail('Missing literal data', 'bad-literal');
    this.#line++;
    this.#s = this.frame.lines[this.#line];
    this.#pos = 0;
    return lit;
  }

  /** Literal data as text (UTF-8; the charset of a SEARCH may say otherwise). */
  literalText(decoder?: TextDecoder): string {
    const lit = this.literal();
    if (lit.kind !== 'inline') this.fail('Streamed literal where a string was expected', 'bad-literal');
    // RFC 9051 §4.3: a literal that is not literal8 cannot contain NUL.
    if (lit.bytes.includes(0)) this.fail('NUL octet in literal', 'bad-literal');
    try {
      return (decoder ?? this.#decoder).decode(lit.bytes);
    } catch {
      this.fail('Literal is not valid UTF-8', 'bad-utf8');
    }
  }

  /** RFC 9051 §9: string = quoted / literal. */
  string(decoder?: TextDecoder): string {
    if (this.ch === '"') return this.quoted();
    if (this.isLiteral()) return this.literalText(decoder);
    return this.fail(this.ch === '' ? 'Missing string' : `Expected string at "${this.rest.slice(0, 20)}"`);
  }

  /** RFC 9051 §9: astring = 1*ASTRING-CHAR / string. */
  astring(what = 'string', decoder?: TextDecoder): string {
    if (this.ch === '"' || this.isLiteral()) return this.string(decoder);
    const start = this.#pos;
    while (this.#pos < this.#s.length && isAstringChar(this.#s.charCodeAt(this.#pos))) this.#pos++;
    if (this.#pos === start) this.fail(this.ch === '' ? `Missing ${what}` : `Expected ${what} at "${this.rest.slice(0, 20)}"`);
    return this.#s.slice(start, this.#pos);
  }

  /** RFC 9051 §9: nstring = string / nil. */
  nstring(): string | null {
    if (this.tryWord('NIL')) return null;
    return this.string();
  }

  /** A mailbox name, decoded to Unicode (see mailbox-name rules in mutf7.ts). */
  mailbox(): string {
    return this.#decodeMailbox(this.astring('mailbox name'));
  }

  /**
   * RFC 9051 §9: list-mailbox = 1*list-char / string (a LIST pattern, wildcards kept). A pattern
   * that is not valid modified UTF-7 names no mailbox: it comes back as UNMATCHABLE_PATTERN, so
   * LIST/LSUB answer OK with nothing (as Dovecot does), neither NO nor BAD.
   */
  listMailbox(): string {
    const raw = this.ch === '"' || this.isLiteral() ? this.string() : this.#listChars();
    const r = decodeMailboxName(raw, { utf8: this.utf8, inbox: false });
    return r.ok ? r.name : UNMATCHABLE_PATTERN;
  }

  #listChars(): string {
    const start = this.#pos;
    while (this.#pos < this.#s.length && isListChar(this.#s.charCodeAt(this.#pos))) this.#pos++;
    if (this.#pos === start) this.fail('Expected mailbox pattern');
    return this.#s.slice(start, this.#pos);
  }

  /**
   * The first mailbox name of this command that is not valid modified UTF-7. Parsing goes on with
   * the name as sent, so a command that is otherwise well-formed is answered NO, not BAD
   * (parseCommand); a real syntax error later in the line still wins.
   */
  mailboxProblem: string | null = null;

  #decodeMailbox(raw: string): string {
    const r = decodeMailboxName(raw, { utf8: this.utf8 });
    if (!r.ok) {
      this.mailboxProblem ??= r.error;
      return raw;
    }
    return r.name;
  }

  /** "(" [item *(SP item)] ")" — empty lists allowed unless nonEmpty. */
  list<T>(item: () => T, nonEmpty = false): T[] {
    this.expect('(');
    const out: T[] = [];
    if (this.tryChar(')')) {
      if (nonEmpty) this.fail('Empty list');
      return out;
    }
    for (;;) {
      out.push(item());
      if (this.tryChar(')')) return out;
      this.sp();
    }
  }

  /**
   * RFC 9051 §9: flag = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" /
   * flag-keyword / flag-extension. System flags are returned with canonical case.
   */
  flag(): string {
    if (this.tryChar('\\')) {
      const name = this.atom('flag name');
      const canonical = canonicalSystemFlag(name);
      // RFC 9051 §9: flag-extension is "future expansion"; servers "MUST NOT generate
      // flag-extension flags", so one we do not know is refused rather than stored and later
      // sent back in FETCH FLAGS (Dovecot answers BAD too).
      if (!SYSTEM_FLAGS.includes(canonical)) this.fail(`Unknown system flag \\${name}`);
      return '\\' + canonical;
    }
    return this.atom('flag keyword');
  }

  /** RFC 9051 §9: sequence-set, or "$" (RFC 5182 §2: the saved search result). */
  sequenceSet(): SequenceSet {
    if (this.tryChar('$')) return { kind: 'saved' };
    const ranges: SeqRange[] = [];
    for (;;) {
      const start = this.#seqNumber();
      const end = this.tryChar(':') ? this.#seqNumber() : start;
      ranges.push({ start, end });
      if (!this.tryChar(',')) break;
    }
    return { kind: 'set', ranges };
  }

  #seqNumber(): SeqNumber {
    if (this.tryChar('*')) return '*';
    if (!/[0-9]/.test(this.ch)) this.fail(`Expected sequence number${this.ch ? ` at "${this.rest.slice(0, 20)}"` : ''}`);
    return this.nzNumber('sequence number');
  }
}

const SYSTEM_FLAGS = ['Answered', 'Flagged', 'Deleted', 'Seen', 'Draft', 'Recent'];

export function canonicalSystemFlag(name: string): string {
  const u = name.toLowerCase();
  return SYSTEM_FLAGS.find((f) => f.toLowerCase() === u) ?? name;
}
