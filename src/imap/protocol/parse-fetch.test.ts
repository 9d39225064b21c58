import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseText } from './testing.ts';
import { ImapSyntaxError } from './errors.ts';
import type { Command, FetchAtt } from './commands.ts';
import { formatSection } from './parse-fetch.ts';

type Fetch = Extract<Command, { name: 'FETCH' }>;
const f = (text: string): Fetch => parseText(text + '\r\n') as Fetch;
const atts = (spec: string): FetchAtt[] => f(`a FETCH 1 ${spec}`).atts;

test('RFC 9051 §6.4.5 example and the macros', () => {
  const x = f('A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])');
  assert.deepEqual(x.set, { kind: 'set', ranges: [{ start: 2, end: 4 }] });
  assert.deepEqual(x.atts, [
    { kind: 'FLAGS' },
    { kind: 'BODY[]', peek: false, section: { part: [], text: 'HEADER.FIELDS', fields: ['DATE', 'FROM'] }, partial: null },
  ]);
  assert.deepEqual(f('a FETCH 1 ALL').atts.map((a) => a.kind), ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE']);
  assert.deepEqual(f('a FETCH 1 fast').atts.map((a) => a.kind), ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE']);
  const full = f('a FETCH 1 FULL');
  assert.equal(full.macro, 'FULL');
  assert.deepEqual(full.atts.map((a) => a.kind), ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY']);
});

test('every simple attribute, alone and in a list', () => {
  const simple = ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODYSTRUCTURE', 'BODY', 'UID', 'MODSEQ', 'RFC822', 'RFC822.HEADER', 'RFC822.TEXT', 'SAVEDATE'];
  for (const a of simple) assert.deepEqual(atts(a.toLowerCase()), [{ kind: a }]);
  assert.deepEqual(atts(`(${simple.join(' ')})`).map((a) => a.kind), simple);
});

test('sections and partials (RFC 9051 §6.4.5)', () => {
  const one = (spec: string) => atts(spec)[0];
  assert.deepEqual(one('BODY[]'), { kind: 'BODY[]', peek: false, section: { part: [], text: null, fields: [] }, partial: null });
  assert.deepEqual(one('BODY.PEEK[]<0.2048>'), { kind: 'BODY[]', peek: true, section: { part: [], text: null, fields: [] }, partial: { start: 0, count: 2048 } });
  assert.deepEqual(one('BODY[1.2.3]'), { kind: 'BODY[]', peek: false, section: { part: [1, 2, 3], text: null, fields: [] }, partial: null });
  assert.deepEqual(one('BODY[4.2.HEADER]'), { kind: 'BODY[]', peek: false, section: { part: [4, 2], text: 'HEADER', fields: [] }, partial: null });
  assert.deepEqual(one('BODY[3.MIME]'), { kind: 'BODY[]', peek: false, section: { part: [3], text: 'MIME', fields: [] }, partial: null });
  assert.deepEqual(one('body.peek[text]<100.10>'), { kind: 'BODY[]', peek: true, section: { part: [], text: 'TEXT', fields: [] }, partial: { start: 100, count: 10 } });
  assert.deepEqual(one('BODY[1.HEADER.FIELDS.NOT (Received "X-Odd Name")]'), {
    kind: 'BODY[]', peek: false, section: { part: [1], text: 'HEADER.FIELDS.NOT', fields: ['Received', 'X-Odd Name'] }, partial: null,
  });
  // RFC 3516 §4.1 BINARY
  assert.deepEqual(one('BINARY[1.2]'), { kind: 'BINARY[]', peek: false, part: [1, 2], partial: null });
  assert.deepEqual(one('BINARY.PEEK[]<0.10>'), { kind: 'BINARY[]', peek: true, part: [], partial: { start: 0, count: 10 } });
  assert.deepEqual(one('BINARY.SIZE[3]'), { kind: 'BINARY.SIZE', part: [3] });
});

test('formatSection gives the response item name', () => {
  const sec = (spec: string) => {
    const a = atts(spec)[0];
    return a.kind === 'BODY[]' ? formatSection(a.section) : '';
  };
  assert.equal(sec('BODY[HEADER.FIELDS (DATE FROM)]'), 'HEADER.FIELDS (DATE FROM)');
  assert.equal(sec('BODY[1.2.MIME]'), '1.2.MIME');
  assert.equal(sec('BODY[]'), '');
  assert.equal(sec('BODY[2.HEADER.FIELDS.NOT ("X y")]'), '2.HEADER.FIELDS.NOT ("X y")');
});

test('CONDSTORE/QRESYNC modifiers (RFC 7162 §3.1.4.1, §3.2.6)', () => {
  const x = f('s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)');
  assert.deepEqual([x.uid, x.changedSince, x.vanished], [true, 12345n, true]);
  const y = f('s100 FETCH 1:* (UID FLAGS) (CHANGEDSINCE 12345)');
  assert.deepEqual([y.uid, y.changedSince, y.vanished], [false, 12345n, false]);
  assert.throws(() => f('s FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)'), /VANISHED/);
  assert.throws(() => f('s UID FETCH 1:* FLAGS (VANISHED)'), /VANISHED/);
});

test('FETCH syntax errors are tagged BADs', () => {
  const cases: Array<[string, RegExp]> = [
    ['a FETCH 1', /Missing|Expected/],
    ['a FETCH 1 ()', /Empty list/],
    ['a FETCH 1 FOO', /Unknown fetch attribute FOO/],
    ['a FETCH 1 BODY[MIME]', /section text/],
    ['a FETCH 1 BODY[1.FOO]', /section text/],
    ['a FETCH 1 BODY[HEADER.FIELDS ()]', /Empty list/],
    ['a FETCH 1 BODY[]<0.0>', /must not be 0/],
    ['a FETCH 1 BODY[]<5>', /Expected "."/],
    ['a FETCH 1 BINARY[TEXT]', /Expected "\]"|section part/],
    ['a FETCH 1 (FLAGS', /Expected|Missing/],
    ['a FETCH 1 FLAGS (FOO 1)', /Unknown FETCH modifier/],
    ['a FETCH 1:x FLAGS', /Expected space|sequence/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => f(text), (err: unknown) => err instanceof ImapSyntaxError && err.tag === 'a' && re.test(err.message), text);
  }
});
