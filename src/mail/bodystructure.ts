// BODYSTRUCTURE and BODY (RFC 3501 §7.4.2, RFC 9051 §7.5.2) from the structure index. The result
// is plain data (JSON-serialisable, cacheable in the metadata store); bodyStructureValue turns it
// into an IMAP value list. Strings are latin1 (one char per stored byte), already normalised the
// way they go on the wire, case kept as written, as Dovecot does.
import { parseDisposition, parseLanguage, parseTransferEncoding, type Param } from "./content.ts";
import { buildEnvelope, envelopeValue, type Envelope } from "./envelope.ts";
import { fieldValue, parseHeaderFields } from "./header.ts";
import type { ImapValue } from "./imap-string.ts";
import { countLines, type MessageIndex, type MimePart } from "./structure.ts";

export interface Disposition {
  type: string;
  params: Param[] | null;
}

/** Extension data common to every part (RFC 3501 §7.4.2 body-ext-1part / body-ext-mpart). */
interface Ext {
  disposition: Disposition | null;
  language: string[] | null;
  location: string | null;
}

export interface MultipartStructure extends Ext {
  kind: "multipart";
  parts: BodyStructure[];
  subtype: string;
  params: Param[] | null;
}

export interface SinglePartStructure extends Ext {
  kind: "single";
  type: string;
  subtype: string;
  params: Param[] | null;
  id: string | null;
  description: string | null;
  encoding: string;
  /** Body size in octets as stored. */
  size: number;
  /** text/*: body lines (RFC 3501 body-type-text). */
  lines?: number;
  /** message/rfc822: the encapsulated message (RFC 3501 body-type-msg). */
  envelope?: Envelope;
  body?: BodyStructure;
  md5: string | null;
}

export type BodyStructure = MultipartStructure | SinglePartStructure;

// Header values are sent unfolded (RFC 5322 §2.2.3) but otherwise as written, white space
// included, as Dovecot does; only NUL, which no IMAP string can carry (RFC 3501 §9), becomes 0x80.
const h = (s: string): string => (s.includes("\0") ? s.replace(/\0/g, "\x80") : s);
const hParams = (p: Param[]): Param[] | null => (p.length === 0 ? null : p.map(([n, v]) => [h(n), h(v)]));

interface ContentFields {
  id: string | null;
  description: string | null;
  md5: string | null;
  encoding: string | null;
  disposition: Disposition | null;
  language: string[] | null;
  location: string | null;
}

// RFC 2045 §3: Content-* fields count only in a MIME entity. Each should occur once; when one is
// repeated we pick as Dovecot does, so clients see the same structure from both: the first one
// that parses wins, except that a disposition without parameters yields to a later one.
function contentFields(buf: Buffer, part: MimePart): ContentFields {
  const out: ContentFields = { id: null, description: null, md5: null, encoding: null, disposition: null, language: null, location: null };
  if (!part.isMime) return out;
  for (const f of parseHeaderFields(buf, part.headerStart, part.headerEnd)) {
    if (!f.colon || !f.key.startsWith("content-")) continue;
    const v = fieldValue(buf, f).toString("latin1");
    switch (f.key) {
      case "content-id":
        out.id ??= h(v);
        break;
      case "content-description":
        out.description ??= h(v);
        break;
      case "content-md5":
        out.md5 ??= h(v);
        break;
      case "content-location":
        out.location ??= h(v);
        break;
      case "content-transfer-encoding": {
        const e = parseTransferEncoding(v);
        if (out.encoding === null && e !== null) out.encoding = h(e);
        break;
      }
      case "content-disposition": {
        if (out.disposition?.params) break;
        const d = parseDisposition(v);
        out.disposition = { type: h(d.type), params: hParams(d.params) };
        break;
      }
      case "content-language": {
        const l = parseLanguage(v);
        if (out.language === null && l.length > 0) out.language = l.map(h);
        break;
      }
    }
  }
  return out;
}

// RFC 3501 §7.4.2 requires at least one part in a multipart; one without any gets an empty
// text/plain, as Dovecot sends.
const EMPTY_TEXT: SinglePartStructure = {
  kind: "single",
  type: "text",
  subtype: "plain",
  params: [["charset", "us-ascii"]],
  id: null,
  description: null,
  encoding: "7bit",
  size: 0,
  lines: 0,
  md5: null,
  disposition: null,
  language: null,
  location: null,
};

function structureOf(buf: Buffer, part: MimePart): BodyStructure {
  const c = contentFields(buf, part);
  const ext = { disposition: c.disposition, language: c.language, location: c.location };
  const ct = part.isMime ? part.contentType : null;
  if (part.kind === "multipart") {
    return {
      kind: "multipart",
      parts: part.children.length > 0 ? part.children.map((p) => structureOf(buf, p)) : [{ ...EMPTY_TEXT }],
      subtype: ct ? h(ct.subtype) : "x-unknown",
      params: ct ? hParams(ct.params) : null,
      ...ext,
    };
  }
  const size = part.bodyEnd - part.bodyStart;
  const base = { id: c.id, description: c.description, encoding: c.encoding ?? "7bit", size, md5: c.md5, ...ext };
  if (part.kind === "message") {
    const inner = part.children[0];
    return {
      kind: "single",
      type: "message",
      subtype: "rfc822",
      params: ct ? hParams(ct.params) : null,
      ...base,
      envelope: buildEnvelope(buf, inner.headerStart, inner.headerEnd),
      body: structureOf(buf, inner),
      lines: countLines(buf, part.bodyStart, part.bodyEnd),
    };
  }
  // RFC 2045 §5.2: no Content-Type means text/plain; charset=us-ascii.
  const text = ct === null || ct.type.toLowerCase() === "text";
  const params = ct ? [...ct.params] : [];
  if (text && !params.some(([n]) => n.toLowerCase() === "charset")) params.push(["charset", "us-ascii"]);
  const s: SinglePartStructure = {
    kind: "single",
    type: ct ? h(ct.type) : "text",
    subtype: ct ? h(ct.subtype) : "plain",
    params: hParams(params),
    ...base,
  };
  if (text) s.lines = countLines(buf, part.bodyStart, part.bodyEnd);
  return s;
}

/** BODYSTRUCTURE data of an indexed message. */
export function buildBodyStructure(buf: Buffer, index: MessageIndex): BodyStructure {
  return structureOf(buf, index.root);
}

const paramsValue = (p: Param[] | null): ImapValue => (p === null ? null : p.flat());
const dispValue = (d: Disposition | null): ImapValue => (d === null ? null : [d.type, paramsValue(d.params)]);

/**
 * The IMAP value of a structure: `extended` true gives BODYSTRUCTURE, false gives BODY
 * (RFC 3501 §7.4.2: BODY is BODYSTRUCTURE without extension data).
 */
export function bodyStructureValue(s: BodyStructure, extended = true): ImapValue {
  if (s.kind === "multipart") {
    const v: ImapValue[] = [{ adjacent: s.parts.map((p) => bodyStructureValue(p, extended)) }, s.subtype];
    if (extended) v.push(paramsValue(s.params), dispValue(s.disposition), s.language, s.location);
    return v;
  }
  const v: ImapValue[] = [s.type, s.subtype, paramsValue(s.params), s.id, s.description, s.encoding, s.size];
  if (s.envelope !== undefined && s.body !== undefined) {
    v.push(envelopeValue(s.envelope), bodyStructureValue(s.body, extended), s.lines ?? 0);
  } else if (s.lines !== undefined) {
    v.push(s.lines);
  }
  if (extended) v.push(s.md5, dispValue(s.disposition), s.language, s.location);
  return v;
}
