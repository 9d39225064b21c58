// Inspects message content as it streams (after dot-unstuffing for DATA, as sent for BDAT):
// size, hop count, bare line endings, NUL bytes and line lengths. The session decides at the
// end of the message what to refuse (policy in reader.ts and docs/smtp.md); this file only
// counts, so the counting is tested on its own at every split.

const LF = 0x0a;
const CR = 0x0d;

export interface ContentStats {
  /** Octets of content (what the sink received). */
  readonly size: number;
  /** Received: fields in the header section (RFC 5321 §6.3 hop count). */
  readonly receivedCount: number;
  /** LF not preceded by CR. */
  readonly bareLf: number;
  /** CR not followed by LF. */
  readonly bareCr: number;
  readonly nul: number;
  /** The longest line in octets, counting its line ending as CRLF. */
  readonly longestLine: number;
  /** Any octet above 127 (informational: BODY=7BIT is not enforced, as in Postfix). */
  readonly eightBit: boolean;
}

// "Received" plus optional WSP (RFC 5322 §4.5.3 obs-optional) and ":".
const RECEIVED = /^received[ \t]*:/i;
const HEAD_BYTES = 24;

export class ContentInspector {
  #size = 0;
  #received = 0;
  #bareLf = 0;
  #bareCr = 0;
  #nul = 0;
  #longest = 0;
  #eightBit = false;
  #lineLen = 0;
  #prevCR = false;
  #inHeader = true;
  #head = "";

  /** Octets written so far. */
  get size(): number {
    return this.#size;
  }

  // Messages can be megabytes: one tight loop over locals (a private field access per octet is
  // several times slower), written back once per chunk.
  write(b: Uint8Array): void {
    const n = b.length;
    this.#size += n;
    let prevCR = this.#prevCR;
    let lineLen = this.#lineLen;
    let longest = this.#longest;
    let bareLf = this.#bareLf;
    let bareCr = this.#bareCr;
    let nul = this.#nul;
    let inHeader = this.#inHeader;
    let head = this.#head;
    let received = this.#received;
    let high = 0;
    for (let i = 0; i < n; i++) {
      const c = b[i];
      if (c === LF) {
        const octets = lineLen + (prevCR ? 1 : 2);
        if (octets > longest) longest = octets;
        if (!prevCR) bareLf++;
        if (inHeader) {
          // RFC 5322 §2.1: the header section ends at the first empty line.
          if (head === "") inHeader = false;
          else if (RECEIVED.test(head)) received++;
          head = "";
        }
        lineLen = 0;
        prevCR = false;
        continue;
      }
      if (prevCR) bareCr++;
      if (inHeader && c !== CR && head.length < HEAD_BYTES) head += String.fromCharCode(c);
      lineLen++;
      prevCR = c === CR;
      if (c === 0) nul++;
      high |= c;
    }
    this.#prevCR = prevCR;
    this.#lineLen = lineLen;
    this.#longest = longest;
    this.#bareLf = bareLf;
    this.#bareCr = bareCr;
    this.#nul = nul;
    this.#inHeader = inHeader;
    this.#head = head;
    this.#received = received;
    if (high > 127) this.#eightBit = true;
  }

  /** Totals; call after the last write. An unterminated last line counts as a line. */
  stats(): ContentStats {
    let bareCr = this.#bareCr;
    let longest = this.#longest;
    let received = this.#received;
    if (this.#prevCR) bareCr++;
    if (this.#lineLen > 0) {
      const octets = this.#lineLen - (this.#prevCR ? 1 : 0) + 2;
      if (octets > longest) longest = octets;
      if (this.#inHeader && this.#head !== "" && RECEIVED.test(this.#head)) received++;
    }
    return {
      size: this.#size,
      receivedCount: received,
      bareLf: this.#bareLf,
      bareCr,
      nul: this.#nul,
      longestLine: longest,
      eightBit: this.#eightBit,
    };
  }
}
