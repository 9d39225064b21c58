import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIdleDone, parseSaslLine } from './continuation.ts';

test('IDLE ends with DONE in any case, nothing else', () => {
  assert.equal(isIdleDone('DONE'), true);
  assert.equal(isIdleDone('done'), true);
  assert.equal(isIdleDone('DONE '), false);
  assert.equal(isIdleDone('a1 NOOP'), false);
});

test('SASL lines: base64 data, empty, "*" cancels, junk is refused', () => {
  assert.deepEqual(parseSaslLine('AGZyZWQAc2VjcmV0'), { kind: 'data', data: Buffer.from('\0fred\0secret') });
  assert.deepEqual(parseSaslLine(''), { kind: 'data', data: Buffer.alloc(0) });
  assert.deepEqual(parseSaslLine('*'), { kind: 'cancel' });
  assert.equal(parseSaslLine('AGZy ZWQ=').kind, 'invalid');
  assert.equal(parseSaslLine('AGZ').kind, 'invalid');
});
