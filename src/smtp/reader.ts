// Incremental SMTP reader: bytes go in as the socket delivers them; complete command lines, DATA
// content or BDAT chunks come out, or null for "need more input". It is a pure framing layer:
// it never replies and never blocks, so it is tested at every byte split (reader.test.ts).
//
// Three modes, switched by the session after it has answered the command that starts them:
//   line   command lines (and SASL continuation lines, later), terminated by LF.
//   data   DATA content: dot-unstuffed, ended only by <CRLF>.<CRLF> (RFC 5321 §4.1.1.4).
//   chunk  BDAT content: exactly N octets, no unstuffing, no end marker (RFC 3030 §2).
//
// Line-ending policy (SMTP smuggling, CVE-2023-51764/51765/51766):
// - DATA ends only at <CRLF>.<CRLF>. A "line start" exists only after CRLF, so <LF>.<LF>,
//   <LF>.<CR><LF>, <CR>.<CR> and <CRLF>.<LF> never end DATA; the dot and the bare line
//   endings pass through as content. A peer that disagrees with us about where a message ends
//   therefore cannot make us see a second, smuggled message: whatever it thinks follows its
//   "end" stays inside the first message.
// - That first message is then rejected at the end of DATA when it contains a bare LF or a bare
//   CR (554 5.6.0, see content.ts and the DATA command), like Postfix 3.9's
//   `smtpd_forbid_bare_newline = reject` but without disconnecting: RFC 5321 §2.3.8 allows no
//   bare CR or LF in SMTP text, and an honest sender in 2024+ produces none, while a smuggling
//   attempt always contains one. Rejecting instead of "repairing" keeps the stored bytes
//   exactly what the client sent (issue 2: byte-identical blobs). The policy can be relaxed to
//   "accept" per server (the bytes are then stored as sent and end-info reports it).
// - Command lines end at LF; a CR before it is stripped. A bare-LF command is accepted
//   (Postfix's "normal" mode does the same): a command line carries no message content, so
//   it cannot smuggle, and some old scripts send LF only. `bareLf` is reported for logging.
// - BDAT content is counted, not delimited, so it cannot be smuggled; its bytes are passed on
//   unchanged.
// - NUL bytes are framed like any other byte; commands containing NUL are refused by the
//   session (500), DATA containing NUL is refused at its end (content.ts).

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const EMPTY = new Uint8Array(0);

export type ReaderEvent =
  /** A command line without its line ending. `bareLf`: it ended with LF alone. */
  | { readonly kind: "line"; readonly line: Uint8Array; readonly bareLf: boolean }
  /** A line longer than the limit was read and dropped up to and including its LF. */
  | { readonly kind: "line-too-long" }
  /** Message bytes: DATA after dot-unstuffing, or BDAT bytes as sent. */
  | { readonly kind: "content"; readonly bytes: Uint8Array }
  /** DATA reached <CRLF>.<CRLF>, or the BDAT chunk's byte count is complete. */
  | { readonly kind: "content-end" };

export type ReaderMode = "line" | "data" | "chunk";

// RFC 5321 §4.5.3.1.4: 512 octets for a command line including CRLF; extensions raise it for
// MAIL and RCPT (see the command table), so the reader's own cap is larger and each command
// checks its own limit.
export const DEFAULT_READER_LINE_LIMIT = 2048;

export class SmtpReader {
  #buf: Uint8Array = EMPTY;
  #pos = 0;
  /** Line mode: where to resume looking for LF. */
  #scan = 0;
  #mode: ReaderMode = "line";
  #maxLine: number;
  /** Line mode: the current line overflowed; drop input up to the next LF. */
  #discarding = false;
  /** Data mode: the next byte starts a line (only after CRLF, or at the start of DATA). */
  #lineStart = true;
  /** Data mode: the last byte handed out as content was CR. */
  #lastCR = false;
  /** Chunk mode: octets of the chunk not yet handed out. */
  #remaining = 0;

  constructor(maxLine = DEFAULT_READER_LINE_LIMIT) {
    this.#maxLine = maxLine;
  }

  get mode(): ReaderMode {
    return this.#mode;
  }

  /** Octets received and not yet returned as events. */
  get buffered(): number {
    return this.#buf.length - this.#pos;
  }

  /** The octet limit for one line including CRLF (line mode). */
  setLineLimit(octets: number): void {
    this.#maxLine = octets;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.#pos >= this.#buf.length) {
      this.#buf = chunk;
      this.#scan = 0;
    } else {
      const rest = this.#buf.subarray(this.#pos);
      const joined = new Uint8Array(rest.length + chunk.length);
      joined.set(rest, 0);
      joined.set(chunk, rest.length);
      this.#buf = joined;
      this.#scan = Math.max(0, this.#scan - this.#pos);
    }
    this.#pos = 0;
  }

  /** After the 354 reply: read DATA content until <CRLF>.<CRLF>. */
  startData(): void {
    this.#mode = "data";
    // RFC 5321 §4.1.1.4: the CRLF that ended the DATA command counts, so ".<CRLF>" right
    // away is an empty message.
    this.#lineStart = true;
    this.#lastCR = false;
  }

  /** After a BDAT command: read exactly `size` octets (RFC 3030 §2). */
  startChunk(size: number): void {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`bad chunk size ${size}`);
    this.#mode = "chunk";
    this.#remaining = size;
  }

  /**
   * Drops everything buffered. Used after STARTTLS: RFC 3207 §4.2 / CVE-2011-0411 — plaintext
   * pipelined after STARTTLS must never be read as if it came over TLS.
   */
  discardBuffered(): number {
    const n = this.buffered;
    this.#buf = EMPTY;
    this.#pos = 0;
    this.#scan = 0;
    return n;
  }

  /** The next event, or null when more input is needed. */
  next(): ReaderEvent | null {
    const ev = this.#mode === "line" ? this.#nextLine() : this.#mode === "data" ? this.#nextData() : this.#nextChunk();
    if (this.#pos >= this.#buf.length && this.#buf !== EMPTY) {
      this.#buf = EMPTY;
      this.#pos = 0;
      this.#scan = 0;
    }
    return ev;
  }

  #nextLine(): ReaderEvent | null {
    const buf = this.#buf;
    const start = this.#pos;
    if (start >= buf.length) return null;
    const lf = buf.indexOf(LF, Math.max(this.#scan, start));
    if (lf === -1) {
      // Without an LF the line is at least one octet longer than what is buffered.
      if (this.#discarding || buf.length - start >= this.#maxLine) {
        this.#discarding = true;
        this.#pos = buf.length;
      } else {
        this.#scan = buf.length;
      }
      return null;
    }
    this.#pos = lf + 1;
    this.#scan = lf + 1;
    if (this.#discarding) {
      this.#discarding = false;
      return { kind: "line-too-long" };
    }
    let end = lf;
    let bareLf = true;
    if (end > start && buf[end - 1] === CR) {
      end--;
      bareLf = false;
    }
    // Count the line as if it ended in CRLF, so a bare-LF line gets no extra octet.
    if (end - start + 2 > this.#maxLine) return { kind: "line-too-long" };
    return { kind: "line", line: buf.subarray(start, end), bareLf };
  }

  #nextData(): ReaderEvent | null {
    const buf = this.#buf;
    const len = buf.length;
    let pos = this.#pos;
    if (pos >= len) return null;
    if (this.#lineStart && buf[pos] === DOT) {
      // Need up to two more octets to tell the end marker from a stuffed dot.
      if (pos + 1 >= len) return null;
      if (buf[pos + 1] === CR) {
        if (pos + 2 >= len) return null;
        if (buf[pos + 2] === LF) {
          this.#pos = pos + 3;
          this.#mode = "line";
          return { kind: "content-end" };
        }
      }
      // RFC 5321 §4.5.2: a line starting with a dot has that dot removed.
      pos += 1;
      this.#pos = pos;
      this.#lineStart = false;
      // The removed dot separates what follows from the previous CR.
      this.#lastCR = false;
      if (pos >= len) return null;
    }
    const start = pos;
    let end = len;
    let lineStart = false;
    let i = start;
    for (;;) {
      const lf = buf.indexOf(LF, i);
      if (lf === -1) break;
      const crBefore = lf > start ? buf[lf - 1] === CR : this.#lastCR;
      i = lf + 1;
      // A run stops where a line could begin with a dot; otherwise it goes on across lines
      // so the consumer gets few, large pieces.
      if (crBefore && (i >= len || buf[i] === DOT)) {
        end = i;
        lineStart = true;
        break;
      }
    }
    this.#pos = end;
    this.#lastCR = buf[end - 1] === CR;
    this.#lineStart = lineStart;
    return { kind: "content", bytes: buf.subarray(start, end) };
  }

  #nextChunk(): ReaderEvent | null {
    if (this.#remaining === 0) {
      this.#mode = "line";
      return { kind: "content-end" };
    }
    const buf = this.#buf;
    const avail = buf.length - this.#pos;
    if (avail <= 0) return null;
    const take = Math.min(avail, this.#remaining);
    const bytes = buf.subarray(this.#pos, this.#pos + take);
    this.#pos += take;
    this.#remaining -= take;
    return { kind: "content", bytes };
  }
}
