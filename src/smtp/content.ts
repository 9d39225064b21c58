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

  write(bytes: Uint8Array): void {
    this.#size += bytes.length;
    const n = bytes.length;
    for (let i = 0; i < n; i++) {
      const b = bytes[i];
      if (this.#prevCR && b !== LF) this.#bareCr++;
      if (b === LF) {
        if (!this.#prevCR) this.#bareLf++;
        this.#endLine(this.#lineLen + (this.#prevCR ? 1 : 2));
      } else {
        if (b === 0) this.#nul++;
        else if (b > 127) this.#eightBit = true;
        this.#lineLen++;
        if (this.#inHeader && this.#head.length < HEAD_BYTES && b !== CR) this.#head += String.fromCharCode(b);
      }
      this.#prevCR = b === CR;
    }
  }

  #endLine(octets: number): void {
    if (octets > this.#longest) this.#longest = octets;
    if (this.#inHeader) {
      // RFC 5322 §2.1: the header section ends at the first empty line.
      if (this.#head === "") this.#inHeader = false;
      else if (RECEIVED.test(this.#head)) this.#received++;
    }
    this.#lineLen = 0;
    this.#head = "";
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
