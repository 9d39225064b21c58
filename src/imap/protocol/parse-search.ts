// SEARCH arguments: RFC 9051 §6.4.4 (every RFC 3501 key), RFC 4731 ESEARCH return options,
// RFC 5182 SAVE and "$", RFC 7162 §3.1.5 MODSEQ, RFC 5032 OLDER/YOUNGER, RFC 9394 PARTIAL.

import { TextDecoder } from 'node:util';
import type { Cursor } from './cursor.ts';
import type { CommandBody, SearchKey, SearchReturn } from './commands.ts';
import { parseDateText } from './datetime.ts';
import type { SearchDate } from './datetime.ts';

/** Nesting limit for "(", NOT and OR, so a hostile command cannot exhaust the stack. */
export const MAX_SEARCH_DEPTH = 64;

const FLAG_KEYS: Record<string, [string, boolean]> = {
  ANSWERED: ['\\Answered', true],
  DELETED: ['\\Deleted', true],
  DRAFT: ['\\Draft', true],
  FLAGGED: ['\\Flagged', true],
  SEEN: ['\\Seen', true],
  UNANSWERED: ['\\Answered', false],
  UNDELETED: ['\\Deleted', false],
  UNDRAFT: ['\\Draft', false],
  UNFLAGGED: ['\\Flagged', false],
  UNSEEN: ['\\Seen', false],
};

const TEXT_KEYS = new Set(['BCC', 'BODY', 'CC', 'FROM', 'SUBJECT', 'TEXT', 'TO']);
const DATE_KEYS: Record<string, ['internal' | 'sent', 'before' | 'on' | 'since']> = {
  BEFORE: ['internal', 'before'],
  ON: ['internal', 'on'],
  SINCE: ['internal', 'since'],
  SENTBEFORE: ['sent', 'before'],
  SENTON: ['sent', 'on'],
  SENTSINCE: ['sent', 'since'],
};

/** Decoders for the charsets Node knows; the session answers NO [BADCHARSET] for the rest. */
export function charsetDecoder(charset: string | null): TextDecoder | null {
  if (charset === null) return null;
  try {
    return new TextDecoder(charset, { fatal: true });
  } catch {
    return null;
  }
}

export function parseSearch(c: Cursor, uid: boolean): CommandBody {
  let returns: SearchReturn | null = null;
  let charset: string | null = null;
  c.sp();
  if (c.tryWord('RETURN')) {
    c.sp();
    returns = parseReturn(c);
    c.sp();
  }
  if (c.tryWord('CHARSET')) {
    c.sp();
    charset = c.astring('charset');
    c.sp();
  }
  const decoder = charsetDecoder(charset) ?? undefined;
  const keys: SearchKey[] = [searchKey(c, 0, decoder)];
  while (c.trySp()) keys.push(searchKey(c, 0, decoder));
  c.end();
  return { name: 'SEARCH', uid, charset, returns, key: keys.length === 1 ? keys[0] : { kind: 'and', keys } };
}

/** RFC 4731 §3.1: search-return-opts; "RETURN ()" means ALL. */
function parseReturn(c: Cursor): SearchReturn {
  const r: SearchReturn = { min: false, max: false, all: false, count: false, save: false, partial: null };
  const opts = c.list(() => {
    const o = c.keyword('search return option');
    switch (o) {
      case 'MIN':
        r.min = true;
        break;
      case 'MAX':
        r.max = true;
        break;
      case 'ALL':
        r.all = true;
        break;
      case 'COUNT':
        r.count = true;
        break;
      case 'SAVE':
        r.save = true;
        break;
      case 'PARTIAL': {
        // RFC 9394 §3: partial-range = partial-range-first / partial-range-last;
        // "1:100" or "-1:-100", both ends non-zero and of the same sign.
        c.sp();
        const m = c.match(/^(-?)([0-9]+):(-?)([0-9]+)/);
        if (!m || m[1] !== m[3]) c.fail('PARTIAL needs a range like 1:100 or -1:-100 (RFC 9394 §3)');
        const a = Number(m[2]);
        const b = Number(m[4]);
        if (a === 0 || b === 0 || a > 0xffffffff || b > 0xffffffff) c.fail('PARTIAL range out of bounds');
        const sign = m[1] === '-' ? -1 : 1;
        r.partial = { from: sign * Math.min(a, b), to: sign * Math.max(a, b) };
        break;
      }
      default:
        c.fail(`Unknown SEARCH return option ${o}`);
    }
    return o;
  });
  if (opts.length === 0) r.all = true;
  if (r.partial && r.all) c.fail('PARTIAL and ALL cannot be combined (RFC 9394 §3)');
  return r;
}

function date(c: Cursor): SearchDate {
  // RFC 9051 §9: date = date-text / DQUOTE date-text DQUOTE
  const text = c.ch === '"' ? c.quoted() : c.atom('date');
  const d = parseDateText(text);
  if (!d) c.fail(`Invalid date "${text}" (expected e.g. 1-Feb-1994)`);
  return d;
}

export function searchKey(c: Cursor, depth: number, decoder?: TextDecoder): SearchKey {
  if (depth > MAX_SEARCH_DEPTH) c.fail('SEARCH nested too deeply');
  if (c.ch === '(') {
    const keys = c.list(() => searchKey(c, depth + 1, decoder), true);
    return keys.length === 1 ? keys[0] : { kind: 'and', keys };
  }
  if (/[0-9*$]/.test(c.ch)) return { kind: 'seq', set: c.sequenceSet() };
  const k = c.keyword('search key');
  const flag = FLAG_KEYS[k];
  if (flag) return { kind: 'flag', flag: flag[0], set: flag[1] };
  if (TEXT_KEYS.has(k)) {
    c.sp();
    return { kind: 'text', field: k.toLowerCase() as 'bcc', value: c.astring('search string', decoder) };
  }
  const dk = DATE_KEYS[k];
  if (dk) {
    c.sp();
    return { kind: 'date', field: dk[0], op: dk[1], date: date(c) };
  }
  switch (k) {
    case 'ALL':
      return { kind: 'all' };
    case 'RECENT':
      return { kind: 'recent' };
    case 'NEW':
      return { kind: 'new' };
    case 'OLD':
      return { kind: 'old' };
    case 'KEYWORD':
    case 'UNKEYWORD':
      c.sp();
      return { kind: 'flag', flag: c.atom('keyword'), set: k === 'KEYWORD' };
    case 'HEADER': {
      c.sp();
      const name = c.astring('header field name');
      c.sp();
      return { kind: 'header', name, value: c.astring('search string', decoder) };
    }
    case 'LARGER':
    case 'SMALLER':
      c.sp();
      return { kind: 'size', op: k === 'LARGER' ? 'larger' : 'smaller', size: c.number64('size') };
    case 'UID':
      c.sp();
      return { kind: 'uid', set: c.sequenceSet() };
    case 'NOT':
      c.sp();
      return { kind: 'not', key: searchKey(c, depth + 1, decoder) };
    case 'OR': {
      c.sp();
      const left = searchKey(c, depth + 1, decoder);
      c.sp();
      return { kind: 'or', left, right: searchKey(c, depth + 1, decoder) };
    }
    case 'OLDER':
    case 'YOUNGER':
      c.sp();
      return { kind: 'within', op: k === 'OLDER' ? 'older' : 'younger', seconds: c.nzNumber('interval') };
    case 'MODSEQ': {
      // RFC 7162 §3.1.5: "MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer
      c.sp();
      let entry: { name: string; type: 'priv' | 'shared' | 'all' } | null = null;
      if (c.ch === '"') {
        const name = c.quoted();
        c.sp();
        const type = c.keyword('entry type').toLowerCase();
        if (type !== 'priv' && type !== 'shared' && type !== 'all') c.fail('MODSEQ entry type must be priv, shared or all');
        c.sp();
        entry = { name, type };
      }
      return { kind: 'modseq', modseq: c.modseq(), entry };
    }
    default:
      return c.fail(`Unknown search key ${k}`);
  }
}
