// IMAP section specs (RFC 3501 §6.4.5, RFC 9051 §6.4.5) mapped onto the structure index: every
// section is a byte range of the stored message except HEADER.FIELDS[.NOT], which is a subset of
// header lines and so is built (small: header lines only).
import { parseHeaderFields } from "./header.ts";
import type { MessageIndex, MimePart } from "./structure.ts";

export type SectionText = "" | "HEADER" | "TEXT" | "MIME" | "HEADER.FIELDS" | "HEADER.FIELDS.NOT";

export interface SectionSpec {
  /** Part numbers, e.g. [1, 2] for "1.2"; [] for the whole message. */
  path: number[];
  text: SectionText;
  /** Field names for HEADER.FIELDS[.NOT]. */
  fields?: string[];
}

export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Parses a section-spec as it appears between the brackets, e.g. `1.2.MIME`,
 * `HEADER.FIELDS (From To)`. Returns null on a syntax error.
 */
export function parseSectionSpec(s: string): SectionSpec | null {
  const m = /^((?:[1-9][0-9]*)(?:\.[1-9][0-9]*)*)?(?:(?:^|\.)(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME)(?:\s+\(([^()]*)\))?)?$/i.exec(
    s.trim(),
  );
  if (!m) return null;
  const path = m[1] ? m[1].split(".").map(Number) : [];
  const text = (m[2] ?? "").toUpperCase() as SectionText;
  if (text === "MIME" && path.length === 0) return null; // RFC 3501 §6.4.5: MIME needs a part
  const isFields = text === "HEADER.FIELDS" || text === "HEADER.FIELDS.NOT";
  if (isFields !== (m[3] !== undefined)) return null;
  const spec: SectionSpec = { path, text };
  if (isFields) {
    const fields = m[3]!.trim().split(/\s+/).filter(Boolean);
    if (fields.length === 0) return null;
    spec.fields = fields;
  }
  return spec;
}

/**
 * Finds the part a section path names (RFC 3501 §6.4.5): inside a message/rfc822 part numbers
 * address the encapsulated message's parts, and a non-multipart message has just part 1, its body.
 */
export function resolvePart(index: MessageIndex, path: number[]): MimePart | null {
  let part = index.root;
  for (let k = 0; k < path.length; k++) {
    const n = path[k];
    // The root is the message itself; a message/rfc822 part is entered only when the path goes
    // below it (so "1" of a top-level message/rfc822 is its whole body, as in Dovecot).
    if (k > 0 && part.kind === "message") part = part.children[0];
    if (part.kind === "multipart") {
      const child = part.children[n - 1];
      if (!child) return null;
      part = child;
    } else if (n !== 1) {
      return null;
    }
  }
  return part;
}

/** The message a HEADER/TEXT section refers to: the root, or the message inside a message/rfc822 part. */
function messageOf(index: MessageIndex, path: number[]): MimePart | null {
  if (path.length === 0) return index.root;
  const p = resolvePart(index, path);
  if (!p || p.kind !== "message") return null;
  return p.children[0];
}

/**
 * Header lines of a message whose names are (or, with `not`, are not) in `names`, in message order,
 * then the header's blank line. RFC 3501 §6.4.5: "the blank line is included in all header
 * fetches, except in the case of a message which has no body and no blank line" (a header cut
 * short by a boundary or by the end of the data). A last line without a line ending gets CRLF so
 * the subset is whole lines.
 */
export function headerFields(buf: Buffer, part: MimePart, names: string[], not = false): Buffer {
  const want = new Set(names.map((n) => n.toLowerCase()));
  const out: Buffer[] = [];
  const fields = parseHeaderFields(buf, part.headerStart, part.headerEnd);
  for (const f of fields) {
    if (want.has(f.key) === not) continue;
    out.push(buf.subarray(f.start, f.end));
    if (buf[f.end - 1] !== 0x0a) out.push(Buffer.from("\r\n"));
  }
  const lastEnd = fields.length > 0 ? fields[fields.length - 1].end : part.headerStart;
  if (lastEnd < part.headerEnd) out.push(buf.subarray(lastEnd, part.headerEnd));
  return Buffer.concat(out);
}

/** True when the header [headerStart, headerEnd) ends with its blank line (RFC 5322 §2.1). */
export function hasBlankLine(buf: Buffer, part: MimePart): boolean {
  const fields = parseHeaderFields(buf, part.headerStart, part.headerEnd);
  const lastEnd = fields.length > 0 ? fields[fields.length - 1].end : part.headerStart;
  return lastEnd < part.headerEnd;
}

/**
 * Byte range (or, for HEADER.FIELDS[.NOT], the bytes) of a section; null when the section does not
 * exist in this message (RFC 3501 §6.4.5 leaves that to the server; callers answer an empty string).
 */
export function sectionRange(buf: Buffer, index: MessageIndex, spec: SectionSpec): ByteRange | Buffer | null {
  switch (spec.text) {
    case "": {
      if (spec.path.length === 0) return { start: 0, end: index.size };
      const p = resolvePart(index, spec.path);
      return p ? { start: p.bodyStart, end: p.bodyEnd } : null;
    }
    case "MIME": {
      const p = resolvePart(index, spec.path);
      return p ? { start: p.headerStart, end: p.headerEnd } : null;
    }
    case "HEADER": {
      const m = messageOf(index, spec.path);
      return m ? { start: m.headerStart, end: m.headerEnd } : null;
    }
    case "TEXT": {
      const m = messageOf(index, spec.path);
      return m ? { start: m.bodyStart, end: m.bodyEnd } : null;
    }
    case "HEADER.FIELDS":
    case "HEADER.FIELDS.NOT": {
      const m = messageOf(index, spec.path);
      return m ? headerFields(buf, m, spec.fields ?? [], spec.text === "HEADER.FIELDS.NOT") : null;
    }
  }
}

/** The section's bytes: a view of `buf` for ranges, or the built header subset. */
export function sectionBytes(buf: Buffer, index: MessageIndex, spec: SectionSpec): Buffer | null {
  const r = sectionRange(buf, index, spec);
  if (r === null || Buffer.isBuffer(r)) return r;
  return buf.subarray(r.start, r.end);
}

/** Every part path of a message (for tests and prefetching), in IMAP order: "1", "1.1", ... */
export function allPartPaths(index: MessageIndex): number[][] {
  const out: number[][] = [];
  // What the next part number indexes, mirroring resolvePart.
  const numbered = (part: MimePart, top: boolean): MimePart[] => {
    const p = !top && part.kind === "message" ? part.children[0] : part;
    return p.kind === "multipart" ? p.children : [p];
  };
  const walk = (part: MimePart, prefix: number[]): void => {
    numbered(part, prefix.length === 0).forEach((c, i) => {
      const path = [...prefix, i + 1];
      out.push(path);
      if (c.kind !== "leaf" && out.length < 100_000) walk(c, path);
    });
  };
  walk(index.root, []);
  return out;
}
