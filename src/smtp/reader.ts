// Incremental SMTP reader: bytes go in as the socket delivers them; complete command lines, DATA
// content or BDAT chunks come out, or null for "need more input". It is a pure framing layer:
// it never replies and never blocks, so it is tested at every byte split (reader.test.ts).
//
// Three modes, switched by the session after it has answered the command that starts them:
//   line   command lines (and SASL continuation lines, later), terminated by LF.
//   data   DATA content: dot-unstuffed, bare LF as CRLF, ended only by <CRLF>.<CRLF>
//          (RFC 5321 §4.1.1.4).
//   chunk  BDAT content: exactly N octets, no unstuffing, no end marker (RFC 3030 §2).
//
// Line-ending policy (issue 18; SMTP smuggling, CVE-2023-51764/51765/51766), Postfix 3.9's
// `smtpd_forbid_bare_newline = normalize`:
// - DATA ends only at <CRLF>.<CRLF>. Every LF ends a line (a bare one too), but only a line
//   start reached through CRLF can begin the end marker, so <LF>.<LF>, <LF>.<CR><LF>,
//   <CR>.<CR> and <CRLF>.<LF> never end DATA. A peer that disagrees with us about where a
//   message ends therefore cannot make us see a second, smuggled message: whatever it thinks
//   follows its "end" stays inside the first message.
// - A line that is just "." but is not the end marker (after a bare LF, or ended by one) is
//   content and kept: it is what a sender that does not dot-stuff wrote, and any relay stuffs it
//   again (RFC 5321 §4.5.2). Other lines starting with a dot lose it, after CRLF or bare LF.
// - Bare LFs are handed out as CRLF (`normalizeBareLf`, the default), so stored messages have
//   CRLF lines only; `bareLfCount` reports them for the log. A bare CR is not a line ending
//   here; it passes through and the session refuses the message (policy in docs/smtp.md).
// - Command lines end at LF; a CR before it is stripped. A bare-LF command is accepted as if it
//   ended in CRLF; `bareLf` is reported for logging.
// - BDAT content is counted, not delimited, so it cannot be smuggled; its bytes are passed on
//   unchanged.
// - NUL bytes are framed like any other byte; the session decides (commands with NUL get 500,
//   DATA with NUL is refused at its end).

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const EMPTY = new Uint8Array(0);
const DOT_CRLF = Uint8Array.of(DOT, CR, LF);

/** buf[start, end) with a CR put before each LF at the given (ascending) positions. */
function insertCr(buf: Uint8Array, start: number, end: number, lfs: readonly number[]): Uint8Array {
  const out = new Uint8Array(end - start + lfs.length);
  let from = start;
  let o = 0;
  for (const lf of lfs) {
    out.set(buf.subarray(from, lf), o);
    o += lf - from;
    out[o++] = CR;
    from = lf;
  }
  out.set(buf.subarray(from, end), o);
  return out;
}

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

// RFC 5321 §4.5.3.1.4: 512 octets for a command line including CRLF, which extensions raise;
// like Postfix (line_length_limit) we take 2048 for every command, plus the RFC 1869/3461/4954
// allowances per command (the command table); the reader's cap is the largest of them and each
// command checks its own limit.
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
  /** Data mode: the next byte starts a line (after any LF, or at the start of DATA). */
  #lineStart = true;
  /** Data mode: that line start came after CRLF (or the DATA command), so "." CRLF ends DATA. */
  #afterCrlf = true;
  /** Data mode: write bare LFs out as CRLF. */
  #normalize = true;
  /** Data mode: bare LFs seen in this message. */
  #bareLf = 0;
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

  /**
   * After the 354 reply: read DATA content until <CRLF>.<CRLF>. `normalizeBareLf` (the default)
   * hands out every bare LF as CRLF; without it the content keeps its bytes as sent.
   */
  startData(opts: { normalizeBareLf?: boolean } = {}): void {
    this.#mode = "data";
    // RFC 5321 §4.1.1.4: the CRLF that ended the DATA command counts, so ".<CRLF>" right
    // away is an empty message.
    this.#lineStart = true;
    this.#afterCrlf = true;
    this.#lastCR = false;
    this.#normalize = opts.normalizeBareLf ?? true;
    this.#bareLf = 0;
  }

  /** Bare LFs in the current (or last) DATA content, whether or not they were normalized. */
  get bareLfCount(): number {
    return this.#bareLf;
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
      // Need up to two more octets to tell the end marker, a lone dot line and a stuffed dot apart.
      if (pos + 1 >= len) return null;
      const next = buf[pos + 1];
      if (next === CR && pos + 2 >= len) return null;
      const crlf = next === CR && buf[pos + 2] === LF;
      if (crlf && this.#afterCrlf) {
        // RFC 5321 §4.1.1.4: <CRLF>.<CRLF> and nothing else ends the data.
        this.#pos = pos + 3;
        this.#mode = "line";
        return { kind: "content-end" };
      }
      if (crlf || next === LF) {
        // A lone dot line that is not the end marker: after a bare LF (<LF>.<CRLF>, <LF>.<LF>)
        // or itself ended by a bare LF (<CRLF>.<LF>). It is content, kept as the sender wrote
        // it; a relay stuffs it again (RFC 5321 §4.5.2), so it cannot end the data downstream.
        const n = crlf ? 3 : 2;
        this.#pos = pos + n;
        this.#lineStart = true;
        this.#afterCrlf = crlf;
        this.#lastCR = false;
        if (!crlf) {
          this.#bareLf++;
          if (this.#normalize) return { kind: "content", bytes: DOT_CRLF };
        }
        return { kind: "content", bytes: buf.subarray(pos, pos + n) };
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
    let afterCrlf = false;
    // Bare LFs in this run, when they are to be written as CRLF.
    let bare: number[] | null = null;
    let i = start;
    for (;;) {
      const lf = buf.indexOf(LF, i);
      if (lf === -1) break;
      const crBefore = lf > start ? buf[lf - 1] === CR : this.#lastCR;
      if (!crBefore) {
        this.#bareLf++;
        if (this.#normalize) (bare ??= []).push(lf);
      }
      i = lf + 1;
      // Every LF ends a line (a bare one too: Postfix's "normalize"); a run stops where the next
      // line could begin with a dot, otherwise it goes on across lines so the consumer gets
      // few, large pieces.
      if (i >= len || buf[i] === DOT) {
        end = i;
        lineStart = true;
        afterCrlf = crBefore;
        break;
      }
    }
    this.#pos = end;
    this.#lastCR = buf[end - 1] === CR;
    this.#lineStart = lineStart;
    this.#afterCrlf = afterCrlf;
    return { kind: "content", bytes: bare ? insertCr(buf, start, end, bare) : buf.subarray(start, end) };
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
