// MIME structure index: one pass over the stored bytes yields a part tree with byte offsets, so
// every IMAP section (RFC 3501 §6.4.5, RFC 9051 §6.4.5) is a byte range of the stored message and
// FETCH never re-parses or buffers a whole message. The bytes may be server-added trace fields
// followed by the blob: those are simply the first header lines.
//
// Boundary rules follow RFC 2046 §5.1.1 as Dovecot applies them (so our answers match the server
// most clients were tested against):
//  - a boundary line is "--" + boundary at the start of a line; anything may follow it (RFC 2046
//    says only white space, but real mail has garbage there), "--" right after it closes the part;
//  - every open boundary is searched and the longest match wins, so an inner part cannot steal a
//    boundary that is merely a prefix of an outer one;
//  - the CRLF (or LF) before a boundary line belongs to the boundary, not to the part (§5.1.1
//    "the CRLF preceding the boundary delimiter line is conceptually attached to the boundary");
//  - a boundary line inside a part's header ends that header (and the part);
//  - a multipart without a usable boundary has no children; digest parts default to
//    message/rfc822 (RFC 2046 §5.1.5), everything else to text/plain (RFC 2045 §5.2).
// Nothing here throws: malformed input yields some tree whose ranges stay inside the buffer.
import { parseContentType, type ContentType } from "./content.ts";
import { fieldValue, lineEnd, parseHeaderFields } from "./header.ts";

/** Nesting limit (multipart and message/rfc822 levels), as Dovecot's default of 100. */
export const MAX_DEPTH = 100;
/** Part count limit, as Dovecot's default of 10,000. */
export const MAX_PARTS = 10_000;
/**
 * Boundaries are compared on at most this many characters. RFC 2046 §5.1.1 allows 70; like
 * Dovecot we accept a little more and ignore the rest, so an over-long boundary cannot make
 * scanning cost grow with its length.
 */
export const MAX_BOUNDARY = 80;

export type PartKind = "leaf" | "multipart" | "message";

export interface MimePart {
  /** Header bytes: [headerStart, headerEnd), including the blank line when there is one. */
  headerStart: number;
  headerEnd: number;
  /** Body bytes: [bodyStart, bodyEnd); bodyStart === headerEnd. */
  bodyStart: number;
  bodyEnd: number;
  /** "multipart": children are the body parts; "message": children[0] is the encapsulated message. */
  kind: PartKind;
  /** True when Content-* fields apply (RFC 2045 §4: MIME-Version, Content-Type, or a multipart child). */
  isMime: boolean;
  /** The first Content-Type, parsed; null when absent or not a MIME part. */
  contentType: ContentType | null;
  children: MimePart[];
}

export interface MessageIndex {
  /** Total stored size in octets. */
  size: number;
  root: MimePart;
  /** True when MAX_DEPTH or MAX_PARTS stopped the structure from being followed further. */
  limited: boolean;
}

interface OpenBoundary {
  b: Buffer;
  owner: MimePart;
}

interface Hit {
  entry: OpenBoundary;
  /** Where the part before the boundary line ends (before the CRLF attached to the boundary). */
  contentEnd: number;
  /**
   * Where the enclosing parts up to the boundary's owner end. Equal to contentEnd, except when
   * the boundary cut a header short: then the line ending before it stays in the parent (as
   * Dovecot counts it), so e.g. a message/rfc822 part keeps its last CRLF.
   */
  ancestorEnd: number;
  lineStart: number;
  lineEnd: number;
  closing: boolean;
}

interface Parsed {
  part: MimePart;
  hit: Hit | null;
}

function boundaryBytes(b: string): Buffer {
  return Buffer.from(b.length > MAX_BOUNDARY ? b.slice(0, MAX_BOUNDARY) : b, "latin1");
}

function newlineBefore(buf: Buffer, pos: number, floor: number): number {
  if (pos - 1 < floor || buf[pos - 1] !== 0x0a) return 0;
  return pos - 2 >= floor && buf[pos - 2] === 0x0d ? 2 : 1;
}

class Parser {
  readonly buf: Buffer;
  readonly len: number;
  readonly stack: OpenBoundary[] = [];
  parts = 0;
  limited = false;

  constructor(buf: Buffer) {
    this.buf = buf;
    this.len = buf.length;
  }

  /** The open boundary a line starts with (longest match), or null. */
  boundaryAt(pos: number, le: number): { entry: OpenBoundary; closing: boolean } | null {
    const buf = this.buf;
    if (le - pos < 2 || buf[pos] !== 0x2d || buf[pos + 1] !== 0x2d) return null;
    let best: OpenBoundary | null = null;
    // Newest first, so that on equal length the innermost part owns the line (RFC 2046 §5.1.1
    // forbids reusing an enclosing boundary; when a message does, the nearest one is meant).
    for (let k = this.stack.length - 1; k >= 0; k--) {
      const e = this.stack[k];
      const n = e.b.length;
      if (pos + 2 + n > le) continue;
      if (best && best.b.length >= n) continue;
      if (buf.compare(e.b, 0, n, pos + 2, pos + 2 + n) === 0) best = e;
    }
    if (!best) return null;
    const after = pos + 2 + best.b.length;
    return { entry: best, closing: after + 2 <= le && buf[after] === 0x2d && buf[after + 1] === 0x2d };
  }

  /**
   * Scans from a line start for the next boundary line. A boundary on the very first line takes
   * no line ending from before it (there is none to take).
   */
  scan(from: number): Hit | null {
    if (this.stack.length === 0) return null;
    let pos = from;
    while (pos < this.len) {
      const le = lineEnd(this.buf, pos, this.len);
      const m = this.boundaryAt(pos, le);
      if (m) {
        const contentEnd = pos === from ? pos : pos - newlineBefore(this.buf, pos, from);
        return { entry: m.entry, closing: m.closing, contentEnd, ancestorEnd: contentEnd, lineStart: pos, lineEnd: le };
      }
      pos = le;
    }
    return null;
  }

  /**
   * Reads header lines from `start` to the blank line (included), the end of the data, or a
   * boundary line, which cuts the header short: the line ending before it belongs to the boundary.
   */
  readHeader(start: number): { headerEnd: number; blankAt: number; hit: Hit | null } {
    const buf = this.buf;
    let pos = start;
    let prevNl = 0;
    while (pos < this.len) {
      const le = lineEnd(buf, pos, this.len);
      if (buf[pos] === 0x0a || (buf[pos] === 0x0d && le === pos + 2 && buf[pos + 1] === 0x0a)) {
        return { headerEnd: le, blankAt: pos, hit: null };
      }
      const m = this.stack.length > 0 ? this.boundaryAt(pos, le) : null;
      if (m) {
        const end = pos - prevNl;
        return { headerEnd: end, blankAt: -1, hit: { entry: m.entry, closing: m.closing, contentEnd: end, ancestorEnd: pos, lineStart: pos, lineEnd: le } };
      }
      prevNl = newlineBefore(buf, le, pos);
      pos = le;
    }
    return { headerEnd: this.len, blankAt: -1, hit: null };
  }

  /**
   * A boundary line right after a header's blank line makes the blank line the line ending
   * attached to that boundary (RFC 2046 §5.1.1): the header ends before it and the part is
   * empty. The part's own new boundary (`own`) does not count; on a tie it is the newest, so wins.
   */
  boundaryAfterBlank(blankAt: number, at: number, own: Buffer | null): Hit | null {
    const buf = this.buf;
    const le = lineEnd(buf, at, this.len);
    const m = this.boundaryAt(at, le);
    if (!m) return null;
    const ownEnd = own === null ? -1 : at + 2 + own.length;
    const ownWins = own !== null && own.length >= m.entry.b.length && ownEnd <= le && buf.compare(own, 0, own.length, at + 2, ownEnd) === 0;
    if (ownWins) return null;
    return { entry: m.entry, closing: m.closing, contentEnd: blankAt, ancestorEnd: at, lineStart: at, lineEnd: le };
  }

  part(start: number, depth: number, mimeChild: boolean, digestChild: boolean): Parsed {
    const buf = this.buf;
    this.parts++;
    const header = this.readHeader(start);
    let headerEnd = header.headerEnd;
    let headerHit = header.hit;
    const fields = parseHeaderFields(buf, start, headerEnd);
    let ctField = null;
    let mimeVersion = false;
    for (const f of fields) {
      if (!f.colon) continue;
      if (f.key === "content-type" && ctField === null) ctField = f;
      else if (f.key === "mime-version") mimeVersion = true;
    }
    const isMime = mimeChild || mimeVersion || ctField !== null;
    const contentType = isMime && ctField ? parseContentType(fieldValue(buf, ctField).toString("latin1")) : null;
    let kind: PartKind = "leaf";
    if (contentType?.valid) {
      const t = contentType.type.toLowerCase();
      if (t === "multipart") kind = "multipart";
      else if (t === "message" && contentType.subtype.toLowerCase() === "rfc822") kind = "message";
    } else if (contentType === null && digestChild) {
      kind = "message"; // RFC 2046 §5.1.5
    }
    const part: MimePart = {
      headerStart: start,
      headerEnd,
      bodyStart: headerEnd,
      bodyEnd: headerEnd,
      kind,
      isMime,
      contentType,
      children: [],
    };
    const atLimit = depth >= MAX_DEPTH || this.parts >= MAX_PARTS;
    const boundary =
      kind === "multipart" ? contentType!.params.find(([n]) => n.toLowerCase() === "boundary")?.[1] : undefined;
    const own = boundary !== undefined && !atLimit ? boundaryBytes(boundary) : null;
    if (header.blankAt >= 0 && this.stack.length > 0 && headerEnd < this.len) {
      headerHit = this.boundaryAfterBlank(header.blankAt, headerEnd, own);
      if (headerHit) headerEnd = part.headerEnd = part.bodyStart = part.bodyEnd = header.blankAt;
    }
    if (headerHit) {
      // The header was cut short by a boundary: the part (and any encapsulated message) is empty.
      if (kind === "message") part.children.push(this.emptyPart(headerEnd));
      return { part, hit: headerHit };
    }
    if (kind === "message" && atLimit) {
      this.limited = true;
      part.kind = "leaf";
    }
    if (part.kind === "message") {
      const child = this.part(headerEnd, depth + 1, false, false);
      part.children.push(child.part);
      part.bodyEnd = child.hit ? child.hit.ancestorEnd : this.len;
      return { part, hit: child.hit };
    }
    if (own !== null) return this.multipartBody(part, own, depth);
    if (kind === "multipart" && boundary !== undefined) this.limited = true;
    const hit = this.scan(headerEnd);
    part.bodyEnd = hit ? hit.contentEnd : this.len;
    return { part, hit };
  }

  emptyPart(at: number): MimePart {
    this.parts++;
    return { headerStart: at, headerEnd: at, bodyStart: at, bodyEnd: at, kind: "leaf", isMime: false, contentType: null, children: [] };
  }

  multipartBody(part: MimePart, b: Buffer, depth: number): Parsed {
    const own: OpenBoundary = { b, owner: part };
    this.stack.push(own);
    const digest = part.contentType!.subtype.toLowerCase() === "digest";
    let hit = this.scan(part.bodyStart); // the preamble (RFC 2046 §5.1.1) ends at the first boundary
    for (;;) {
      if (!hit) {
        part.bodyEnd = this.len;
        return { part, hit: null };
      }
      const idx = this.stack.indexOf(hit.entry);
      if (hit.entry !== own) {
        // An outer boundary ends this multipart too.
        part.bodyEnd = hit.ancestorEnd;
        return { part, hit };
      }
      if (hit.closing) {
        // Close-delimiter: forget this boundary (and any inner one left open); the epilogue runs
        // to an outer boundary or the end.
        this.stack.length = idx;
        const next = this.scan(hit.lineEnd);
        part.bodyEnd = next ? next.contentEnd : this.len;
        return { part, hit: next };
      }
      this.stack.length = idx + 1;
      // A delimiter line without a line ending at the very end starts no new part.
      if (hit.lineEnd === this.len && this.buf[this.len - 1] !== 0x0a) {
        part.bodyEnd = this.len;
        return { part, hit: null };
      }
      if (this.parts >= MAX_PARTS) {
        this.limited = true;
        hit = this.scan(hit.lineEnd);
        continue;
      }
      const child = this.part(hit.lineEnd, depth + 1, true, digest);
      part.children.push(child.part);
      hit = child.hit;
    }
  }
}

/** Builds the part tree of a stored message (trace fields + blob, as one buffer). Never throws. */
export function indexMessage(buf: Buffer): MessageIndex {
  const p = new Parser(buf);
  const { part } = p.part(0, 0, false, false);
  return { size: buf.length, root: part, limited: p.limited };
}

/** Counts LF octets in [start, end): the "lines" of RFC 3501 §7.4.2 body-fld-lines. */
export function countLines(buf: Buffer, start: number, end: number): number {
  let n = 0;
  let i = buf.indexOf(0x0a, start);
  while (i >= 0 && i < end) {
    n++;
    i = buf.indexOf(0x0a, i + 1);
  }
  return n;
}
