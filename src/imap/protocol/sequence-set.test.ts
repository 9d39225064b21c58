import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compactSequenceSet, formatSequenceSet, intervalsContain, orderedSequenceSet, resolveSequenceSet } from './sequence-set.ts';
import type { SequenceSet } from './sequence-set.ts';
import { parseText } from './testing.ts';
import { formatDateText, formatDateTime, parseDateText, parseDateTime } from './datetime.ts';

const parseSet = (s: string): SequenceSet => (parseText(`a COPY ${s} x\r\n`) as { set: SequenceSet }).set;
const rangesOf = (set: SequenceSet) => {
  assert.equal(set.kind, 'set');
  return set.kind === 'set' ? set.ranges : [];
};

test('compaction: 1,2,3,5 → 1:3,5; order and duplicates do not matter', () => {
  assert.equal(compactSequenceSet([1, 2, 3, 5]), '1:3,5');
  assert.equal(compactSequenceSet([5, 3, 2, 1, 3]), '1:3,5');
  assert.equal(compactSequenceSet([7]), '7');
  assert.equal(compactSequenceSet([]), null);
  assert.equal(orderedSequenceSet([304, 319, 320]), '304,319:320');
  assert.equal(orderedSequenceSet([5, 4, 3]), '5,4,3');
});

test('resolution: "*" is the largest number, ranges in any order, n:* past the end keeps the last', () => {
  const r = (s: string, max: number) => resolveSequenceSet(rangesOf(parseSet(s)), max);
  assert.deepEqual(r('1:*', 5), [{ lo: 1, hi: 5 }]);
  assert.deepEqual(r('5:2', 9), [{ lo: 2, hi: 5 }]);
  assert.deepEqual(r('*:4', 9), [{ lo: 4, hi: 9 }]);
  assert.deepEqual(r('10:*', 3), [{ lo: 3, hi: 10 }]); // RFC 9051 §6.4.9: includes message 3
  assert.deepEqual(r('1,2,3,7:8,4', 9), [{ lo: 1, hi: 4 }, { lo: 7, hi: 8 }]);
  assert.deepEqual(r('1:*', 0), []);
  assert.deepEqual(r('3', 0), [{ lo: 3, hi: 3 }]);
});

test('property: compact form parses back to the same numbers', () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 500 }), { minLength: 1, maxLength: 60 }), (nums) => {
      const wire = compactSequenceSet(nums)!;
      const set = parseSet(wire);
      assert.equal(formatSequenceSet(set), wire);
      const ivs = resolveSequenceSet(rangesOf(set), 500);
      for (let n = 1; n <= 500; n++) assert.equal(intervalsContain(ivs, n), nums.includes(n), `${n} in ${wire}`);
    }),
    { numRuns: 200 },
  );
});

test('property: ordered form keeps the sequence (COPYUID pairing)', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 30 }), (nums) => {
      const set = parseSet(orderedSequenceSet(nums));
      const expanded = (set as { ranges: Array<{ start: number; end: number }> }).ranges.flatMap((r) =>
        Array.from({ length: r.end - r.start + 1 }, (_, i) => r.start + i),
      );
      assert.deepEqual(expanded, nums);
    }),
    { numRuns: 200 },
  );
});

test('dates: parse and format round-trip; invalid days refused', () => {
  assert.deepEqual(parseDateText('1-Feb-1994'), { year: 1994, month: 2, day: 1 });
  assert.equal(parseDateText('29-Feb-2023'), null);
  assert.equal(parseDateText('1-Foo-1994'), null);
  assert.equal(formatDateText({ year: 2024, month: 12, day: 9 }), '9-Dec-2024');
  const dt = parseDateTime('17-Jul-1996 02:44:25 -0700');
  assert.deepEqual(dt, { time: Date.UTC(1996, 6, 17, 9, 44, 25), offset: -420 });
  assert.equal(formatDateTime(dt!), '"17-Jul-1996 02:44:25 -0700"');
  assert.equal(formatDateTime({ time: Date.UTC(2020, 0, 5, 23, 30, 0), offset: 330 }), '" 6-Jan-2020 05:00:00 +0530"');
  for (const bad of ['17-Jul-1996 24:00:00 +0000', '7-Jul-1996 02:44:25 -0700', '17-Jul-1996 02:44:25 0700', '31-Apr-1996 02:44:25 +0000']) {
    assert.equal(parseDateTime(bad), null, bad);
  }
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 4102444800 }), fc.integer({ min: -720, max: 840 }), (sec, offset) => {
      const v = { time: sec * 1000, offset };
      assert.deepEqual(parseDateTime(formatDateTime(v).slice(1, -1)), v);
    }),
    { numRuns: 300 },
  );
});
