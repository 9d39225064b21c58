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
// The parser is deliberately small: it works on CRLF-terminated bytes (what submission stores),
// finds each entity's header block, reads Content-Type (type, boundary) and
// Content-Transfer-Encoding, and splits multipart bodies on their delimiter lines (RFC 2046 §5.1.1).

const CRLF = Buffer.from("\r\n");

export interface DowngradeResult {
  message: Buffer;
  /** Whether anything was re-encoded. */
  changed: boolean;
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

/** Whether the body (after the header block) holds 8-bit or binary octets. */
export function bodyNeedsDowngrade(message: Buffer): boolean {
  const { body } = splitEntity(message);
  return needsEncoding(body);
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

function encodeBase64(data: Buffer): string {
  const b64 = data.toString("base64");
  const lines: string[] = [];
  // RFC 2045 §6.8: encoded lines of at most 76 characters.
  for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
  return lines.join("\r\n");
}

/** Converts one entity (header, blank line, body); `top` is the message itself. */
function convertEntity(entity: Buffer, parentDefault: string, top: boolean): DowngradeResult {
  const { header, sep, body } = splitEntity(entity);
  if (!needsEncoding(body)) return { message: entity, changed: false };
  const fields = parseFields(header);
  const { type, boundary } = contentType(fields, parentDefault);
  const cte = (fieldValue(fields, "content-transfer-encoding") ?? "7bit").trim().toLowerCase();

  if (type.startsWith("multipart/") && boundary) {
    const inner = convertMultipart(body, boundary, type === "multipart/digest" ? "message/rfc822" : "text/plain");
    // RFC 2045 §6.4: a multipart is labelled 7bit once nothing inside is 8-bit.
    const newHeader = cte === "7bit" ? header : withEncoding(fields, "7bit", false);
    return { message: Buffer.concat([newHeader, sep, inner.message]), changed: true };
  }
  if (type === "message/rfc822") {
    const inner = convertEntity(body, "text/plain", false);
    const newHeader = cte === "7bit" ? header : withEncoding(fields, "7bit", false);
    return { message: Buffer.concat([newHeader, sep, inner.message]), changed: true };
  }
  if (cte === "quoted-printable" || cte === "base64") {
    // Already encoded; 8-bit bytes here are broken input we do not guess about.
    return { message: entity, changed: false };
  }
  const text = type.startsWith("text/");
  const encoded = text ? encodeQuotedPrintable(body) : encodeBase64(body);
  const newHeader = withEncoding(fields, text ? "quoted-printable" : "base64", top);
  // The body keeps a final line break if it had one (base64 output never ends in one).
  const tail = !text && body.length > 0 ? "\r\n" : "";
  return { message: Buffer.concat([newHeader, sep.length ? sep : CRLF, Buffer.from(encoded + tail, "latin1")]), changed: true };
}

/** RFC 2046 §5.1.1: parts between "--boundary" lines, ended by "--boundary--". */
function convertMultipart(body: Buffer, boundary: string, partDefault: string): DowngradeResult {
  const delim = Buffer.from(`--${boundary}`, "latin1");
  // Delimiter positions: at the start of the body or after a CRLF.
  const marks: number[] = [];
  let pos = 0;
  while ((pos = body.indexOf(delim, pos)) >= 0) {
    if (pos === 0 || (body[pos - 2] === 0x0d && body[pos - 1] === 0x0a)) marks.push(pos);
    pos += delim.length;
  }
  if (marks.length === 0) return { message: body, changed: false };
  const out: Buffer[] = [scrub(body.subarray(0, marks[0]))];
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
      if (closing) out.push(scrub(rest));
      else {
        const r = convertEntity(rest, partDefault, false);
        changed ||= r.changed;
        out.push(r.message);
      }
      break;
    }
    // The CRLF before the next delimiter belongs to the delimiter (RFC 2046 §5.1.1).
    const partEnd = marks[i + 1] - 2;
    const r = convertEntity(body.subarray(partStart, Math.max(partStart, partEnd)), partDefault, false);
    changed ||= r.changed;
    out.push(r.message, body.subarray(Math.max(partStart, partEnd), marks[i + 1]));
  }
  return { message: Buffer.concat(out), changed };
}

/** Preamble and epilogue are ignored by readers (RFC 2046 §5.1.1): 8-bit octets become "?". */
function scrub(b: Buffer): Buffer {
  if (!needsEncoding(b)) return b;
  const c = Buffer.from(b);
  for (let i = 0; i < c.length; i++) if (c[i] >= 0x80 || c[i] === 0) c[i] = 0x3f;
  return c;
}

/**
 * Re-encodes every 8-bit or binary leaf of `message` (CRLF line endings) with a 7-bit transfer
 * encoding. The result decodes to the same content; header fields are unchanged except the
 * Content-Transfer-Encoding of converted entities (and MIME-Version added when missing).
 */
export function downgradeTo7bit(message: Buffer): DowngradeResult {
  return convertEntity(message, "text/plain", true);
}
