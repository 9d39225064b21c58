import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandReader, decideLiteral, LITERAL_MINUS_MAX } from './reader.ts';
import type { ReaderEvent } from './reader.ts';
import { drive, splits } from './testing.ts';
import type { DriveOptions } from './testing.ts';

const b = (s: string) => Buffer.from(s, 'latin1');

function events(reader: CommandReader, input?: string): ReaderEvent[] {
  if (input !== undefined) reader.push(b(input));
  const out: ReaderEvent[] = [];
  for (;;) {
    const ev = reader.next();
    out.push(ev);
    if (ev.kind === 'need-more' || ev.kind === 'literal') return out;
  }
}

test('frames a simple command and accepts bare LF', () => {
  const r = new CommandReader();
  const evs = events(r, 'a1 NOOP\r\na2 CAPABILITY\n');
  assert.deepEqual(
    evs.map((e) => (e.kind === 'command' ? e.frame.lines : e.kind)),
    [['a1 NOOP'], ['a2 CAPABILITY'], 'need-more'],
  );
});

test('a synchronizing literal waits for the decision, then is buffered into the frame', () => {
  const r = new CommandReader();
  const [ann] = events(r, 'A001 LOGIN {11}\r\n');
  assert.equal(ann.kind, 'literal');
  if (ann.kind !== 'literal') return;
  assert.deepEqual([ann.tag, ann.command, ann.size, ann.sync, ann.binary, ann.index], ['A001', 'LOGIN', 11, true, false, 0]);
  assert.throws(() => r.next(), /acceptLiteral/);
  r.acceptLiteral('inline');
  const evs = events(r, 'FRED FOOBAR {7}\r\n');
  assert.equal(evs[0].kind, 'literal');
  r.acceptLiteral('inline');
  const [cmd] = events(r, 'fat man\r\n');
  assert.equal(cmd.kind, 'command');
  if (cmd.kind !== 'command') return;
  assert.deepEqual(cmd.frame.lines, ['A001 LOGIN {11}', ' {7}', '']);
  assert.deepEqual(
    cmd.frame.literals.map((l) => (l.kind === 'inline' ? l.bytes.toString() : l.kind)),
    ['FRED FOOBAR', 'fat man'],
  );
});

test('refusing a synchronizing literal ends the command; the next line is a new command', () => {
  const out = drive([b('a1 LOGIN {99999999}\r\na2 NOOP\r\n')]);
  assert.deepEqual(out, ['literal a1 LOGIN 99999999 -> reject', 'command {"name":"NOOP","tag":"a2"}']);
});

test('LITERAL-: a non-synchronizing literal over 4096 octets is refused and its octets skipped (RFC 7888 §4)', () => {
  const big = 'x'.repeat(LITERAL_MINUS_MAX + 1);
  const out = drive([b(`a1 LOGIN {${big.length}+}\r\n${big} {3+}\r\nabc\r\na2 NOOP\r\n`)], { nonSyncLiterals: 'literal-' });
  assert.deepEqual(out, ['error a1 too-big', 'command {"name":"NOOP","tag":"a2"}']);
  const ok = drive([b('a1 LOGIN {3+}\r\nbob {3+}\r\npwd\r\n')], { nonSyncLiterals: 'literal-' });
  assert.deepEqual(ok, [
    'literal a1 LOGIN 3+ -> inline',
    'literal a1 LOGIN 3+ -> inline',
    'command {"name":"LOGIN","user":"bob","password":"pwd","tag":"a1"}',
  ]);
});

test('without LITERAL+ a non-synchronizing literal is a BAD, and its data is not run as commands', () => {
  const out = drive([b('a1 LOGIN {11+}\r\na9 LOGOUT\r\n\r\na2 NOOP\r\n')], { nonSyncLiterals: 'none' });
  assert.deepEqual(out, ['error a1 bad-literal', 'command {"name":"NOOP","tag":"a2"}']);
});

test('refusing a non-synchronizing literal discards it and the rest of the command', () => {
  const policy = () => 'reject' as const;
  const out = drive([b('a1 APPEND INBOX {5+}\r\nhello {3+}\r\nabc\r\na2 NOOP\r\n')], { policy });
  assert.deepEqual(out, ['literal a1 APPEND 5+ -> reject', 'command {"name":"NOOP","tag":"a2"}']);
});

test('APPEND message data is streamed in the chunks it arrives in, never buffered whole', () => {
  const r = new CommandReader();
  const size = 200_000;
  const [ann] = events(r, `a1 APPEND INBOX (\\Seen) {${size}}\r\n`);
  assert.equal(ann.kind, 'literal');
  if (ann.kind !== 'literal') return;
  assert.deepEqual(decideLiteral(ann), { action: 'stream' });
  r.acceptLiteral('stream');
  let received = 0;
  let maxBuffered = 0;
  const chunk = Buffer.alloc(16_384, 0x61);
  let sent = 0;
  let frame = null;
  while (!frame) {
    if (sent < size) {
      const n = Math.min(chunk.length, size - sent);
      r.push(chunk.subarray(0, n));
      sent += n;
      if (sent === size) r.push(b('\r\n'));
    }
    maxBuffered = Math.max(maxBuffered, r.buffered);
    for (const ev of events(r)) {
      if (ev.kind === 'literal-data') received += ev.bytes.length;
      if (ev.kind === 'command') frame = ev.frame;
    }
  }
  assert.equal(received, size);
  assert.ok(maxBuffered <= chunk.length + 2, `reader held ${maxBuffered} octets`);
  assert.deepEqual(frame.literals, [{ kind: 'stream', id: 1, size, binary: false }]);
});

test('decideLiteral refuses oversized APPENDs with NO [TOOBIG] and big non-APPEND literals with BAD', () => {
  const ann = { kind: 'literal' as const, tag: 'a', command: 'APPEND', size: 60e6, sync: true, binary: false, index: 1, commandBytes: 30, lines: ['a APPEND INBOX {60000000}'] };
  assert.equal(decideLiteral(ann).action, 'reject');
  assert.deepEqual(decideLiteral({ ...ann, size: 100 }), { action: 'inline' });
  const search = decideLiteral({ ...ann, command: 'UID SEARCH', size: 100_000 });
  assert.equal(search.action === 'reject' && search.status, 'BAD');
});

test('an overlong line is reported with its tag and skipped up to CRLF', () => {
  const long = 'a'.repeat(200);
  const out = drive([b(`t1 SEARCH SUBJECT ${long}\r\nt2 NOOP\r\n`)], { maxLineLength: 100 });
  assert.deepEqual(out, ['error t1 line-too-long', 'command {"name":"NOOP","tag":"t2"}']);
  // A partial line that grows past the limit before its CRLF arrives is cut off early.
  const r = new CommandReader({ maxLineLength: 100 });
  r.push(b(`t1 X ${long}`));
  const ev = r.next();
  assert.equal(ev.kind, 'error');
  assert.equal(r.buffered, 0);
});

test('an overlong line that announced a non-synchronizing literal has that literal skipped too', () => {
  const long = 'a'.repeat(200);
  const out = drive([b(`t1 APPEND ${long} {4+}\r\nt9 X\r\nt2 NOOP\r\n`)], { maxLineLength: 100 });
  assert.deepEqual(out, ['error t1 line-too-long', 'command {"name":"NOOP","tag":"t2"}']);
});

test('"{5}" at the end of an unterminated quoted string is not a literal', () => {
  const out = drive([b('a1 LOGIN "fred {5}\r\na2 NOOP\r\n')]);
  assert.deepEqual(out, ['bad a1 syntax', 'command {"name":"NOOP","tag":"a2"}']);
});

test('a literal length beyond 32 bits cannot be framed: fatal', () => {
  const out = drive([b('a1 LOGIN {99999999999}\r\n')]);
  assert.deepEqual(out, ['error a1 bad-literal fatal']);
});

test('continuation lines: IDLE waits for DONE, AUTHENTICATE for the client response', () => {
  const out = drive([b('a1 IDLE\r\nDONE\r\na2 AUTHENTICATE PLAIN\r\nAGZyZWQAc2VjcmV0\r\na3 NOOP\r\n')]);
  assert.deepEqual(out, [
    'command {"name":"IDLE","tag":"a1"}',
    'line DONE',
    'command {"name":"AUTHENTICATE","mechanism":"PLAIN","initialResponse":null,"tag":"a2"}',
    'line AGZyZWQAc2VjcmV0',
    'command {"name":"NOOP","tag":"a3"}',
  ]);
});

test('discardBuffered drops what followed STARTTLS in the clear', () => {
  const r = new CommandReader();
  r.push(b('a1 STARTTLS\r\na2 LOGIN x y\r\n'));
  const ev = r.next();
  assert.equal(ev.kind, 'command');
  assert.equal(r.discardBuffered(), 'a2 LOGIN x y\r\n'.length);
  assert.equal(r.next().kind, 'need-more');
});

test('8-bit octets that are not UTF-8 give a tagged BAD; empty lines an untagged one', () => {
  const out = drive([Buffer.concat([b('a1 SELECT "'), Buffer.from([0xff, 0xfe]), b('"\r\n\r\na2 NOOP\r\n')])]);
  assert.deepEqual(out, ['error a1 bad-utf8', 'error null syntax', 'command {"name":"NOOP","tag":"a2"}']);
});

// Every input below gives the same transcript however it is split into chunks.
const CORPUS: Array<[string, DriveOptions?]> = [
  ['A001 LOGIN {11}\r\nFRED FOOBAR {7}\r\nfat man\r\nA002 NOOP\r\n'],
  ['a1 APPEND saved-messages (\\Seen) {310}\r\n' + 'x'.repeat(308) + '\r\n\r\n'],
  ['a1 APPEND INBOX {70000+}\r\n' + 'y'.repeat(70_000).slice(0, 100) + '\r\n', { policy: () => 'stream' }],
  ['a1 LOGIN {3+}\r\nbob {3+}\r\npwd\r\na2 LOGOUT\r\n', { nonSyncLiterals: 'literal-' }],
  ['a1 LOGIN {5000+}\r\n' + 'z'.repeat(5000) + ' x\r\na2 NOOP\r\n', { nonSyncLiterals: 'literal-' }],
  ['a1 APPEND INBOX ~{5}\r\nab\x00cd\r\n', { policy: () => 'stream' }],
  ['t1 SEARCH SUBJECT ' + 'q'.repeat(150) + '\r\nt2 NOOP\r\n', { maxLineLength: 100 }],
  ['a1 IDLE\r\nDONE\r\na2 UID FETCH 1:* (FLAGS)\r\n'],
  ['a1 LOGIN "a\\"b" {2}\r\nxy\r\n\r\na2 NOOP\r\n'],
  ['a1 LOGIN {10}\r\na2 NOOP\r\n', { policy: () => 'reject' }],
  ['a1 APPEND INBOX {5+}\r\nhello {3+}\r\nabc\r\na2 NOOP\r\n', { policy: () => 'reject' }],
  ['t1 APPEND ' + 'n'.repeat(120) + ' {4+}\r\nt9 X\r\nt2 NOOP\r\n', { maxLineLength: 100 }],
];

test('every input split at every byte boundary gives the same transcript', () => {
  let cases = 0;
  for (const [text, opts] of CORPUS) {
    const input = b(text);
    const whole = drive([input], opts);
    assert.ok(whole.length > 0);
    for (const chunks of splits(input)) {
      const policy = opts?.policy;
      // Streamed literals arrive in different chunk counts; the transcript joins them.
      assert.deepEqual(drive(chunks, { ...opts, policy }), whole, `split ${chunks.map((c) => c.length).join('+')} of ${JSON.stringify(text.slice(0, 40))}`);
      cases++;
    }
  }
  assert.ok(cases > 1000);
});
