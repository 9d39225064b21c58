// Downgrading 8-bit MIME content to 7-bit transfer encodings (RFC 2045 §6), so a message can
// cross a hop without 8BITMIME (RFC 6152 §3) without changing what a reader decodes.
//
// Used at submission before DKIM signing: RFC 6376 §5.3 says signers SHOULD convert a message to
// quoted-printable or base64 before signing, because a relay that downgrades it later breaks the
// signature. Leaf parts are converted (text/* to quoted-printable, anything else to base64); a
// multipart or message/rfc822 entity is never encoded itself (RFC 2045 §6.4, RFC 2046 §5.2.1:
// only 7bit, 8bit or binary are allowed there) — its parts are converted and its label becomes
// 7bit. Header fields are left alone: 8-bit header fields need SMTPUTF8 (RFC 6532), which no
// transfer encoding can replace. Parts that are already 7-bit keep their exact bytes.
//
// The same conversion fixes lines longer than SMTP allows (RFC 5321 §4.5.3.1.6: 1000 octets
// including CRLF). We accept such lines inbound and store them as sent (issue 18), but a relay
// that enforces the limit refuses them, and one that folds them breaks every signature; so a part
// with a line over 998 octets is re-encoded too (a 7bit/8bit/binary leaf as above; a
// quoted-printable or base64 leaf is decoded and encoded again with 76-character lines). With
// `longLinesOnly` (forwarding: the body is someone else's and 8-bit is fine where 8BITMIME is),
// only parts with such lines are touched.
//
// The parser is deliberately small: it works on CRLF-terminated bytes (what submission stores),
// finds each entity's header block, reads Content-Type (type, boundary) and
// Content-Transfer-Encoding, and splits multipart bodies on their delimiter lines (RFC 2046 §5.1.1).

const CRLF = Buffer.from("\r\n");

export interface DowngradeResult {
  message: Buffer;
  /** Whether anything was re-encoded. */
  changed: boolean;
}

/** RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets including CRLF. */
export const MAX_LINE_OCTETS = 998;

export interface DowngradeOptions {
  /** Re-encode only parts with lines over MAX_LINE_OCTETS; leave 8-bit parts as they are. */
  longLinesOnly?: boolean;
}

/** Whether a line (between CRLFs, CRLF not counted) is longer than MAX_LINE_OCTETS. */
export function hasLongLine(buf: Buffer): boolean {
  let start = 0;
  for (;;) {
    const nl = buf.indexOf(CRLF, start);
    const end = nl < 0 ? buf.length : nl;
    if (end - start > MAX_LINE_OCTETS) return true;
    if (nl < 0) return false;
    start = nl + 2;
  }
}

function needsWork(buf: Buffer, opts: DowngradeOptions): boolean {
  return hasLongLine(buf) || (!opts.longLinesOnly && needsEncoding(buf));
}

/** Any byte ≥ 0x80 (RFC 6152 "8-bit data"), or NUL, CR or LF outside CRLF pairs (binary). */
function needsEncoding(buf: Buffer): boolean {
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i];
    if (b >= 0x80 || b === 0) return true;
    if (b === 0x0d && buf[i + 1] !== 0x0a) return true;
    if (b === 0x0a && buf[i - 1] !== 0x0d) return true;
  }
  return false;
}

/** Whether the body (after the header block) holds 8-bit or binary octets, or (also with
 * `longLinesOnly`) a line over 998 octets. */
export function bodyNeedsDowngrade(message: Buffer, opts: DowngradeOptions = {}): boolean {
  const { body } = splitEntity(message);
  return needsWork(body, opts);
}

interface Field {
  name: string;
  /** The whole field including folding, without its final CRLF. */
  raw: string;
}

function splitEntity(entity: Buffer): { header: Buffer; sep: Buffer; body: Buffer } {
  if (entity.subarray(0, 2).equals(CRLF)) return { header: Buffer.alloc(0), sep: CRLF, body: entity.subarray(2) };
  const end = entity.indexOf("\r\n\r\n");
  if (end < 0) return { header: entity, sep: Buffer.alloc(0), body: Buffer.alloc(0) };
  return { header: entity.subarray(0, end + 2), sep: CRLF, body: entity.subarray(end + 4) };
}

function parseFields(header: Buffer): Field[] {
  const out: Field[] = [];
  // latin1: one char per byte, so 8-bit header bytes come back unchanged.
  for (const line of header.toString("latin1").split("\r\n")) {
    if (line === "") continue;
    if ((line[0] === " " || line[0] === "\t") && out.length > 0) {
      out[out.length - 1].raw += "\r\n" + line;
      continue;
    }
    const colon = line.indexOf(":");
    out.push({ name: colon > 0 ? line.slice(0, colon).trim().toLowerCase() : "", raw: line });
  }
  return out;
}

function fieldValue(fields: Field[], name: string): string | null {
  const f = fields.find((x) => x.name === name);
  return f ? f.raw.slice(f.raw.indexOf(":") + 1).replace(/\r\n/g, "") : null;
}

/** RFC 2045 §5.1 type/subtype and the boundary parameter (quoted or token). */
function contentType(fields: Field[], parentDefault: string): { type: string; boundary: string | null } {
  const v = fieldValue(fields, "content-type");
  if (v === null) return { type: parentDefault, boundary: null };
  const type = (/^\s*([^;\s]+)/.exec(v)?.[1] ?? parentDefault).toLowerCase();
  const b = /;\s*boundary\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i.exec(v);
  const boundary = b ? (b[1] !== undefined ? b[1].replace(/\\(.)/g, "$1") : b[2]) : null;
  return { type, boundary };
}

function withEncoding(fields: Field[], cte: string, addMimeVersion: boolean): Buffer {
  const out: string[] = [];
  let replaced = false;
  for (const f of fields) {
    if (f.name === "content-transfer-encoding") {
      if (!replaced) out.push(`Content-Transfer-Encoding: ${cte}`);
      replaced = true;
      continue;
    }
    out.push(f.raw);
  }
  if (!replaced) out.push(`Content-Transfer-Encoding: ${cte}`);
  // A CTE means nothing to a reader without MIME-Version (RFC 2045 §4).
  if (addMimeVersion && !fields.some((f) => f.name === "mime-version")) out.push("MIME-Version: 1.0");
  return Buffer.from(out.map((l) => l + "\r\n").join(""), "latin1");
}

const HEX = "0123456789ABCDEF";

/**
 * RFC 2045 §6.7 quoted-printable. CRLF pairs are line breaks (kept as hard breaks); a lone CR or
 * LF is data (=0D, =0A). Lines are at most 76 characters, soft breaks included.
 */
export function encodeQuotedPrintable(data: Buffer): string {
  const lines: string[] = [];
  let start = 0;
  for (;;) {
    const nl = data.indexOf(CRLF, start);
    const end = nl < 0 ? data.length : nl;
    lines.push(encodeQpLine(data.subarray(start, end)));
    if (nl < 0) break;
    start = nl + 2;
  }
  return lines.join("\r\n");
}

function encodeQpLine(line: Buffer): string {
  const out: string[] = [];
  let cur = "";
  for (let i = 0; i < line.length; i++) {
    const b = line[i];
    const last = i === line.length - 1;
    let tok: string;
    // Rule 2 (literal printable), except "="; rule 3: SP/HTAB only when not at the end of a line.
    if ((b >= 33 && b <= 126 && b !== 61) || ((b === 32 || b === 9) && !last)) tok = String.fromCharCode(b);
    else tok = "=" + HEX[b >> 4] + HEX[b & 15];
    // Rule 5: at most 76 characters per line including the "=" of a soft break.
    const room = last ? 76 : 75;
    if (cur.length + tok.length > room) {
      // A space or tab before a soft break is fine: the "=" follows it (rule 3).
      out.push(cur + "=");
      cur = "";
    }
    cur += tok;
  }
  out.push(cur);
  return out.join("\r\n");
}

/** RFC 2045 §6.7 decoding: "=XX" octets, "=" at a line end is a soft break, trailing
 * whitespace dropped (rule 3); anything malformed is kept literally, as readers do. */
export function decodeQuotedPrintable(text: Buffer): Buffer {
  const out: number[] = [];
  const lines = text.toString("latin1").split("\r\n");
  const hex = (c: string) => "0123456789ABCDEFabcdef".includes(c);
  lines.forEach((raw, n) => {
    const line = raw.replace(/[ \t]+$/, "");
    let soft = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (c === "=" && i === line.length - 1) {
        soft = true;
        break;
      }
      if (c === "=" && hex(line[i + 1] ?? "") && hex(line[i + 2] ?? "")) {
        out.push(parseInt(line.slice(i + 1, i + 3), 16));
        i += 2;
      } else out.push(line.charCodeAt(i));
    }
    if (!soft && n < lines.length - 1) out.push(0x0d, 0x0a);
  });
  return Buffer.from(out);
}

function encodeBase64(data: Buffer): string {
  const b64 = data.toString("base64");
  const lines: string[] = [];
  // RFC 2045 §6.8: encoded lines of at most 76 characters.
  for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
  return lines.join("\r\n");
}

/** Converts one entity (header, blank line, body); `top` is the message itself. */
function convertEntity(entity: Buffer, parentDefault: string, top: boolean, opts: DowngradeOptions): DowngradeResult {
  const { header, sep, body } = splitEntity(entity);
  if (!needsWork(body, opts)) return { message: entity, changed: false };
  const fields = parseFields(header);
  const { type, boundary } = contentType(fields, parentDefault);
  const cte = (fieldValue(fields, "content-transfer-encoding") ?? "7bit").trim().toLowerCase();

  if (type.startsWith("multipart/") && boundary) {
    const inner = convertMultipart(body, boundary, type === "multipart/digest" ? "message/rfc822" : "text/plain", opts);
    // RFC 2045 §6.4: a multipart is labelled 7bit once nothing inside is 8-bit (it keeps its
    // label when only long lines were fixed and 8-bit parts may remain).
    const newHeader = cte === "7bit" || needsEncoding(inner.message) ? header : withEncoding(fields, "7bit", false);
    return { message: Buffer.concat([newHeader, sep, inner.message]), changed: true };
  }
  if (type === "message/rfc822") {
    const inner = convertEntity(body, "text/plain", false, opts);
    const newHeader = cte === "7bit" || needsEncoding(inner.message) ? header : withEncoding(fields, "7bit", false);
    return { message: Buffer.concat([newHeader, sep, inner.message]), changed: true };
  }
  if (cte === "quoted-printable" || cte === "base64") {
    // Already encoded; 8-bit bytes here are broken input we do not guess about. Over-long
    // encoded lines (also out of spec, RFC 2045 §6.7 rule 5, §6.8) are decoded and encoded again
    // in the same encoding: what a reader decodes stays the same.
    if (!hasLongLine(body)) return { message: entity, changed: false };
    const decoded = cte === "base64" ? Buffer.from(body.toString("latin1"), "base64") : decodeQuotedPrintable(body);
    const again = cte === "base64" ? encodeBase64(decoded) + (decoded.length > 0 ? "\r\n" : "") : encodeQuotedPrintable(decoded);
    return { message: Buffer.concat([header, sep.length ? sep : CRLF, Buffer.from(again, "latin1")]), changed: true };
  }
  const text = type.startsWith("text/");
  const encoded = text ? encodeQuotedPrintable(body) : encodeBase64(body);
  const newHeader = withEncoding(fields, text ? "quoted-printable" : "base64", top);
  // The body keeps a final line break if it had one (base64 output never ends in one).
  const tail = !text && body.length > 0 ? "\r\n" : "";
  return { message: Buffer.concat([newHeader, sep.length ? sep : CRLF, Buffer.from(encoded + tail, "latin1")]), changed: true };
}

/** RFC 2046 §5.1.1: parts between "--boundary" lines, ended by "--boundary--". */
function convertMultipart(body: Buffer, boundary: string, partDefault: string, opts: DowngradeOptions): DowngradeResult {
  const delim = Buffer.from(`--${boundary}`, "latin1");
  // Delimiter positions: at the start of the body or after a CRLF.
  const marks: number[] = [];
  let pos = 0;
  while ((pos = body.indexOf(delim, pos)) >= 0) {
    if (pos === 0 || (body[pos - 2] === 0x0d && body[pos - 1] === 0x0a)) marks.push(pos);
    pos += delim.length;
  }
  if (marks.length === 0) return { message: body, changed: false };
  const out: Buffer[] = [scrub(body.subarray(0, marks[0]), opts)];
  let changed = false;
  for (let i = 0; i < marks.length; i++) {
    const lineEnd = body.indexOf(CRLF, marks[i]);
    const delimLine = body.subarray(marks[i], lineEnd < 0 ? body.length : lineEnd + 2);
    out.push(delimLine);
    const closing = body.subarray(marks[i] + delim.length, marks[i] + delim.length + 2).toString("latin1") === "--";
    const partStart = marks[i] + delimLine.length;
    if (closing || i === marks.length - 1) {
      // Epilogue (or an unterminated last part, treated as a part).
      const rest = body.subarray(partStart);
      if (closing) out.push(scrub(rest, opts));
      else {
        const r = convertEntity(rest, partDefault, false, opts);
        changed ||= r.changed;
        out.push(r.message);
      }
      break;
    }
    // The CRLF before the next delimiter belongs to the delimiter (RFC 2046 §5.1.1).
    const partEnd = marks[i + 1] - 2;
    const r = convertEntity(body.subarray(partStart, Math.max(partStart, partEnd)), partDefault, false, opts);
    changed ||= r.changed;
    out.push(r.message, body.subarray(Math.max(partStart, partEnd), marks[i + 1]));
  }
  return { message: Buffer.concat(out), changed };
}

/** Preamble and epilogue are ignored by readers (RFC 2046 §5.1.1): 8-bit octets become "?"
 * (not with `longLinesOnly`), lines over 998 octets are broken. */
function scrub(b: Buffer, opts: DowngradeOptions): Buffer {
  if (!needsWork(b, opts)) return b;
  let c = Buffer.from(b);
  if (!opts.longLinesOnly) for (let i = 0; i < c.length; i++) if (c[i] >= 0x80 || c[i] === 0) c[i] = 0x3f;
  if (hasLongLine(c)) {
    const lines = c.toString("latin1").split("\r\n");
    c = Buffer.from(lines.map((l) => l.match(new RegExp(`[^]{1,${MAX_LINE_OCTETS}}`, "g"))?.join("\r\n") ?? "").join("\r\n"), "latin1");
  }
  return c;
}

/**
 * Re-encodes every 8-bit or binary leaf of `message` (CRLF line endings), and every leaf with a
 * line over 998 octets, with a 7-bit transfer encoding (only the latter with `longLinesOnly`).
 * The result decodes to the same content; header fields are unchanged except the
 * Content-Transfer-Encoding of converted entities (and MIME-Version added when missing). Long
 * header lines are not changed (no transfer encoding applies to them).
 */
export function downgradeTo7bit(message: Buffer, opts: DowngradeOptions = {}): DowngradeResult {
  return convertEntity(message, "text/plain", true, opts);
}
