// The message model as IMAP FETCH uses it: one pass at delivery/APPEND time yields everything
// that is cached in the metadata store (structure index, ENVELOPE, BODYSTRUCTURE); sections are
// then byte ranges of the stored bytes (server-added trace fields + blob) that FETCH streams.
import { buildBodyStructure, bodyStructureValue, type BodyStructure } from "./bodystructure.ts";
import { buildEnvelope, envelopeValue, type Envelope } from "./envelope.ts";
import { renderImap } from "./imap-string.ts";
import type { ByteRange } from "./section.ts";
import { indexMessage, type MessageIndex } from "./structure.ts";

/** Plain data (JSON round-trips unchanged): what the metadata store caches per message. */
export interface MessageModel {
  index: MessageIndex;
  envelope: Envelope;
  bodyStructure: BodyStructure;
}

/** Analyses stored bytes: trace fields followed by the blob, as one buffer. Never throws. */
export function analyzeMessage(stored: Buffer): MessageModel {
  const index = indexMessage(stored);
  return {
    index,
    envelope: buildEnvelope(stored, index.root.headerStart, index.root.headerEnd),
    bodyStructure: buildBodyStructure(stored, index),
  };
}

/** ENVELOPE wire form (RFC 3501 §7.4.2). */
export function renderEnvelope(e: Envelope): Buffer {
  return renderImap(envelopeValue(e));
}

/** BODYSTRUCTURE (extended) or BODY (not extended) wire form (RFC 3501 §7.4.2). */
export function renderBodyStructure(bs: BodyStructure, extended = true): Buffer {
  return renderImap(bodyStructureValue(bs, extended));
}

/**
 * Section data for BODY[...] / RFC822.*: a literal is CHAR8 (RFC 3501 §9), so NUL octets are sent
 * as 0x80, as Dovecot does; sizes stay the same. BINARY[...] (RFC 3516) sends the real octets.
 */
export function nulToHigh(b: Buffer): Buffer {
  if (!b.includes(0)) return b;
  const out = Buffer.from(b);
  for (let i = out.indexOf(0); i >= 0; i = out.indexOf(0, i + 1)) out[i] = 0x80;
  return out;
}

/** RFC 3501 §6.4.5 partial fetch <origin.count> applied to a range. */
export function partialRange(r: ByteRange, origin: number, count?: number): ByteRange {
  const start = Math.min(r.end, r.start + Math.max(0, origin));
  const end = count === undefined ? r.end : Math.min(r.end, start + Math.max(0, count));
  return { start, end };
}

/**
 * Splits a range of the stored bytes into the part in the trace-field prefix and the part in the
 * blob (blob offsets relative to the blob), so FETCH can stream each from where it lives.
 */
export function splitRange(r: ByteRange, prefixLength: number): { prefix: ByteRange | null; blob: ByteRange | null } {
  const prefix = r.start < prefixLength ? { start: r.start, end: Math.min(r.end, prefixLength) } : null;
  const blob = r.end > prefixLength ? { start: Math.max(r.start, prefixLength) - prefixLength, end: r.end - prefixLength } : null;
  return {
    prefix: prefix && prefix.end > prefix.start ? prefix : null,
    blob: blob && blob.end > blob.start ? blob : null,
  };
}
