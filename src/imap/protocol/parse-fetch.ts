// FETCH and STORE arguments (RFC 9051 §6.4.5, §6.4.6; RFC 3516 §4; RFC 7162 §3.1.3, §3.1.4.2).

import type { Cursor } from './cursor.ts';
import { isAtom, quote } from './wire-values.ts';
import type { CommandBody, FetchAtt, Partial, Section, SimpleFetchAtt, StoreOp } from './commands.ts';

const SIMPLE: ReadonlySet<string> = new Set<SimpleFetchAtt>([
  'FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODYSTRUCTURE', 'BODY', 'UID', 'MODSEQ',
  'RFC822', 'RFC822.HEADER', 'RFC822.TEXT', 'SAVEDATE',
]);

// RFC 9051 §6.4.5: the macros, equivalent to the lists below.
const MACROS: Record<'ALL' | 'FAST' | 'FULL', SimpleFetchAtt[]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};

export function parseFetch(c: Cursor, uid: boolean): CommandBody {
  c.sp();
  const set = c.sequenceSet();
  c.sp();
  let macro: 'ALL' | 'FAST' | 'FULL' | null = null;
  let atts: FetchAtt[];
  if (c.ch === '(') {
    atts = c.list(() => fetchAtt(c), true);
  } else {
    if (c.tryWord('ALL')) macro = 'ALL';
    else if (c.tryWord('FAST')) macro = 'FAST';
    else if (c.tryWord('FULL')) macro = 'FULL';
    atts = macro ? MACROS[macro].map((kind) => ({ kind })) : [fetchAtt(c)];
  }
  let changedSince: bigint | null = null;
  let vanished = false;
  if (c.trySp()) {
    // RFC 7162 §3.1.4.1 / §3.2.6: fetch-modifiers = SP "(" fetch-modifier *(SP fetch-modifier) ")"
    c.list(() => {
      const m = c.keyword('fetch modifier');
      if (m === 'CHANGEDSINCE') {
        c.sp();
        changedSince = c.modseq();
      } else if (m === 'VANISHED') {
        vanished = true;
      } else {
        c.fail(`Unknown FETCH modifier ${m}`);
      }
    }, true);
  }
  c.end();
  // RFC 7162 §3.2.6: VANISHED only with UID FETCH and CHANGEDSINCE.
  if (vanished && (!uid || changedSince === null)) c.fail('VANISHED needs UID FETCH with CHANGEDSINCE (RFC 7162 §3.2.6)');
  return { name: 'FETCH', uid, set, macro, atts, changedSince, vanished };
}

export function fetchAtt(c: Cursor): FetchAtt {
  const name = c.keyword('fetch attribute');
  if (c.ch !== '[') {
    if (SIMPLE.has(name)) return { kind: name as SimpleFetchAtt };
    c.fail(`Unknown fetch attribute ${name}`);
  }
  if (name === 'BODY' || name === 'BODY.PEEK') {
    const section = parseSection(c);
    return { kind: 'BODY[]', peek: name === 'BODY.PEEK', section, partial: parsePartial(c) };
  }
  if (name === 'BINARY' || name === 'BINARY.PEEK' || name === 'BINARY.SIZE') {
    // RFC 3516 §4.1: section-binary = "[" [section-part] "]"
    c.expect('[');
    const part = c.rest.startsWith(']') ? [] : sectionPart(c);
    c.expect(']');
    if (name === 'BINARY.SIZE') return { kind: 'BINARY.SIZE', part };
    return { kind: 'BINARY[]', peek: name === 'BINARY.PEEK', part, partial: parsePartial(c) };
  }
  return c.fail(`Unknown fetch attribute ${name}`);
}

function sectionPart(c: Cursor): number[] {
  const part = [c.nzNumber('section part')];
  while (c.ch === '.' && /^\.[0-9]/.test(c.rest)) {
    c.expect('.');
    part.push(c.nzNumber('section part'));
  }
  return part;
}

/** RFC 9051 §9: section = "[" [section-spec] "]". */
export function parseSection(c: Cursor): Section {
  c.expect('[');
  const section: Section = { part: [], text: null, fields: [] };
  if (c.tryChar(']')) return section;
  if (/[0-9]/.test(c.ch)) {
    section.part = sectionPart(c);
    if (c.tryChar(']')) return section;
    c.expect('.');
  }
  const t = c.keyword('section text');
  if (t === 'HEADER' || t === 'TEXT' || (t === 'MIME' && section.part.length > 0)) {
    section.text = t;
  } else if (t === 'HEADER.FIELDS' || t === 'HEADER.FIELDS.NOT') {
    section.text = t;
    c.sp();
    // header-list = "(" header-fld-name *(SP header-fld-name) ")"; header-fld-name = astring
    section.fields = c.list(() => c.astring('header field name'), true);
  } else {
    c.fail(`Invalid section text ${t}`);
  }
  c.expect(']');
  return section;
}

function parsePartial(c: Cursor): Partial | null {
  if (!c.tryChar('<')) return null;
  const start = c.number64('partial start');
  c.expect('.');
  const count = c.number64('partial length');
  if (count === 0) c.fail('Partial length must not be 0');
  c.expect('>');
  return { start, count };
}

/** The section as it appears in the FETCH response item name, e.g. "1.HEADER.FIELDS (DATE)". */
export function formatSection(s: Section): string {
  const parts: string[] = [];
  if (s.part.length > 0) parts.push(s.part.join('.'));
  if (s.text) parts.push(s.text);
  let out = parts.join('.');
  if (s.text === 'HEADER.FIELDS' || s.text === 'HEADER.FIELDS.NOT') {
    out += ` (${s.fields.map((f) => (isAtom(f) ? f : quote(f))).join(' ')})`;
  }
  return out;
}

/**
 * RFC 9051 §6.4.6: store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag)))
 * RFC 7162 §3.1.3: store-modifiers = SP "(" "UNCHANGEDSINCE" SP mod-sequence-valzer ")".
 */
export function parseStore(c: Cursor, uid: boolean): CommandBody {
  c.sp();
  const set = c.sequenceSet();
  c.sp();
  let unchangedSince: bigint | null = null;
  if (c.ch === '(') {
    c.list(() => {
      const m = c.keyword('store modifier');
      if (m !== 'UNCHANGEDSINCE') c.fail(`Unknown STORE modifier ${m}`);
      c.sp();
      unchangedSince = c.modseq();
    }, true);
    c.sp();
  }
  let op: StoreOp = 'set';
  if (c.tryChar('+')) op = 'add';
  else if (c.tryChar('-')) op = 'remove';
  const item = c.keyword('FLAGS');
  if (item !== 'FLAGS' && item !== 'FLAGS.SILENT') c.fail(`Expected FLAGS or FLAGS.SILENT, got ${item}`);
  c.sp();
  let flags: string[];
  if (c.ch === '(') {
    flags = c.list(() => c.flag());
  } else {
    flags = [c.flag()];
    while (c.trySp()) flags.push(c.flag());
  }
  c.end();
  return { name: 'STORE', uid, set, unchangedSince, op, silent: item === 'FLAGS.SILENT', flags };
}
