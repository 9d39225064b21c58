import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  Mutf7Error,
  decodeMailboxName,
  decodeMutf7,
  encodeMailboxName,
  encodeMutf7,
  mailboxNameProblem,
  normalizeMailboxName,
} from './mutf7.ts';

test('RFC 3501 §5.1.3 example and the "&" escape', () => {
  assert.equal(decodeMutf7('~peter/mail/&U,BTFw-/&ZeVnLIqe-'), '~peter/mail/台北/日本語');
  assert.equal(encodeMutf7('~peter/mail/台北/日本語'), '~peter/mail/&U,BTFw-/&ZeVnLIqe-');
  assert.equal(encodeMutf7('Tom & Jerry'), 'Tom &- Jerry');
  assert.equal(decodeMutf7('Tom &- Jerry'), 'Tom & Jerry');
  assert.equal(encodeMutf7('Entwürfe'), 'Entw&APw-rfe');
  assert.equal(encodeMutf7('😀'), '&2D3eAA-'); // a surrogate pair in one shifted run
  assert.equal(decodeMutf7('&2D3eAA-'), '😀');
});

test('strict decoding refuses every non-canonical or broken form', () => {
  const broken = [
    '&Jjo!', // RFC 3501 §5.1.3: unterminated, "!" is not base64
    '&U,BTFw', // no "-"
    '&AGE-', // encodes "a", which must represent itself
    '&ACY-', // encodes "&", which must be "&-"
    '&AOk-&AOk-', // two shifted runs back to back: canonical form is one run
    '&AOl-', // non-zero padding bits
    '&AO-', // 12 bits: not a whole UTF-16 unit
    '&2D0-', // lone high surrogate
    '&3gA-', // lone low surrogate
    'caf\u00e9', // raw 8-bit where modified UTF-7 is required
    'a\tb', // control character
    '&A/k-', // "/" is not in modified base64
  ];
  for (const s of broken) assert.throws(() => decodeMutf7(s), Mutf7Error, s);
});

test('property: decode(encode(s)) === s for every well-formed string', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
      assert.equal(decodeMutf7(encodeMutf7(s)), s);
    }),
    { numRuns: 500 },
  );
});

test('property: a wire name decodes only in its canonical form (encode(decode(w)) === w)', () => {
  const unit = fc.constantFrom(...'&-+,AGOkUBT2D3eazZ09 /.'.split(''));
  fc.assert(
    fc.property(fc.string({ unit, maxLength: 24 }), (w) => {
      let decoded: string;
      try {
        decoded = decodeMutf7(w);
      } catch (err) {
        assert.ok(err instanceof Mutf7Error);
        return;
      }
      assert.equal(encodeMutf7(decoded), w);
    }),
    { numRuns: 2000 },
  );
});

test('mailbox names: NFC, INBOX case-insensitive, UTF-8 mode (RFC 6855 §3)', () => {
  const decomposed = 'Entwu\u0308rfe';
  assert.equal(normalizeMailboxName(decomposed), 'Entwürfe');
  assert.equal(normalizeMailboxName('inbox'), 'INBOX');
  assert.equal(normalizeMailboxName('InBoX/Sub'), 'INBOX/Sub');
  assert.equal(normalizeMailboxName('inboxes'), 'inboxes');
  assert.deepEqual(decodeMailboxName(decomposed, { utf8: true }), { ok: true, name: 'Entwürfe' });
  assert.deepEqual(decodeMailboxName('Entw&APw-rfe', { utf8: false }), { ok: true, name: 'Entwürfe' });
  // In UTF-8 mode "&" is an ordinary character.
  assert.deepEqual(decodeMailboxName('A&B', { utf8: true }), { ok: true, name: 'A&B' });
  assert.equal(decodeMailboxName('A&B', { utf8: false }).ok, false);
  assert.equal(encodeMailboxName('台北', { utf8: true }), '台北');
  assert.equal(encodeMailboxName('台北', { utf8: false }), '&U,BTFw-');
});

test('mailboxNameProblem refuses wildcards, empty levels, control characters', () => {
  assert.equal(mailboxNameProblem('Archive/2024'), null);
  assert.equal(mailboxNameProblem('owatagusiam/'), null);
  for (const bad of ['', 'a*b', 'a%', 'a//b', '/a', 'a\x01b', 'Entwu\u0308rfe']) {
    assert.notEqual(mailboxNameProblem(bad), null, JSON.stringify(bad));
  }
});
