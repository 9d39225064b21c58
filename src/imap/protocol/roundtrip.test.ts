// Builders → parser: what the server writes in one place and a client echoes back in a command
// must read the same (mailbox names in LIST/STATUS, section names in FETCH responses).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { listResponse, statusResponse } from './response.ts';
import type { ProtocolMode } from './response.ts';
import { toBuffer } from './wire-values.ts';
import { formatSection } from './parse-fetch.ts';
import type { Command, Section } from './commands.ts';
import { parseText } from './testing.ts';
import { normalizeMailboxName } from '../mutf7.ts';

const MODES: ProtocolMode[] = [
  { rev2: false, utf8: false },
  { rev2: true, utf8: true },
];

// Mailbox names: any well-formed Unicode without control characters.
const name = fc
  .string({ unit: fc.oneof(fc.constantFrom('a', 'Z', ' ', '&', '"', '\\', '/', '%', '*', ']', 'NIL', 'ü', '台', '😀', '{'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), minLength: 1, maxLength: 12 })
  .filter((s) => !/[\x00-\x1f\x7f]/.test(s) && s.isWellFormed());

test('property: a name sent in LIST is read back by SELECT as the same name, in both modes', () => {
  fc.assert(
    fc.property(name, fc.constantFrom(...MODES), (n, mode) => {
      const wire = toBuffer(listResponse(mode, { name: n, attributes: [], delimiter: '/' })).toString('utf8');
      const m = /^\* LIST \(\) "\/" (.*)\r\n$/s.exec(wire);
      assert.ok(m, wire);
      // The client sends the name back as it got it (atom, quoted or literal all parse).
      const cmd = parseText(`a SELECT ${m[1]}\r\n`, { utf8: mode.utf8 }) as Extract<Command, { name: 'SELECT' | 'EXAMINE' }>;
      assert.equal(cmd.mailbox, normalizeMailboxName(n));
    }),
    { numRuns: 400 },
  );
});

test('property: STATUS names round-trip too', () => {
  fc.assert(
    fc.property(name, fc.constantFrom(...MODES), (n, mode) => {
      const wire = toBuffer(statusResponse(mode, n, [['MESSAGES', 1]])).toString('utf8');
      const m = /^\* STATUS (.*) \(MESSAGES 1\)\r\n$/s.exec(wire);
      assert.ok(m, wire);
      const cmd = parseText(`a STATUS ${m[1]} (MESSAGES)\r\n`, { utf8: mode.utf8 }) as Extract<Command, { name: 'STATUS' }>;
      assert.equal(cmd.mailbox, normalizeMailboxName(n));
    }),
    { numRuns: 300 },
  );
});

const section: fc.Arbitrary<Section> = fc
  .tuple(
    fc.array(fc.integer({ min: 1, max: 30 }), { maxLength: 3 }),
    fc.constantFrom(null, 'HEADER', 'HEADER.FIELDS', 'HEADER.FIELDS.NOT', 'TEXT', 'MIME'),
    fc.array(fc.constantFrom('Subject', 'From', 'X-Odd Name', 'List-ID', 'a"b'), { minLength: 1, maxLength: 3 }),
  )
  .filter(([part, text]) => text !== 'MIME' || part.length > 0)
  .map(([part, text, fields]) => ({ part, text: text as Section['text'], fields: text === 'HEADER.FIELDS' || text === 'HEADER.FIELDS.NOT' ? fields : [] }));

test('property: formatSection output parses back to the same section', () => {
  fc.assert(
    fc.property(section, (s) => {
      const cmd = parseText(`a FETCH 1 BODY.PEEK[${formatSection(s)}]\r\n`) as Extract<Command, { name: 'FETCH' }>;
      const att = cmd.atts[0];
      assert.equal(att.kind, 'BODY[]');
      if (att.kind === 'BODY[]') assert.deepEqual(att.section, s);
    }),
    { numRuns: 300 },
  );
});
