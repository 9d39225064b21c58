import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseText } from './testing.ts';
import { ImapSyntaxError } from './errors.ts';
import type { Command, SearchKey } from './commands.ts';

type Search = Extract<Command, { name: 'SEARCH' }>;
const s = (text: string): Search => parseText(text + '\r\n') as Search;
const key = (keys: string): SearchKey => s(`a SEARCH ${keys}`).key;

test('RFC 9051 §6.4.4 examples', () => {
  assert.deepEqual(key('FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"'), {
    kind: 'and',
    keys: [
      { kind: 'flag', flag: '\\Flagged', set: true },
      { kind: 'date', field: 'internal', op: 'since', date: { year: 1994, month: 2, day: 1 } },
      { kind: 'not', key: { kind: 'text', field: 'from', value: 'Smith' } },
    ],
  });
  assert.deepEqual(key('TEXT "string not in mailbox"'), { kind: 'text', field: 'text', value: 'string not in mailbox' });
  const lit = s('A284 SEARCH CHARSET UTF-8 TEXT {12}\r\nXXXXXXXXXXXX');
  assert.equal(lit.charset, 'UTF-8');
  assert.deepEqual(lit.key, { kind: 'text', field: 'text', value: 'XXXXXXXXXXXX' });
  assert.deepEqual(key('DELETED FROM "SMITH" SINCE 1-Feb-1994'), {
    kind: 'and',
    keys: [
      { kind: 'flag', flag: '\\Deleted', set: true },
      { kind: 'text', field: 'from', value: 'SMITH' },
      { kind: 'date', field: 'internal', op: 'since', date: { year: 1994, month: 2, day: 1 } },
    ],
  });
});

test('every RFC 3501 search key parses to its typed form', () => {
  const flags: Record<string, [string, boolean]> = {
    ANSWERED: ['\\Answered', true], DELETED: ['\\Deleted', true], DRAFT: ['\\Draft', true],
    FLAGGED: ['\\Flagged', true], SEEN: ['\\Seen', true], UNANSWERED: ['\\Answered', false],
    UNDELETED: ['\\Deleted', false], UNDRAFT: ['\\Draft', false], UNFLAGGED: ['\\Flagged', false],
    UNSEEN: ['\\Seen', false],
  };
  for (const [k, [flag, set]] of Object.entries(flags)) assert.deepEqual(key(k.toLowerCase()), { kind: 'flag', flag, set });
  assert.deepEqual(key('ALL'), { kind: 'all' });
  assert.deepEqual(key('NEW'), { kind: 'new' });
  assert.deepEqual(key('OLD'), { kind: 'old' });
  assert.deepEqual(key('RECENT'), { kind: 'recent' });
  assert.deepEqual(key('KEYWORD $Junk'), { kind: 'flag', flag: '$Junk', set: true });
  assert.deepEqual(key('UNKEYWORD foo'), { kind: 'flag', flag: 'foo', set: false });
  for (const f of ['BCC', 'BODY', 'CC', 'FROM', 'SUBJECT', 'TEXT', 'TO']) {
    assert.deepEqual(key(`${f} "x y"`), { kind: 'text', field: f.toLowerCase(), value: 'x y' });
  }
  assert.deepEqual(key('HEADER Message-ID <a@b>'), { kind: 'header', name: 'Message-ID', value: '<a@b>' });
  assert.deepEqual(key('HEADER X-Spam ""'), { kind: 'header', name: 'X-Spam', value: '' });
  const dates: Record<string, ['internal' | 'sent', string]> = {
    BEFORE: ['internal', 'before'], ON: ['internal', 'on'], SINCE: ['internal', 'since'],
    SENTBEFORE: ['sent', 'before'], SENTON: ['sent', 'on'], SENTSINCE: ['sent', 'since'],
  };
  for (const [k, [field, op]] of Object.entries(dates)) {
    assert.deepEqual(key(`${k} "29-Feb-2024"`), { kind: 'date', field, op, date: { year: 2024, month: 2, day: 29 } });
  }
  assert.deepEqual(key('LARGER 1000'), { kind: 'size', op: 'larger', size: 1000 });
  assert.deepEqual(key('SMALLER 5'), { kind: 'size', op: 'smaller', size: 5 });
  assert.deepEqual(key('UID 1:*'), { kind: 'uid', set: { kind: 'set', ranges: [{ start: 1, end: '*' }] } });
  assert.deepEqual(key('2,4:7'), { kind: 'seq', set: { kind: 'set', ranges: [{ start: 2, end: 2 }, { start: 4, end: 7 }] } });
  assert.deepEqual(key('$'), { kind: 'seq', set: { kind: 'saved' } });
  assert.deepEqual(key('UID $'), { kind: 'uid', set: { kind: 'saved' } });
  assert.deepEqual(key('OLDER 3600'), { kind: 'within', op: 'older', seconds: 3600 });
  assert.deepEqual(key('YOUNGER 60'), { kind: 'within', op: 'younger', seconds: 60 });
});

test('OR, NOT and parentheses nest', () => {
  assert.deepEqual(key('OR (FROM a TO b) NOT (SEEN OR 1 2)'), {
    kind: 'or',
    left: { kind: 'and', keys: [{ kind: 'text', field: 'from', value: 'a' }, { kind: 'text', field: 'to', value: 'b' }] },
    right: {
      kind: 'not',
      key: {
        kind: 'and',
        keys: [
          { kind: 'flag', flag: '\\Seen', set: true },
          { kind: 'or', left: { kind: 'seq', set: { kind: 'set', ranges: [{ start: 1, end: 1 }] } }, right: { kind: 'seq', set: { kind: 'set', ranges: [{ start: 2, end: 2 }] } } },
        ],
      },
    },
  });
  assert.deepEqual(key('((SEEN))'), { kind: 'flag', flag: '\\Seen', set: true });
});

test('ESEARCH return options (RFC 4731), SAVE (RFC 5182), PARTIAL (RFC 9394), MODSEQ (RFC 7162)', () => {
  const r = s('A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"');
  assert.deepEqual(r.returns, { min: true, max: false, all: false, count: true, save: false, partial: null });
  assert.equal(s('A283 SEARCH RETURN () FLAGGED').returns?.all, true);
  const u = s('A301 UID SEARCH RETURN (SAVE) FLAGGED');
  assert.equal(u.uid, true);
  assert.equal(u.returns?.save, true);
  assert.deepEqual(s('a UID SEARCH RETURN (PARTIAL 1:100) UNDELETED').returns?.partial, { from: 1, to: 100 });
  assert.deepEqual(s('a UID SEARCH RETURN (COUNT PARTIAL -1:-100) UNDELETED').returns?.partial, { from: -1, to: -100 });
  assert.deepEqual(s('a SEARCH RETURN (PARTIAL 100:1) ALL').returns?.partial, { from: 1, to: 100 });
  assert.deepEqual(key('MODSEQ 620162338'), { kind: 'modseq', modseq: 620162338n, entry: null });
  assert.deepEqual(key('MODSEQ "/flags/\\\\draft" all 620162338'), {
    kind: 'modseq', modseq: 620162338n, entry: { name: '/flags/\\draft', type: 'all' },
  });
});

test('CHARSET: literal strings are decoded with the named charset', () => {
  const r = s('a SEARCH CHARSET ISO-8859-1 SUBJECT {5}\r\ncaf\xe9'.replace('\xe9', 'é'));
  // parseText sends UTF-8, so "é" arrives as two octets and reads as "Ã©" in ISO-8859-1.
  assert.equal(r.charset, 'ISO-8859-1');
  assert.equal((r.key as { value: string }).value, 'cafÃ©');
});

test('SEARCH syntax errors are tagged BADs with a reason', () => {
  const cases: Array<[string, RegExp]> = [
    ['a SEARCH', /Missing|Expected/],
    ['a SEARCH FROB', /Unknown search key FROB/],
    ['a SEARCH SINCE 30-Feb-2024', /Invalid date/],
    ['a SEARCH SINCE Feb-1-2024', /Invalid date/],
    ['a SEARCH OR SEEN', /Missing|Expected/],
    ['a SEARCH (SEEN', /Expected|Missing/],
    ['a SEARCH RETURN (FOO) ALL', /return option/],
    ['a SEARCH RETURN (PARTIAL 1:-5) ALL', /PARTIAL/],
    ['a SEARCH RETURN (ALL PARTIAL 1:5) ALL', /PARTIAL and ALL/],
    ['a SEARCH 1,$', /sequence number/],
    ['a SEARCH ' + 'NOT '.repeat(100) + 'ALL', /nested too deeply/],
    ['a SEARCH ' + '('.repeat(100) + 'ALL' + ')'.repeat(100), /nested too deeply/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => s(text), (err: unknown) => err instanceof ImapSyntaxError && err.tag === 'a' && re.test(err.message), text);
  }
});
