// Incremental IMAP command framing (RFC 3501 §2.2, RFC 9051 §2.2, §4.3).
//
// Bytes go in with push() as they arrive; next() hands back one event at a time: a complete
// command frame (text lines with the literals between them), "need more", a literal header the
// server must decide on (accept inline, stream, or refuse), streamed literal chunks, a raw
// continuation line (IDLE's DONE, an AUTHENTICATE response), or an error to answer with BAD.
//
// The reader never grows without bound: a text line is capped at maxLineLength (the excess is
// discarded until CRLF), an inline literal is only buffered after the server said so, and a
// streamed literal is handed out in the chunks it arrived in. The caller keeps back-pressure by
// not reading the socket again until next() says 'need-more'.
//
// Grammar is not checked here (see command-parser.ts); the reader only needs to know where a
// command ends, which is at a line that does not end in a literal header outside a quoted string.

import { TextDecoder } from 'node:util';
import { ImapSyntaxError } from './errors.ts';

export type NonSyncLiterals = 'literal+' | 'literal-' | 'none';

export interface ReaderOptions {
  /** Longest text line (without CRLF). RFC 7162 §4 asks servers to accept at least 8192 octets. */
  maxLineLength?: number;
  /**
   * What CAPABILITY advertises. RFC 7888 §4: with LITERAL- a non-synchronizing literal over
   * 4096 octets is refused with BAD [TOOBIG]; IMAP4rev2 (RFC 9051 §4.3) includes LITERAL-.
   */
  nonSyncLiterals?: NonSyncLiterals;
}

/** RFC 7888 §4: the largest non-synchronizing literal allowed under LITERAL-. */
export const LITERAL_MINUS_MAX = 4096;
export const DEFAULT_MAX_LINE_LENGTH = 65536;

export type FrameLiteral =
  | { kind: 'inline'; bytes: Buffer; binary: boolean }
  /** The bytes went out as literal-data events with this id; the frame only keeps the reference. */
  | { kind: 'stream'; id: number; size: number; binary: boolean };

/**
 * One complete command. lines[i] is the text before literal i (its header `{n}` included);
 * lines.length === literals.length + 1. Lines carry no CRLF.
 */
export interface CommandFrame {
  tag: string | null;
  lines: string[];
  literals: FrameLiteral[];
  /** Octets this command took on the wire (lines with CRLF plus literals). */
  size: number;
}

/** A literal header was read; the server must call acceptLiteral() or rejectLiteral() next. */
export interface LiteralAnnouncement {
  kind: 'literal';
  tag: string | null;
  /** Upper-case command name, with "UID " in front for UID commands; null if unreadable. */
  command: string | null;
  size: number;
  /** Synchronizing `{n}`: send "+ ..." after acceptLiteral(), or a tagged NO/BAD after reject. */
  sync: boolean;
  /** literal8 `~{n}` (RFC 3516 §4.2). */
  binary: boolean;
  /** Index of this literal within the command (0 for the first). */
  index: number;
  /** Octets of this command so far (lines and accepted literals), to enforce a command limit. */
  commandBytes: number;
  /** The command's text lines so far (the last one ends with this literal's header). */
  lines: readonly string[];
}

export type ReaderEvent =
  | { kind: 'need-more' }
  | LiteralAnnouncement
  | { kind: 'literal-data'; id: number; bytes: Buffer }
  | { kind: 'literal-end'; id: number }
  | { kind: 'command'; frame: CommandFrame }
  | { kind: 'line'; text: string }
  | { kind: 'error'; error: ImapSyntaxError };

type State =
  | { s: 'line' }
  | { s: 'decide'; ann: LiteralAnnouncement }
  | { s: 'inline'; remaining: number; parts: Buffer[]; binary: boolean; size: number }
  | { s: 'stream'; remaining: number; id: number; binary: boolean; size: number }
  | { s: 'discard-literal'; remaining: number }
  | { s: 'discard-line'; tail: Buffer; literals: boolean };

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = Buffer.alloc(0);
const TAIL_KEEP = 24; // enough for "~{4294967295+}"

export class CommandReader {
  readonly maxLineLength: number;
  nonSyncLiterals: NonSyncLiterals;
  #buf: Buffer = EMPTY;
  #pos = 0;
  #scanFrom = 0;
  #state: State = { s: 'line' };
  #lines: string[] = [];
  #literals: FrameLiteral[] = [];
  #cmdBytes = 0;
  #badUtf8 = false;
  #expectLine = false;
  #nextStreamId = 1;
  #decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(opts: ReaderOptions = {}) {
    this.maxLineLength = opts.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH;
    this.nonSyncLiterals = opts.nonSyncLiterals ?? 'literal+';
  }

  /** Octets received but not yet consumed. */
  get buffered(): number {
    return this.#buf.length - this.#pos;
  }

  /** True while a command is partly read (for IDLE/autologout bookkeeping and tests). */
  get midCommand(): boolean {
    return this.#state.s !== 'line' || this.#lines.length > 0 || this.buffered > 0;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    const c = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    if (this.#pos >= this.#buf.length) {
      this.#buf = c;
      this.#pos = 0;
      this.#scanFrom = 0;
    } else {
      const rest = this.#buf.subarray(this.#pos);
      this.#scanFrom -= this.#pos;
      this.#buf = Buffer.concat([rest, c]);
      this.#pos = 0;
    }
  }

  /**
   * Drop everything buffered and not yet read. RFC 3207-style plaintext injection: after
   * STARTTLS (RFC 9051 §6.2.1) or COMPRESS (RFC 4978 §3) the bytes that followed the command in
   * the clear must not be interpreted in the new layer. Returns how many octets were dropped.
   */
  discardBuffered(): number {
    const n = this.buffered;
    this.#buf = EMPTY;
    this.#pos = 0;
    this.#scanFrom = 0;
    return n;
  }

  /**
   * The next complete line is a continuation answer, not a command: IDLE's "DONE" (RFC 2177)
   * or a SASL response to "+ ..." (RFC 9051 §6.2.2). It comes back as a 'line' event.
   */
  expectLine(): void {
    this.#expectLine = true;
  }

  /** Take the announced literal: buffer it into the frame ('inline') or hand it out ('stream'). */
  acceptLiteral(how: 'inline' | 'stream'): void {
    const st = this.#state;
    if (st.s !== 'decide') throw new Error('acceptLiteral() without a pending literal');
    const { size, binary } = st.ann;
    this.#state =
      how === 'inline'
        ? { s: 'inline', remaining: size, parts: [], binary, size }
        : { s: 'stream', remaining: size, id: this.#nextStreamId++, binary, size };
  }

  /**
   * Refuse the announced literal. The caller answers with a tagged NO or BAD. For a
   * synchronizing literal the client sends nothing more for this command (RFC 9051 §7.5); a
   * non-synchronizing one is already on its way and is read and thrown away (RFC 7888 §4),
   * together with the rest of the command.
   */
  rejectLiteral(): void {
    const st = this.#state;
    if (st.s !== 'decide') throw new Error('rejectLiteral() without a pending literal');
    this.#resetCommand();
    this.#state = st.ann.sync ? { s: 'line' } : { s: 'discard-literal', remaining: st.ann.size };
  }

  next(): ReaderEvent {
    for (;;) {
      const st = this.#state;
      const avail = this.#buf.length - this.#pos;
      switch (st.s) {
        case 'decide':
          throw new Error('next() called before acceptLiteral()/rejectLiteral()');
        case 'inline': {
          const n = Math.min(avail, st.remaining);
          if (n > 0) {
            st.parts.push(this.#buf.subarray(this.#pos, this.#pos + n));
            this.#pos += n;
            st.remaining -= n;
          }
          if (st.remaining > 0) return { kind: 'need-more' };
          const bytes = st.parts.length === 1 ? st.parts[0] : Buffer.concat(st.parts);
          this.#literals.push({ kind: 'inline', bytes, binary: st.binary });
          this.#cmdBytes += st.size;
          this.#toLine();
          continue;
        }
        case 'stream': {
          if (st.remaining === 0) {
            this.#literals.push({ kind: 'stream', id: st.id, size: st.size, binary: st.binary });
            this.#cmdBytes += st.size;
            this.#toLine();
            return { kind: 'literal-end', id: st.id };
          }
          const n = Math.min(avail, st.remaining);
          if (n === 0) return { kind: 'need-more' };
          const bytes = this.#buf.subarray(this.#pos, this.#pos + n);
          this.#pos += n;
          st.remaining -= n;
          return { kind: 'literal-data', id: st.id, bytes };
        }
        case 'discard-literal': {
          const n = Math.min(avail, st.remaining);
          this.#pos += n;
          st.remaining -= n;
          if (st.remaining > 0) return { kind: 'need-more' };
          this.#state = { s: 'discard-line', tail: EMPTY, literals: true };
          this.#scanFrom = this.#pos;
          continue;
        }
        case 'discard-line': {
          const i = this.#buf.indexOf(LF, this.#pos);
          const end = i < 0 ? this.#buf.length : i;
          st.tail = keepTail(st.tail, this.#buf.subarray(this.#pos, end));
          if (i < 0) {
            this.#pos = this.#buf.length;
            return { kind: 'need-more' };
          }
          this.#pos = i + 1;
          this.#afterDiscardedLine(st.tail, st.literals);
          continue;
        }
        case 'line': {
          const ev = this.#readLine();
          if (ev) return ev;
          continue;
        }
      }
    }
  }

  #toLine(): void {
    this.#state = { s: 'line' };
    this.#scanFrom = this.#pos;
  }

  #resetCommand(): void {
    this.#lines = [];
    this.#literals = [];
    this.#cmdBytes = 0;
    this.#badUtf8 = false;
  }

  /** A discarded line ended: if it announced a literal the client will send anyway, skip that. */
  #afterDiscardedLine(tail: Buffer, literals: boolean): void {
    const end = tail.length > 0 && tail[tail.length - 1] === CR ? tail.length - 1 : tail.length;
    const h = literals ? literalHeaderAtEnd(tail, end) : null;
    if (h && !h.sync && h.size !== null) {
      this.#state = { s: 'discard-literal', remaining: h.size };
    } else {
      // A synchronizing literal will not come: we never send the continuation.
      this.#toLine();
    }
  }

  #readLine(): ReaderEvent | null {
    const start = this.#pos;
    const i = this.#buf.indexOf(LF, Math.max(this.#scanFrom, start));
    if (i < 0) {
      this.#scanFrom = this.#buf.length;
      if (this.#buf.length - start > this.maxLineLength + 1) {
        const ev = this.#overflow(this.#buf.subarray(start), false);
        this.#pos = this.#buf.length;
        return ev;
      }
      return { kind: 'need-more' };
    }
    let end = i;
    if (end > start && this.#buf[end - 1] === CR) end--;
    const bytes = this.#buf.subarray(start, end);
    this.#pos = i + 1;
    this.#scanFrom = this.#pos;
    if (bytes.length > this.maxLineLength) return this.#overflow(bytes, true);
    if (this.#expectLine) {
      this.#expectLine = false;
      return { kind: 'line', text: bytes.toString('utf8') };
    }
    return this.#commandLine(bytes, i + 1 - start);
  }

  /** A line went over the limit: report it and throw the rest of it (and its command) away. */
  #overflow(partial: Buffer, complete: boolean): ReaderEvent {
    const continuation = this.#expectLine;
    this.#expectLine = false;
    let tag: string | null = null;
    if (!continuation) {
      const first = this.#lines.length > 0 ? this.#lines[0] : partial.subarray(0, 128).toString('latin1');
      if (first.includes(' ')) tag = tagOf(first);
    }
    this.#resetCommand();
    const tail = keepTail(EMPTY, partial);
    // Literal headers at the end of a continuation line (IDLE, SASL) mean nothing.
    if (complete) this.#afterDiscardedLine(tail, !continuation);
    else this.#state = { s: 'discard-line', tail, literals: !continuation };
    const error = new ImapSyntaxError('line-too-long', `Line too long (limit ${this.maxLineLength} octets)`, {
      tag,
      responseCode: 'TOOBIG',
    });
    return { kind: 'error', error };
  }

  #commandLine(bytes: Buffer, wireLen: number): ReaderEvent | null {
    const text = this.#decode(bytes);
    this.#lines.push(text);
    this.#cmdBytes += wireLen;
    const h = literalHeaderAtEnd(bytes, bytes.length, true);
    const tag = tagOf(this.#lines[0]);
    if (!h) {
      const lines = this.#lines;
      const literals = this.#literals;
      const bad = this.#badUtf8;
      const size = this.#cmdBytes;
      this.#resetCommand();
      if (lines.length === 1 && lines[0] === '') {
        return { kind: 'error', error: new ImapSyntaxError('syntax', 'Empty command line') };
      }
      if (bad) {
        const msg = 'Command contains octets that are not UTF-8 (RFC 6855 §3)';
        return { kind: 'error', error: new ImapSyntaxError('bad-utf8', msg, { tag }) };
      }
      return { kind: 'command', frame: { tag, lines, literals, size } };
    }
    if (h.size === null) {
      // RFC 9051 §4.3: literal lengths are 32-bit numbers; we cannot find the command's end.
      this.#resetCommand();
      const msg = 'Literal length out of range';
      return { kind: 'error', error: new ImapSyntaxError('bad-literal', msg, { tag, fatal: true }) };
    }
    if (!h.sync && this.nonSyncLiterals === 'none') {
      this.#resetCommand();
      this.#state = { s: 'discard-literal', remaining: h.size };
      const msg = 'Non-synchronizing literals are not supported';
      return { kind: 'error', error: new ImapSyntaxError('bad-literal', msg, { tag }) };
    }
    if (!h.sync && this.nonSyncLiterals === 'literal-' && h.size > LITERAL_MINUS_MAX) {
      // RFC 7888 §4: LITERAL- allows non-synchronizing literals of at most 4096 octets.
      this.#resetCommand();
      this.#state = { s: 'discard-literal', remaining: h.size };
      const msg = `Non-synchronizing literal over ${LITERAL_MINUS_MAX} octets (RFC 7888 §4)`;
      return { kind: 'error', error: new ImapSyntaxError('too-big', msg, { tag }) };
    }
    const ann: LiteralAnnouncement = {
      kind: 'literal',
      tag,
      command: commandOf(this.#lines[0]),
      size: h.size,
      sync: h.sync,
      binary: h.binary,
      index: this.#literals.length,
      commandBytes: this.#cmdBytes,
      lines: [...this.#lines],
    };
    this.#state = { s: 'decide', ann };
    return ann;
  }

  #decode(bytes: Buffer): string {
    let ascii = true;
    for (let k = 0; k < bytes.length; k++) {
      if (bytes[k] >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return bytes.toString('latin1');
    try {
      return this.#decoder.decode(bytes);
    } catch {
      this.#badUtf8 = true;
      return bytes.toString('latin1');
    }
  }
}

function keepTail(tail: Buffer, more: Buffer): Buffer {
  if (more.length >= TAIL_KEEP) return Buffer.from(more.subarray(more.length - TAIL_KEEP));
  const joined = Buffer.concat([tail, more]);
  return joined.length > TAIL_KEEP ? joined.subarray(joined.length - TAIL_KEEP) : joined;
}

interface LiteralHeader {
  size: number | null; // null: digits out of the 32-bit range
  sync: boolean;
  binary: boolean;
}

/**
 * RFC 9051 §9: literal = "{" number64 ["+"] "}" CRLF; literal8 = "~{" number64 ["+"] "}" CRLF
 * (RFC 3516 §4.2, RFC 7888 §8). With checkQuotes the whole line is scanned so that "{5}" at the
 * end of an unterminated quoted string is not taken for a literal.
 */
export function literalHeaderAtEnd(b: Uint8Array, end: number, checkQuotes = false): LiteralHeader | null {
  let k = end - 1;
  if (k < 0 || b[k] !== 0x7d /* } */) return null;
  k--;
  let sync = true;
  if (k >= 0 && b[k] === 0x2b /* + */) {
    sync = false;
    k--;
  }
  const digitsEnd = k + 1;
  while (k >= 0 && b[k] >= 0x30 && b[k] <= 0x39) k--;
  const digitsStart = k + 1;
  if (digitsStart === digitsEnd || k < 0 || b[k] !== 0x7b /* { */) return null;
  const binary = k > 0 && b[k - 1] === 0x7e; /* ~ */
  if (checkQuotes && endsInsideQuote(b, k)) return null;
  let size: number | null = 0;
  for (let d = digitsStart; d < digitsEnd; d++) {
    size = size * 10 + (b[d] - 0x30);
    if (size > 0xffffffff) {
      size = null;
      break;
    }
  }
  return { size, sync, binary };
}

function endsInsideQuote(b: Uint8Array, end: number): boolean {
  let inQuote = false;
  for (let k = 0; k < end; k++) {
    const c = b[k];
    if (inQuote && c === 0x5c /* \ */) k++;
    else if (c === 0x22 /* " */) inQuote = !inQuote;
  }
  return inQuote;
}

// RFC 9051 §9: tag = 1*<any ASTRING-CHAR except "+">.
const TAG_RE = /^[^\x00-\x20\x7f-\uffff(){%*"\\+]+$/;

export function tagOf(line: string): string | null {
  const sp = line.indexOf(' ');
  const t = sp < 0 ? line : line.slice(0, sp);
  return TAG_RE.test(t) ? t : null;
}

/** The command name for literal decisions: "APPEND", "UID FETCH", ... */
export function commandOf(line: string): string | null {
  const words = line.split(' ', 3);
  if (words.length < 2 || !/^[A-Za-z]+$/.test(words[1])) return null;
  const name = words[1].toUpperCase();
  if (name === 'UID' && words.length > 2 && /^[A-Za-z]+/.test(words[2])) {
    return `UID ${/^[A-Za-z]+/.exec(words[2])![0].toUpperCase()}`;
  }
  return name;
}

export interface LiteralLimits {
  /** Largest literal buffered in memory (strings, SEARCH terms, small APPENDs). */
  maxInlineLiteral: number;
  /** Largest whole command apart from streamed literals. */
  maxCommandBytes: number;
  /** Largest message APPEND accepts (RFC 7889 APPENDLIMIT); literals above it are refused. */
  maxAppendSize: number;
}

export const DEFAULT_LITERAL_LIMITS: LiteralLimits = {
  maxInlineLiteral: 64 * 1024,
  maxCommandBytes: 1024 * 1024,
  maxAppendSize: 50 * 1024 * 1024,
};

export type LiteralDecision =
  | { action: 'inline' }
  | { action: 'stream' }
  /** Answer `tag BAD|NO [code] text` (for a sync literal instead of the continuation). */
  | { action: 'reject'; status: 'NO' | 'BAD'; code: 'TOOBIG' | 'LIMIT'; text: string };

/**
 * The usual policy: APPEND message data goes to a stream (the server writes it to a temporary
 * blob), everything else is buffered within the limits. A session may use its own.
 */
export function decideLiteral(ann: LiteralAnnouncement, limits: LiteralLimits = DEFAULT_LITERAL_LIMITS): LiteralDecision {
  const isAppend = ann.command === 'APPEND';
  if (isAppend && ann.size > limits.maxInlineLiteral) {
    if (ann.size > limits.maxAppendSize) {
      // RFC 4469 §5 / RFC 7889 §4: [TOOBIG] when the message exceeds what we accept.
      return { action: 'reject', status: 'NO', code: 'TOOBIG', text: `Message larger than ${limits.maxAppendSize} octets` };
    }
    return { action: 'stream' };
  }
  if (ann.size > limits.maxInlineLiteral || ann.commandBytes + ann.size > limits.maxCommandBytes) {
    return { action: 'reject', status: 'BAD', code: 'TOOBIG', text: 'Literal too large' };
  }
  return { action: 'inline' };
}
