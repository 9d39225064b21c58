// BINARY section data (RFC 3516 §4.1; RFC 9051 §6.4.5 BINARY[<section-binary>]): a section with
// its Content-Transfer-Encoding removed. A leaf part is its decoded body. A multipart or a
// message/rfc822 part, and the whole message (BINARY[]), has no encoding of its own (RFC 2045
// §6.4, RFC 2046 §5.1.1, §5.2.1: only 7bit, 8bit or binary there), so it is returned whole with
// every leaf inside it decoded and that leaf's Content-Transfer-Encoding field relabelled
// "binary", so the result still describes itself — as Dovecot answers. An encoding we cannot
// decode anywhere inside is [UNKNOWN-CTE] (RFC 3516 §4.3).
import type { MessageIndex, MimePart } from "../mail/structure.ts";
import { parseHeaderFields } from "../mail/header.ts";
import { resolvePart } from "../mail/section.ts";
import { decodeTransfer } from "./transfer-decode.ts";

export class UnknownCte extends Error {}

/** Encodings whose bytes are the content already (RFC 2045 §6.2). */
const IDENTITY = new Set(["", "7bit", "8bit", "binary"]);

/** The decoded data of BINARY[path]; path [] is the whole message. Throws UnknownCte. */
export function binarySection(buf: Buffer, index: MessageIndex, path: readonly number[]): Buffer {
  if (path.length === 0) return Buffer.concat(entity(buf, index.root));
  const part = resolvePart(index, [...path]);
  // RFC 9051 §6.4.5: a section that does not exist is an empty string.
  if (!part) return Buffer.alloc(0);
  return Buffer.concat(body(buf, part));
}

/** The value of a part's Content-Transfer-Encoding field and where that field is, if any. */
function cteField(buf: Buffer, part: MimePart): { value: string; start: number; valueStart: number; end: number } | null {
  for (const f of parseHeaderFields(buf, part.headerStart, part.headerEnd)) {
    if (f.colon && f.key === "content-transfer-encoding") {
      const value = buf.toString("latin1", f.valueStart, f.end).replace(/\r?\n[ \t]/g, " ");
      // RFC 2045 §6.1: the mechanism is a token, case-insensitive; a comment may follow.
      return { value: value.replace(/\(.*$/s, "").trim().toLowerCase(), start: f.start, valueStart: f.valueStart, end: f.end };
    }
  }
  return null;
}

/** A part with its header: a leaf's encoding field says "binary" once its body is decoded. */
function entity(buf: Buffer, part: MimePart): Buffer[] {
  const header = buf.subarray(part.headerStart, part.headerEnd);
  if (part.kind === "leaf") {
    const f = cteField(buf, part);
    if (f && !IDENTITY.has(f.value)) {
      const eol = buf[f.end - 1] !== 0x0a ? "" : buf[f.end - 2] === 0x0d ? "\r\n" : "\n";
      return [
        buf.subarray(part.headerStart, f.valueStart),
        Buffer.from(" binary" + eol),
        buf.subarray(f.end, part.headerEnd),
        ...body(buf, part),
      ];
    }
  }
  return [header, ...body(buf, part)];
}

/** A part's body, decoded: a leaf by its own encoding, a container part by part. */
function body(buf: Buffer, part: MimePart): Buffer[] {
  if (part.kind === "leaf") {
    const f = cteField(buf, part);
    const d = decodeTransfer(buf.subarray(part.bodyStart, part.bodyEnd), f ? f.value : null);
    if (d === null) throw new UnknownCte(`Unknown Content-Transfer-Encoding ${f?.value ?? ""}`.trim());
    return [d];
  }
  // The bytes between the children (preamble, boundary lines, epilogue) stay as they are.
  const out: Buffer[] = [];
  let at = part.bodyStart;
  for (const child of part.children) {
    out.push(buf.subarray(at, child.headerStart), ...entity(buf, child));
    at = child.bodyEnd;
  }
  out.push(buf.subarray(at, part.bodyEnd));
  return out;
}
