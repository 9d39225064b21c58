// mboxrd (https://www.loc.gov/preservation/digital/formats/fdd/fdd000385.shtml; Hall, "The
// mbox family"): each message follows a "From " line and is followed by an empty line; any
// message line matching /^>*From / gets one more ">" on write and loses one on read, so the
// transformation is reversible. Messages keep their own line ends (CRLF as stored); the From_
// line and the separating empty line are LF, as every mbox reader expects.
// Pure: a streaming quoter and a streaming reader over Buffers.

const FROM = Buffer.from("From ");

/** Is `line` (from a line start) /^>*From /? undefined when more bytes are needed to decide. */
function fromLine(buf: Buffer, at: number): boolean | undefined {
  let i = at;
  while (i < buf.length && buf[i] === 0x3e) i++;
  for (let k = 0; k < FROM.length; k++) {
    if (i + k >= buf.length) return undefined;
    if (buf[i + k] !== FROM[k]) return false;
  }
  return true;
}

/** A streaming mboxrd quoter: push chunks of one message, then end(). */
export class FromQuoter {
  #carry: Buffer | null = null;
  #atLineStart = true;

  push(chunk: Buffer): Buffer[] {
    const buf = this.#carry ? Buffer.concat([this.#carry, chunk]) : chunk;
    this.#carry = null;
    const out: Buffer[] = [];
    let start = 0;
    let pos = 0;
    let lineStart = this.#atLineStart;
    while (pos <= buf.length) {
      if (lineStart) {
        const f = fromLine(buf, pos);
        if (f === undefined) {
          if (pos > start) out.push(buf.subarray(start, pos));
          this.#carry = Buffer.from(buf.subarray(pos));
          this.#atLineStart = true;
          return out;
        }
        if (f) {
          if (pos > start) out.push(buf.subarray(start, pos));
          out.push(Buffer.from(">"));
          start = pos;
        }
      }
      const nl = buf.indexOf(0x0a, pos);
      if (nl < 0) break;
      pos = nl + 1;
      lineStart = true;
      if (pos === buf.length) break;
    }
    if (start < buf.length) out.push(buf.subarray(start));
    this.#atLineStart = buf.length === 0 ? this.#atLineStart : buf[buf.length - 1] === 0x0a;
    return out;
  }

  end(): Buffer[] {
    const c = this.#carry;
    this.#carry = null;
    return c && c.length ? [c] : [];
  }
}

export interface MboxMessage {
  fromLine: string;
  /** The message bytes, unquoted, without the separating empty line. */
  bytes: Buffer;
}

/**
 * Reads an mbox stream message by message. A "From " line starts a message when it is the
 * first line or follows an empty line (mboxrd/mboxo writers both guarantee that). One message
 * is held at a time (memory bounded by the largest message, not the file).
 */
export async function* readMbox(input: AsyncIterable<Buffer | string>): AsyncGenerator<MboxMessage> {
  let carry = Buffer.alloc(0);
  let cur: { fromLine: string; lines: Buffer[] } | null = null;
  let prevEmpty = true;
  const finish = (m: { fromLine: string; lines: Buffer[] }): MboxMessage => {
    const lines = m.lines;
    const last = lines[lines.length - 1];
    if (last && (last.length === 1 || (last.length === 2 && last[0] === 0x0d)) && last[last.length - 1] === 0x0a) lines.pop();
    return { fromLine: m.fromLine, bytes: Buffer.concat(lines) };
  };
  const onLine = (line: Buffer): MboxMessage | null => {
    let done: MboxMessage | null = null;
    if (prevEmpty && line.subarray(0, 5).equals(FROM)) {
      if (cur) done = finish(cur);
      cur = { fromLine: line.toString("latin1").replace(/\r?\n$/, ""), lines: [] };
      prevEmpty = false;
      return done;
    }
    prevEmpty = line.length === 1 ? line[0] === 0x0a : line.length === 2 && line[0] === 0x0d && line[1] === 0x0a;
    if (!cur) return null; // bytes before the first From_ line are not a message
    // Unquote: /^>+From / loses one ">".
    if (line[0] === 0x3e && fromLine(line, 0) === true) line = line.subarray(1);
    cur.lines.push(line);
    return null;
  };
  for await (const c of input) {
    const chunk = typeof c === "string" ? Buffer.from(c) : c;
    let buf = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      if (nl < 0) break;
      const r = onLine(Buffer.from(buf.subarray(start, nl + 1)));
      start = nl + 1;
      if (r) yield r;
    }
    carry = Buffer.from(buf.subarray(start));
    buf = carry;
  }
  if (carry.length) {
    const r = onLine(carry);
    if (r) yield r;
  }
  if (cur) yield finish(cur);
}

/** The value of the first header `name` in a message's header block (unfolded), or undefined. */
export function headerValue(msg: Buffer, name: string): string | undefined {
  const end = headerEnd(msg);
  const head = msg.subarray(0, end).toString("latin1");
  const re = new RegExp(`^${name.replace(/[-]/g, "\\-")}:[ \\t]*((?:.*)(?:\\r?\\n[ \\t].*)*)`, "im");
  const r = re.exec(head);
  return r ? r[1].replace(/\r?\n[ \t]/g, " ").replace(/\r$/, "").trim() : undefined;
}

export function headerEnd(msg: Buffer): number {
  const a = msg.indexOf("\r\n\r\n");
  const b = msg.indexOf("\n\n");
  if (a < 0 && b < 0) return msg.length;
  if (a < 0) return b + 2;
  if (b < 0) return a + 4;
  return Math.min(a + 4, b + 2);
}

/**
 * The status block Freehold's export writes first in each message: exactly "Status:",
 * "X-Status:", "X-Keywords:" lines in this order with the message's own line end. Returns the
 * block's length and values when the message starts with it (then the import strips it and gets
 * the original bytes back); null for a foreign mbox, whose headers are read but left in place.
 */
export function leadingStatusBlock(msg: Buffer): { length: number; status: string; xStatus: string; keywords: string } | null {
  const head = msg.subarray(0, Math.min(msg.length, 4096)).toString("latin1");
  const r = /^Status: ([^\r\n]*)(\r?\n)X-Status: ([^\r\n]*)\2X-Keywords: ?([^\r\n]*)\2/.exec(head);
  if (!r) return null;
  return { length: Buffer.byteLength(r[0], "latin1"), status: r[1], xStatus: r[3], keywords: r[4] };
}
