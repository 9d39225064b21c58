// FETCH response items (RFC 9051 §7.5.2): ENVELOPE and BODYSTRUCTURE in their wire shape, body
// sections as literals (deferred when streamed from the blob), BINARY (RFC 3516 §4.1), MODSEQ.

import { WireWriter, atom, bytes, concat, deferred, list, nil, nstr, num, raw, str } from './wire-values.ts';
import type { DeferredBody, ResponseChunk, WireMode, WireValue } from './wire-values.ts';
import type { Section } from './commands.ts';
import { formatSection } from './parse-fetch.ts';
import { formatDateTime } from './datetime.ts';
import type { ImapDateTime } from './datetime.ts';

// RFC 9051 §7.5.2 ENVELOPE: one shape, the message model's (src/mail/envelope.ts builds it).
import type { Envelope, EnvelopeAddress } from "../../mail/envelope.ts";
export type { Envelope, EnvelopeAddress };

export interface Disposition {
  type: string;
  params: Array<[string, string]> | null;
}

interface PartExtension {
  disposition: Disposition | null;
  language: string[] | null;
  location: string | null;
}

export interface SinglePart extends PartExtension {
  type: string;
  subtype: string;
  params: Array<[string, string]> | null;
  id: string | null;
  description: string | null;
  encoding: string;
  size: number;
  /** Lines of text/* and message/rfc822 parts. */
  lines?: number;
  /** For message/rfc822 (and message/global, RFC 6532 §5): the enclosed message. */
  message?: { envelope: Envelope; body: BodyStructure };
  md5: string | null;
}

export interface Multipart extends PartExtension {
  type: 'multipart';
  subtype: string;
  parts: BodyStructure[];
  params: Array<[string, string]> | null;
}

export type BodyStructure = SinglePart | Multipart;

function addresses(l: EnvelopeAddress[] | null): WireValue {
  if (!l || l.length === 0) return nil;
  // RFC 9051 §9: env-from = "(" 1*address ")" — addresses follow each other with no space.
  return list([concat(l.map((a) => list([nstr(a.name), nstr(a.adl), nstr(a.mailbox), nstr(a.host)])))]);
}

/** RFC 9051 §7.5.2 ENVELOPE field order. */
export function envelopeValue(e: Envelope): WireValue {
  return list([
    nstr(e.date),
    nstr(e.subject),
    addresses(e.from),
    addresses(e.sender),
    addresses(e.replyTo),
    addresses(e.to),
    addresses(e.cc),
    addresses(e.bcc),
    nstr(e.inReplyTo),
    nstr(e.messageId),
  ]);
}

function params(p: Array<[string, string]> | null): WireValue {
  if (!p || p.length === 0) return nil;
  return list(p.flatMap(([k, v]) => [str(k), str(v)]));
}

function disposition(d: Disposition | null): WireValue {
  return d ? list([str(d.type), params(d.params)]) : nil;
}

function language(l: string[] | null): WireValue {
  if (!l || l.length === 0) return nil;
  return l.length === 1 ? str(l[0]) : list(l.map(str));
}

/**
 * RFC 9051 §9 body: BODYSTRUCTURE when `extended`, the non-extensible BODY otherwise.
 * body-type-1part = (body-type-basic / body-type-msg / body-type-text) [SP body-ext-1part]
 */
export function bodyStructureValue(b: BodyStructure, extended: boolean): WireValue {
  if ('parts' in b) {
    const items: WireValue[] = b.parts.map((p) => bodyStructureValue(p, extended));
    items.push(str(b.subtype));
    if (extended) items.push(params(b.params), disposition(b.disposition), language(b.language), nstr(b.location));
    // 1*body SP media-subtype: the parts are not separated by spaces (RFC 9051 §9).
    return list([concat(items.slice(0, b.parts.length)), ...items.slice(b.parts.length)]);
  }
  const items: WireValue[] = [
    str(b.type),
    str(b.subtype),
    params(b.params),
    nstr(b.id),
    nstr(b.description),
    str(b.encoding),
    num(b.size),
  ];
  if (b.message) items.push(envelopeValue(b.message.envelope), bodyStructureValue(b.message.body, extended));
  if (b.lines !== undefined && (b.message || b.type.toLowerCase() === 'text')) items.push(num(b.lines));
  if (extended) items.push(nstr(b.md5), disposition(b.disposition), language(b.language), nstr(b.location));
  return list(items);
}

export type FetchValue =
  | { kind: 'UID'; uid: number }
  | { kind: 'FLAGS'; flags: string[] }
  | { kind: 'MODSEQ'; modseq: number | bigint }
  | { kind: 'INTERNALDATE'; date: ImapDateTime }
  | { kind: 'SAVEDATE'; date: ImapDateTime | null }
  | { kind: 'RFC822.SIZE'; size: number }
  | { kind: 'ENVELOPE'; envelope: Envelope }
  | { kind: 'BODYSTRUCTURE' | 'BODY'; structure: BodyStructure }
  /** data null: the section does not exist (RFC 9051 §6.4.5 answers NIL). */
  | { kind: 'BODY[]'; section: Section; origin: number | null; data: Uint8Array | DeferredBody | null }
  /** binary: the data holds NUL, so it goes out as literal8 (RFC 3516 §4.2). */
  | { kind: 'BINARY[]'; part: number[]; origin: number | null; data: Uint8Array | DeferredBody | null; binary: boolean }
  | { kind: 'BINARY.SIZE'; part: number[]; size: number }
  | { kind: 'RFC822' | 'RFC822.HEADER' | 'RFC822.TEXT'; data: Uint8Array | DeferredBody };

function dataValue(d: Uint8Array | DeferredBody | null, binary = false): WireValue {
  if (d === null) return nil;
  if (d instanceof Uint8Array) return bytes(d, binary);
  return deferred(d, binary);
}

function item(v: FetchValue): WireValue[] {
  switch (v.kind) {
    case 'UID':
      return [atom('UID'), num(v.uid)];
    case 'FLAGS':
      return [atom('FLAGS'), raw(`(${v.flags.join(' ')})`)];
    case 'MODSEQ':
      return [atom('MODSEQ'), raw(`(${v.modseq})`)]; // RFC 7162 §3.1.4.1
    case 'INTERNALDATE':
      return [atom('INTERNALDATE'), raw(formatDateTime(v.date))];
    case 'SAVEDATE':
      return [atom('SAVEDATE'), v.date ? raw(formatDateTime(v.date)) : nil]; // RFC 8514 §4
    case 'RFC822.SIZE':
      return [atom('RFC822.SIZE'), num(v.size)];
    case 'ENVELOPE':
      return [atom('ENVELOPE'), envelopeValue(v.envelope)];
    case 'BODYSTRUCTURE':
    case 'BODY':
      return [atom(v.kind), bodyStructureValue(v.structure, v.kind === 'BODYSTRUCTURE')];
    case 'BODY[]':
      // RFC 9051 §7.5.2: BODY[section]<origin> — only the start octet is echoed.
      return [raw(`BODY[${formatSection(v.section)}]${v.origin !== null ? `<${v.origin}>` : ''}`), dataValue(v.data)];
    case 'BINARY[]':
      return [raw(`BINARY[${v.part.join('.')}]${v.origin !== null ? `<${v.origin}>` : ''}`), dataValue(v.data, v.binary)];
    case 'BINARY.SIZE':
      return [raw(`BINARY.SIZE[${v.part.join('.')}]`), num(v.size)];
    case 'RFC822':
    case 'RFC822.HEADER':
    case 'RFC822.TEXT':
      return [atom(v.kind), dataValue(v.data)];
  }
}

/** `* seq FETCH (item value ...)`. */
export function fetchResponse(mode: WireMode, seq: number, items: FetchValue[]): ResponseChunk[] {
  const w = new WireWriter(mode).text(`* ${seq} FETCH (`);
  items.forEach((it, i) => {
    if (i > 0) w.text(' ');
    w.values(item(it));
  });
  return w.text(')').done();
}
