import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fetchResponse } from './fetch-response.ts';
import type { BodyStructure, Envelope } from './fetch-response.ts';
import { toBuffer } from './wire-values.ts';
import type { DeferredBody } from './wire-values.ts';
import { parseDateTime } from './datetime.ts';

const REV1 = { utf8: false };
const text = (chunks: ReturnType<typeof fetchResponse>) => toBuffer(chunks).toString('utf8');
const gray = { name: 'Terry Gray', adl: null, mailbox: 'gray', host: 'cac.washington.edu' };

test('RFC 3501 §8 FETCH example: FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY', () => {
  const envelope: Envelope = {
    date: 'Wed, 17 Jul 1996 02:23:25 -0700 (PDT)',
    subject: 'IMAP4rev1 WG mtg summary and minutes',
    from: [gray],
    sender: [gray],
    replyTo: [gray],
    to: [{ name: null, adl: null, mailbox: 'imap', host: 'cac.washington.edu' }],
    cc: [
      { name: null, adl: null, mailbox: 'minutes', host: 'CNRI.Reston.VA.US' },
      { name: 'John Klensin', adl: null, mailbox: 'KLENSIN', host: 'MIT.EDU' },
    ],
    bcc: null,
    inReplyTo: null,
    messageId: '<B27397-0100000@cac.washington.edu>',
  };
  const body: BodyStructure = {
    type: 'TEXT', subtype: 'PLAIN', params: [['CHARSET', 'US-ASCII']], id: null, description: null,
    encoding: '7BIT', size: 3028, lines: 92, md5: null, disposition: null, language: null, location: null,
  };
  const date = parseDateTime('17-Jul-1996 02:44:25 -0700');
  assert.ok(date);
  const out = text(
    fetchResponse(REV1, 12, [
      { kind: 'FLAGS', flags: ['\\Seen'] },
      { kind: 'INTERNALDATE', date },
      { kind: 'RFC822.SIZE', size: 4286 },
      { kind: 'ENVELOPE', envelope },
      { kind: 'BODY', structure: body },
    ]),
  );
  assert.equal(
    out,
    '* 12 FETCH (FLAGS (\\Seen) INTERNALDATE "17-Jul-1996 02:44:25 -0700" RFC822.SIZE 4286 ENVELOPE ' +
      '("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" ' +
      '(("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) ' +
      '(("Terry Gray" NIL "gray" "cac.washington.edu")) ((NIL NIL "imap" "cac.washington.edu")) ' +
      '((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL ' +
      '"<B27397-0100000@cac.washington.edu>") BODY ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92))\r\n',
  );
});

test('multipart BODY and BODYSTRUCTURE with extension data (RFC 3501 §7.4.2 example)', () => {
  const part = (extra: Partial<BodyStructure>): BodyStructure => ({
    type: 'TEXT', subtype: 'PLAIN', params: [['CHARSET', 'US-ASCII']], id: null, description: null, encoding: '7BIT',
    size: 1152, lines: 23, md5: null, disposition: null, language: null, location: null, ...extra,
  } as BodyStructure);
  const mp: BodyStructure = {
    type: 'multipart', subtype: 'MIXED', params: [['BOUNDARY', 'x']], disposition: null, language: null, location: null,
    parts: [
      part({}),
      part({ params: [['CHARSET', 'US-ASCII'], ['NAME', 'cc.diff']], id: '<960723163407.20117h@cac.washington.edu>', description: 'Compiler diff', encoding: 'BASE64', size: 4554, lines: 73 }),
    ],
  };
  assert.equal(
    text(fetchResponse(REV1, 1, [{ kind: 'BODY', structure: mp }])),
    '* 1 FETCH (BODY (("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23)("TEXT" "PLAIN" ' +
      '("CHARSET" "US-ASCII" "NAME" "cc.diff") "<960723163407.20117h@cac.washington.edu>" "Compiler diff" ' +
      '"BASE64" 4554 73) "MIXED"))\r\n',
  );
  const withExt = text(fetchResponse(REV1, 1, [{ kind: 'BODYSTRUCTURE', structure: { ...mp, parts: [part({ disposition: { type: 'inline', params: null }, language: ['en'] })] } }]));
  assert.equal(
    withExt,
    '* 1 FETCH (BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23 NIL ("inline" NIL) "en" NIL) ' +
      '"MIXED" ("BOUNDARY" "x") NIL NIL NIL))\r\n',
  );
});

test('message/rfc822 parts carry envelope, body and lines', () => {
  const inner: BodyStructure = { type: 'TEXT', subtype: 'PLAIN', params: null, id: null, description: null, encoding: '7BIT', size: 5, lines: 1, md5: null, disposition: null, language: null, location: null };
  const env: Envelope = { date: null, subject: 'x', from: null, sender: null, replyTo: null, to: null, cc: null, bcc: null, inReplyTo: null, messageId: null };
  const msg: BodyStructure = { ...inner, type: 'MESSAGE', subtype: 'RFC822', size: 50, lines: 4, message: { envelope: env, body: inner } };
  assert.equal(
    text(fetchResponse(REV1, 3, [{ kind: 'BODY', structure: msg }])),
    '* 3 FETCH (BODY ("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 50 (NIL "x" NIL NIL NIL NIL NIL NIL NIL NIL) ("TEXT" "PLAIN" NIL NIL NIL "7BIT" 5 1) 4))\r\n',
  );
});

test('body sections: literals, partial origin, NIL, literal8 for BINARY with NUL, deferred bodies', () => {
  const data = Buffer.from('Subject: hi\r\n\r\n');
  assert.equal(
    text(fetchResponse(REV1, 1, [
      { kind: 'UID', uid: 7 },
      { kind: 'BODY[]', section: { part: [], text: 'HEADER.FIELDS', fields: ['SUBJECT'] }, origin: null, data },
    ])),
    `* 1 FETCH (UID 7 BODY[HEADER.FIELDS (SUBJECT)] {${data.length}}\r\nSubject: hi\r\n\r\n)\r\n`,
  );
  assert.equal(
    text(fetchResponse(REV1, 1, [{ kind: 'BODY[]', section: { part: [2], text: null, fields: [] }, origin: 10, data: Buffer.from('abc') }])),
    '* 1 FETCH (BODY[2]<10> {3}\r\nabc)\r\n',
  );
  assert.equal(text(fetchResponse(REV1, 1, [{ kind: 'BODY[]', section: { part: [9], text: null, fields: [] }, origin: null, data: null }])), '* 1 FETCH (BODY[9] NIL)\r\n');
  assert.equal(
    text(fetchResponse(REV1, 1, [{ kind: 'BINARY[]', part: [1], origin: null, data: Buffer.from('a\0b'), binary: true }, { kind: 'BINARY.SIZE', part: [1], size: 3 }])),
    '* 1 FETCH (BINARY[1] ~{3}\r\na\0b BINARY.SIZE[1] 3)\r\n',
  );
  assert.equal(text(fetchResponse(REV1, 1, [{ kind: 'MODSEQ', modseq: 12121231000n }])), '* 1 FETCH (MODSEQ (12121231000))\r\n');
  const body: DeferredBody = { kind: 'deferred', size: 5_000_000, source: { blob: 'abc' } };
  const chunks = fetchResponse(REV1, 4, [{ kind: 'UID', uid: 9 }, { kind: 'BODY[]', section: { part: [], text: null, fields: [] }, origin: null, data: body }, { kind: 'FLAGS', flags: [] }]);
  assert.equal(chunks.length, 3);
  assert.equal(chunks[0].toString(), '* 4 FETCH (UID 9 BODY[] {5000000}\r\n');
  assert.equal(chunks[1], body);
  assert.equal(chunks[2].toString(), ' FLAGS ())\r\n');
  assert.throws(() => toBuffer(chunks), /deferred/);
});

test('strings pick quoted or literal form: 8-bit only quoted in UTF-8 mode, CR/LF always literal', () => {
  const env = (subject: string): Envelope => ({ date: null, subject, from: null, sender: null, replyTo: null, to: null, cc: null, bcc: null, inReplyTo: null, messageId: null });
  const subj = (s: string, utf8: boolean) => text(fetchResponse({ utf8 }, 1, [{ kind: 'ENVELOPE', envelope: env(s) }]));
  assert.match(subj('a "quoted" \\ one', false), /"a \\"quoted\\" \\\\ one"/);
  assert.match(subj('Grüße', false), /\{7\}\r\nGrüße/);
  assert.match(subj('Grüße', true), /"Grüße"/);
  assert.match(subj('two\r\nlines', true), /\{10\}\r\ntwo\r\nlines/);
  assert.match(subj('NIL', false), /"NIL"/);
});
