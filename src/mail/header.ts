// Header block parsing over stored bytes (RFC 5322 §2.2). Lenient: LF-only or CRLF line endings,
// lines without a colon kept as nameless garbage, 8-bit bytes and NULs passed through. Nothing
// here throws.

export interface HeaderField {
  /** Field name as written (latin1), trailing white space removed; a line without a colon is all name. */
  name: string;
  /** False for a line without a colon: not a field, but still a header line (HEADER.FIELDS.NOT keeps it). */
  colon: boolean;
  /** Lower-cased name, for lookups. */
  key: string;
  /** Offset of the field's first byte. */
  start: number;
  /** Offset just past the field's last line ending (continuation lines included). */
  end: number;
  /** Offset of the first byte after the colon; equals `end` for a line without a colon. */
  valueStart: number;
}

/** Offset just past the line that starts at `pos` (after its LF, or `end` when there is none). */
export function lineEnd(buf: Buffer, pos: number, end: number): number {
  const nl = buf.indexOf(0x0a, pos);
  return nl < 0 || nl >= end ? end : nl + 1;
}

/** Splits [start, end) (a header block, blank line optional) into fields. */
export function parseHeaderFields(buf: Buffer, start: number, end: number): HeaderField[] {
  const fields: HeaderField[] = [];
  let pos = start;
  while (pos < end) {
    const le = lineEnd(buf, pos, end);
    // RFC 5322 §2.2: the header ends at the first empty line.
    if (buf[pos] === 0x0a || (buf[pos] === 0x0d && buf[pos + 1] === 0x0a && pos + 1 < end)) break;
    // RFC 5322 §2.2.3: a line beginning with WSP continues the previous field.
    if ((buf[pos] === 0x20 || buf[pos] === 0x09) && fields.length > 0) {
      fields[fields.length - 1].end = le;
      pos = le;
      continue;
    }
    // Search this line only: a long run of colon-less lines must stay linear.
    const c = buf.subarray(pos, le).indexOf(0x3a);
    const colon = c < 0 ? -1 : pos + c;
    if (colon < 0) {
      const name = buf.toString("latin1", pos, le).replace(/[\r\n]+$/, "");
      fields.push({ name, colon: false, key: name.toLowerCase(), start: pos, end: le, valueStart: le });
    } else {
      const name = buf.toString("latin1", pos, colon).replace(/[ \t]+$/, "");
      fields.push({ name, colon: true, key: name.toLowerCase(), start: pos, end: le, valueStart: colon + 1 });
    }
    pos = le;
  }
  return fields;
}

/**
 * The unfolded value of a field (RFC 5322 §2.2.3: unfolding removes each CRLF before WSP), with
 * leading white space and the final line ending removed. A NUL (never valid in a header, RFC 5322
 * §2.2) becomes U+FFFD in UTF-8, as Dovecot does, so no IMAP string ever has to carry one.
 */
export function fieldValue(buf: Buffer, f: HeaderField): Buffer {
  let s = f.valueStart;
  while (s < f.end && (buf[s] === 0x20 || buf[s] === 0x09)) s++;
  const out = Buffer.allocUnsafe((f.end - s) * 3);
  let n = 0;
  for (let i = s; i < f.end; i++) {
    const c = buf[i];
    if (c === 0x0a) continue;
    if (c === 0x0d && (i + 1 >= f.end || buf[i + 1] === 0x0a)) continue;
    if (c === 0) {
      out[n++] = 0xef;
      out[n++] = 0xbf;
      out[n++] = 0xbd;
    } else out[n++] = c;
  }
  return Buffer.from(out.subarray(0, n));
}
