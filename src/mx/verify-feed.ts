// What of a message the email authentication checks need to read.
//
// SPF looks at the envelope only; DMARC at the From field; DKIM (RFC 6376 §5) and ARC (RFC 8617)
// hash the body, but only for the signatures the header carries. A message whose header has no
// DKIM-Signature, ARC-Seal or ARC-Message-Signature field therefore gets the same verdict from
// its header block alone, and the body (most of the bytes) need not go through mailauth's
// parser at all. This feed holds the bytes until the header block is complete, then either
// streams the whole message or hands over the header block and ends.
//
// The decision is made on the bytes as received, so a signature anywhere in the header (also a
// folded or oddly cased field name) sends the whole message.

/** Header fields that make the body matter for verification (RFC 6376 §3.5, RFC 8617 §4.1). */
const SIGNATURE_FIELD = /(?:^|\n)(?:dkim-signature|arc-seal|arc-message-signature)[ \t]*:/i;

/** A header block larger than this is streamed whole instead of being held. */
const MAX_HELD = 256 * 1024;

export interface VerifyFeedTarget {
  /** Resolves when the target can take more (back-pressure). */
  write(chunk: Uint8Array): Promise<void>;
  end(): void;
}

export class VerifyFeed {
  readonly #to: VerifyFeedTarget;
  #mode: "header" | "stream" | "done" = "header";
  #held: Buffer[] = [];
  #heldBytes = 0;
  /** Whether the body was skipped (for tests and logs). */
  bodySkipped = false;

  constructor(to: VerifyFeedTarget) {
    this.#to = to;
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.#mode === "stream") return this.#to.write(chunk);
    if (this.#mode === "done") return;
    const prevBytes = this.#heldBytes;
    this.#held.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.#heldBytes += chunk.byteLength;
    // Search from a little before the new bytes so a blank line split across chunks is found.
    const all = this.#held.length === 1 ? this.#held[0] : Buffer.concat(this.#held, this.#heldBytes);
    this.#held = [all];
    const end = headerEnd(all, Math.max(0, prevBytes - 3));
    if (end === -1) {
      if (this.#heldBytes > MAX_HELD) await this.#stream();
      return;
    }
    const header = all.subarray(0, end);
    if (SIGNATURE_FIELD.test(header.toString("latin1"))) {
      await this.#stream();
      return;
    }
    this.#mode = "done";
    this.bodySkipped = true;
    this.#held = [];
    await this.#to.write(header);
    this.#to.end();
  }

  end(): void {
    if (this.#mode === "done") return;
    if (this.#mode === "header") {
      // No blank line at all: the message is all header, hand over what there is.
      for (const b of this.#held) void this.#to.write(b);
      this.#held = [];
    }
    this.#mode = "done";
    this.#to.end();
  }

  async #stream(): Promise<void> {
    this.#mode = "stream";
    const held = this.#held;
    this.#held = [];
    for (const b of held) await this.#to.write(b);
  }
}

/**
 * The offset just past the empty line that ends the header block (RFC 5322 §2.1), CRLF or a bare
 * LF, or -1 if it has not arrived yet. `from` is where to start looking.
 */
export function headerEnd(buf: Uint8Array, from: number): number {
  // An empty header: the message starts with the blank line.
  if (from === 0) {
    if (buf[0] === 0x0a) return 1;
    if (buf[0] === 0x0d && buf[1] === 0x0a) return 2;
  }
  let i = buf.indexOf(0x0a, from);
  while (i !== -1) {
    if (buf[i + 1] === 0x0a) return i + 2;
    if (buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return i + 3;
    if (i + 2 >= buf.length) return -1;
    i = buf.indexOf(0x0a, i + 1);
  }
  return -1;
}
