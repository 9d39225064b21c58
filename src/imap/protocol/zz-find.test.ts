// Grammar-alphabet fuzzing (STYLE.md §3): random token soups go through the reader and the
// parser; nothing may throw except the parser's own ImapSyntaxError (caught by drive()), nothing
// may loop (drive() caps events), and any split of an input gives the transcript of the whole.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EXAMPLES, drive } from './testing.ts';
import type { DriveOptions } from './testing.ts';

const TOKENS = [
  'a1', 'A2', '+', ' ', ' ', ' ', '\r\n', '\n', '(', ')', '[', ']', '<', '>', '.', ':', ',', '*', '%', '$', '"', '\\', '-',
  '{3}\r\n', '{0}\r\n', '{2+}\r\n', '{5000+}\r\n', '~{1}\r\n', '{99999999999}\r\n', '{70000}\r\n', 'abc', 'x\r\n',
  '0', '1', '7', '4294967296', '99999999999999999999', 'NIL', 'INBOX', '&', '&U,BTFw-', '&Jjo', 'é', '\x00', '\x7f',
  'CAPABILITY', 'NOOP', 'LOGIN', 'AUTHENTICATE', 'PLAIN', '=', 'ENABLE', 'ID', 'LIST', 'LSUB', 'STATUS', 'SELECT',
  'EXAMINE', 'CREATE', 'DELETE', 'RENAME', 'APPEND', 'IDLE', 'DONE', 'EXPUNGE', 'SEARCH', 'FETCH', 'STORE', 'COPY',
  'MOVE', 'UID', 'GETQUOTA', 'SETQUOTA', 'COMPRESS', 'DEFLATE', 'RETURN', 'CHARSET', 'UTF-8', 'MIN', 'MAX', 'COUNT',
  'SAVE', 'PARTIAL', 'OR', 'NOT', 'ALL', 'SEEN', 'SINCE', '1-Feb-1994', 'HEADER', 'SUBJECT', 'MODSEQ', 'KEYWORD',
  'BODY', 'BODY.PEEK', 'BINARY', 'BINARY.SIZE', 'HEADER.FIELDS', 'MIME', 'TEXT', 'FLAGS', '+FLAGS.SILENT',
  'CHANGEDSINCE', 'VANISHED', 'UNCHANGEDSINCE', 'CONDSTORE', 'QRESYNC', 'USE', '\\Seen', '\\Sent', 'MESSAGES',
  'SUBSCRIBED', 'RECURSIVEMATCH', 'SPECIAL-USE', 'UTF8', '"17-Jul-1996 02:44:25 -0700"',
];

const soup = fc.array(fc.constantFrom(...TOKENS), { maxLength: 40 }).map((ts) => ts.join(''));

// Mutated RFC examples, so the fuzzer reaches deep into the grammar.
const mutated = fc
  .tuple(fc.constantFrom(...EXAMPLES), fc.array(fc.tuple(fc.nat(), fc.nat(3), fc.constantFrom(...TOKENS)), { maxLength: 3 }))
  .map(([text, edits]) => {
    let s = text;
    for (const [at, op, tok] of edits) {
      const i = at % (s.length + 1);
      if (op === 0) s = s.slice(0, i) + s.slice(i + 1); // delete one character
      else if (op === 1) s = s.slice(0, i) + tok + s.slice(i); // insert a token
      else if (op === 2) s = s.slice(0, i) + tok + s.slice(i + tok.length); // overwrite
      else s = s.slice(0, i); // truncate
    }
    return s + EXAMPLES[(edits.length * 7) % EXAMPLES.length];
  });

const input = fc.oneof(soup, mutated, fc.constantFrom(...EXAMPLES));
const modes: DriveOptions[] = [{}, { nonSyncLiterals: 'literal-' }, { nonSyncLiterals: 'none', utf8: true }, { maxLineLength: 64 }];

test('fuzz: no input makes the reader or parser throw anything but a syntax error, or loop', () => {
  fc.assert(
    fc.property(input, fc.constantFrom(...modes), (text, opts) => {
      const out = drive([Buffer.from(text, 'utf8')], { ...opts, maxEvents: 10_000 });
      assert.ok(Array.isArray(out));
    }),
    { numRuns: 1 },
  );
});

test('fuzz: any split of any input gives the same transcript as the whole', () => {
  fc.assert(
    fc.property(input, fc.constantFrom(...modes), fc.array(fc.nat(), { maxLength: 4 }), (text, opts, cuts) => {
      const buf = Buffer.from(text, 'utf8');
      const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((x, y) => x - y);
      const chunks: Buffer[] = [];
      let from = 0;
      for (const p of points) {
        chunks.push(buf.subarray(from, p));
        from = p;
      }
      chunks.push(buf.subarray(from));
      assert.deepEqual(drive(chunks, opts), drive([buf], opts));
    }),
    { numRuns: 60000 },
  );
});
