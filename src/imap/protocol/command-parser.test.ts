import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXAMPLES, drive, parseText, splits } from './testing.ts';
import { ImapSyntaxError } from './errors.ts';
import type { Command } from './commands.ts';
import { COMMAND_NAMES, COMMAND_STATES } from './commands.ts';
import { appendMailboxBeforeLiteral } from './command-parser.ts';

const p = (s: string, utf8 = false): Command => parseText(s.endsWith('\n') ? s : s + '\r\n', { utf8 });

function bad(s: string, match?: RegExp, code = 'syntax'): ImapSyntaxError {
  try {
    p(s);
  } catch (err) {
    assert.ok(err instanceof ImapSyntaxError, `expected ImapSyntaxError for ${s}, got ${err}`);
    if (match) assert.match(err.message, match);
    assert.equal(err.code, code, `${s}: ${err.message}`);
    return err;
  }
  assert.fail(`parsed: ${s}`);
}

test('RFC 9051 §6.1, §6.2 examples: any-state and non-authenticated commands', () => {
  assert.deepEqual(p('abcd CAPABILITY'), { name: 'CAPABILITY', tag: 'abcd' });
  assert.deepEqual(p('a002 NOOP'), { name: 'NOOP', tag: 'a002' });
  assert.deepEqual(p('A023 LOGOUT'), { name: 'LOGOUT', tag: 'A023' });
  assert.deepEqual(p('a001 STARTTLS'), { name: 'STARTTLS', tag: 'a001' });
  assert.deepEqual(p('a001 LOGIN SMITH SESAME'), { name: 'LOGIN', user: 'SMITH', password: 'SESAME', tag: 'a001' });
  assert.deepEqual(p('A001 LOGIN {11}\r\nFRED FOOBAR {7}\r\nfat man\r\n'), {
    name: 'LOGIN', user: 'FRED FOOBAR', password: 'fat man', tag: 'A001',
  });
  // RFC 9051 §6.2.2 / RFC 4959 §3 SASL-IR.
  assert.deepEqual(p('A01 AUTHENTICATE PLAIN'), { name: 'AUTHENTICATE', mechanism: 'PLAIN', initialResponse: null, tag: 'A01' });
  assert.deepEqual(p('A01 AUTHENTICATE plain dGVzdAB0ZXN0AHRlc3Q='), {
    name: 'AUTHENTICATE', mechanism: 'PLAIN', initialResponse: 'dGVzdAB0ZXN0AHRlc3Q=', tag: 'A01',
  });
  assert.equal((p('a AUTHENTICATE EXTERNAL =') as { initialResponse: string }).initialResponse, '');
  bad('a AUTHENTICATE PLAIN dGVzd#', /base64/);
});

test('ENABLE, ID, NAMESPACE (RFC 5161, RFC 2971, RFC 2342)', () => {
  assert.deepEqual(p('t2 ENABLE CONDSTORE qresync'), { name: 'ENABLE', capabilities: ['CONDSTORE', 'QRESYNC'], tag: 't2' });
  assert.deepEqual(p('a023 ID ("name" "sodr" "version" "19.34" "vendor" "Pink Floyd Music Limited")'), {
    name: 'ID', params: [['name', 'sodr'], ['version', '19.34'], ['vendor', 'Pink Floyd Music Limited']], tag: 'a023',
  });
  assert.deepEqual(p('a ID NIL'), { name: 'ID', params: null, tag: 'a' });
  assert.deepEqual(p('a ID ("os" NIL)'), { name: 'ID', params: [['os', null]], tag: 'a' });
  assert.deepEqual(p('A001 NAMESPACE'), { name: 'NAMESPACE', tag: 'A001' });
  bad('t ENABLE', /Missing/);
});

test('mailbox commands (RFC 9051 §6.3) with INBOX case-folding and modified UTF-7', () => {
  assert.deepEqual(p('A142 SELECT INBOX'), { name: 'SELECT', mailbox: 'INBOX', condstore: false, qresync: null, tag: 'A142' });
  assert.equal((p('A142 EXAMINE inbox') as { mailbox: string }).mailbox, 'INBOX');
  assert.equal((p('A142 SELECT inbox/Sub') as { mailbox: string }).mailbox, 'INBOX/Sub');
  assert.equal((p('A003 CREATE owatagusiam/') as { mailbox: string }).mailbox, 'owatagusiam/');
  assert.equal((p('A004 CREATE "~peter/mail/&U,BTFw-/&ZeVnLIqe-"') as { mailbox: string }).mailbox, '~peter/mail/台北/日本語');
  assert.equal((p('A004 CREATE "日本語"', true) as { mailbox: string }).mailbox, '日本語');
  // A well-formed command with a name that is not modified UTF-7: NO [CANNOT], not BAD.
  const e = bad('A004 CREATE "&Jjo!"', /Unterminated|Invalid/, 'bad-mailbox-name');
  assert.equal(e.status, 'NO');
  assert.equal(e.responseCode, 'CANNOT');
  // A real syntax error after the name still wins.
  assert.equal(bad('A042 STATUS a&b (FOO)', /Unknown STATUS item/).status, 'BAD');
  // A LIST pattern that is not modified UTF-7 names no mailbox (OK, nothing listed).
  assert.deepEqual((p('A1 LIST "" a&b') as { patterns: string[] }).patterns, ['\u0000']);
  assert.deepEqual(p('A683 DELETE blurdybloop'), { name: 'DELETE', mailbox: 'blurdybloop', tag: 'A683' });
  assert.deepEqual(p('A683 RENAME blurdybloop sarasoop'), { name: 'RENAME', from: 'blurdybloop', to: 'sarasoop', tag: 'A683' });
  assert.deepEqual(p('A002 SUBSCRIBE #news.comp.mail.mime'), { name: 'SUBSCRIBE', mailbox: '#news.comp.mail.mime', tag: 'A002' });
  assert.deepEqual(p('A002 UNSUBSCRIBE "a b"'), { name: 'UNSUBSCRIBE', mailbox: 'a b', tag: 'A002' });
  // RFC 6154 §5.2 CREATE-SPECIAL-USE
  assert.deepEqual(p('t1 CREATE MySpecialArchive (USE (\\Archive))'), {
    name: 'CREATE', mailbox: 'MySpecialArchive', specialUse: ['\\Archive'], tag: 't1',
  });
  assert.deepEqual(p('A042 STATUS blurdybloop (UIDNEXT MESSAGES)'), {
    name: 'STATUS', mailbox: 'blurdybloop', items: ['UIDNEXT', 'MESSAGES'], tag: 'A042',
  });
  bad('A042 STATUS blurdybloop (FOO)', /Unknown STATUS item/);
  bad('A042 STATUS blurdybloop ()', /Empty list/);
});

test('SELECT parameters: CONDSTORE and QRESYNC (RFC 7162 §3.1.8, §3.2.5.2)', () => {
  assert.equal((p('a SELECT INBOX (CONDSTORE)') as { condstore: boolean }).condstore, true);
  const q = p('A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))');
  assert.deepEqual((q as { qresync: unknown }).qresync, {
    uidValidity: 67890007,
    modseq: 20050715194045000n,
    knownUids: { kind: 'set', ranges: [{ start: 41, end: 41 }, { start: 43, end: 211 }, { start: 214, end: 541 }] },
    seqMatch: null,
  });
  const q2 = p('B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976:29979)))');
  const qr = (q2 as { qresync: { seqMatch: { seqs: { ranges: unknown[] } } } }).qresync;
  assert.equal(qr.seqMatch.seqs.ranges.length, 4);
  const q3 = p('a SELECT INBOX (QRESYNC (1 2))');
  assert.deepEqual((q3 as { qresync: unknown }).qresync, { uidValidity: 1, modseq: 2n, knownUids: null, seqMatch: null });
  bad('a SELECT INBOX (QRESYNC (0 2))', /must not be 0/);
  bad('a SELECT INBOX (FOO)', /Unknown SELECT parameter/);
});

test('LIST: RFC 3501 forms, LIST-EXTENDED, LIST-STATUS and SPECIAL-USE', () => {
  assert.deepEqual(p('A101 LIST "" ""'), {
    name: 'LIST', extended: false,
    selection: { subscribed: false, remote: false, recursiveMatch: false, specialUse: false },
    reference: '', patterns: [''],
    returns: { subscribed: false, children: false, specialUse: false, status: null }, tag: 'A101',
  });
  const l = p('A102 LIST #news.comp.mail.misc *') as Extract<Command, { name: 'LIST' }>;
  assert.deepEqual([l.reference, l.patterns], ['#news.comp.mail.misc', ['*']]);
  assert.deepEqual((p('A103 LIST /usr/staff/jones %/%') as typeof l).patterns, ['%/%']);
  // RFC 5258 §5 examples
  const e = p('A02 LIST (SUBSCRIBED RECURSIVEMATCH) "" % RETURN (CHILDREN)') as typeof l;
  assert.equal(e.extended, true);
  assert.deepEqual(e.selection, { subscribed: true, remote: false, recursiveMatch: true, specialUse: false });
  assert.equal(e.returns.children, true);
  const m = p('A04 LIST "" ("INBOX" "Drafts" "Sent/%")') as typeof l;
  assert.deepEqual(m.patterns, ['INBOX', 'Drafts', 'Sent/%']);
  // RFC 5819 §3
  const s = p('A01 LIST "" % RETURN (STATUS (MESSAGES UNSEEN))') as typeof l;
  assert.deepEqual(s.returns.status, ['MESSAGES', 'UNSEEN']);
  // RFC 6154 §5.1
  const su = p('t3 LIST (SPECIAL-USE) "" *') as typeof l;
  assert.equal(su.selection.specialUse, true);
  assert.equal((p('t4 LIST "" * RETURN (SPECIAL-USE)') as typeof l).returns.specialUse, true);
  bad('A02 LIST (RECURSIVEMATCH) "" %', /RECURSIVEMATCH/);
  bad('A02 LIST (FOO) "" %', /selection option/);
  assert.deepEqual(p('A002 LSUB "#news." "comp.mail.*"'), { name: 'LSUB', reference: '#news.', pattern: 'comp.mail.*', tag: 'A002' });
});

test('APPEND: flags, date-time, literal8, UTF8 and MULTIAPPEND (RFC 9051 §6.3.12, RFC 3502, RFC 3516, RFC 6855)', () => {
  const msg = 'Date: Mon, 7 Feb 1994 21:52:25 -0800\r\nSubject: afternoon meeting\r\n\r\nHello Joe\r\n';
  const a = p(`A003 APPEND saved-messages (\\Seen) {${msg.length}}\r\n${msg}\r\n`) as Extract<Command, { name: 'APPEND' }>;
  assert.equal(a.mailbox, 'saved-messages');
  assert.equal(a.messages.length, 1);
  assert.deepEqual(a.messages[0].flags, ['\\Seen']);
  assert.equal(a.messages[0].data.kind === 'inline' && a.messages[0].data.bytes.toString(), msg);
  const d = p('a APPEND INBOX (\\seen $Forwarded) " 7-Feb-1994 21:52:25 -0800" {1}\r\nx\r\n') as typeof a;
  assert.deepEqual(d.messages[0].flags, ['\\Seen', '$Forwarded']);
  assert.deepEqual(d.messages[0].date, { time: Date.UTC(1994, 1, 8, 5, 52, 25), offset: -480 });
  const multi = p('A003 APPEND saved-messages (\\Seen) {1}\r\na (\\Seen) "01-Jan-2020 00:00:00 +0000" {1}\r\nb {1}\r\nc\r\n') as typeof a;
  assert.equal(multi.messages.length, 3);
  const bin = p('a APPEND INBOX ~{3}\r\na\x00b\r\n') as typeof a;
  assert.equal(bin.messages[0].binary, true);
  const u = p('a APPEND INBOX UTF8 (~{2}\r\nhi)\r\n') as typeof a;
  assert.deepEqual([u.messages[0].utf8, u.messages[0].binary], [true, true]);
  bad('a APPEND INBOX {3}\r\na\x00b\r\n', /NUL/);
  bad('a APPEND INBOX', /message literal/);
  bad('a APPEND INBOX "32-Jan-2020 00:00:00 +0000" {1}\r\nx\r\n', /date-time/);
  bad('a LOGIN ~{1}\r\nx y\r\n', /literal8/, 'bad-literal');
});

test('selected-state commands: CHECK CLOSE UNSELECT EXPUNGE IDLE COPY MOVE and UID forms', () => {
  for (const name of ['CHECK', 'CLOSE', 'UNSELECT', 'IDLE'] as const) assert.deepEqual(p(`x ${name}`), { name, tag: 'x' });
  assert.deepEqual(p('A202 EXPUNGE'), { name: 'EXPUNGE', uid: false, set: null, tag: 'A202' });
  assert.deepEqual(p('A003 UID EXPUNGE 3000:3002'), {
    name: 'EXPUNGE', uid: true, set: { kind: 'set', ranges: [{ start: 3000, end: 3002 }] }, tag: 'A003',
  });
  assert.deepEqual(p('A003 COPY 2:4 MEETING'), {
    name: 'COPY', uid: false, set: { kind: 'set', ranges: [{ start: 2, end: 4 }] }, mailbox: 'MEETING', tag: 'A003',
  });
  assert.deepEqual(p('a UID MOVE 42:69 foo'), {
    name: 'MOVE', uid: true, set: { kind: 'set', ranges: [{ start: 42, end: 69 }] }, mailbox: 'foo', tag: 'a',
  });
  assert.deepEqual((p('a COPY $ Trash') as { set: unknown }).set, { kind: 'saved' });
  assert.deepEqual((p('a COPY 5:2,*,7:* x') as { set: unknown }).set, {
    kind: 'set', ranges: [{ start: 5, end: 2 }, { start: '*', end: '*' }, { start: 7, end: '*' }],
  });
  bad('a UID CAPABILITY', /not a UID command/, 'unknown-command');
  bad('a FROB', /Unknown command/, 'unknown-command');
  bad('a COPY 0:3 x', /must not be 0/);
  bad('a COPY 1,,2 x', /sequence number/);
  bad('a NOOP extra', /Unexpected/);
  bad('a EXPUNGE 1', /Unexpected/);
});

test('STORE (RFC 9051 §6.4.6) with UNCHANGEDSINCE (RFC 7162 §3.1.3)', () => {
  assert.deepEqual(p('A003 STORE 2:4 +FLAGS (\\Deleted)'), {
    name: 'STORE', uid: false, set: { kind: 'set', ranges: [{ start: 2, end: 4 }] }, unchangedSince: null,
    op: 'add', silent: false, flags: ['\\Deleted'], tag: 'A003',
  });
  const s = p('a103 UID STORE 6,4,8 (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\\Deleted)') as Extract<Command, { name: 'STORE' }>;
  assert.deepEqual([s.uid, s.unchangedSince, s.op, s.silent], [true, 12121230045n, 'add', true]);
  assert.deepEqual((p('a STORE 1 -FLAGS \\Seen $Junk') as typeof s).flags, ['\\Seen', '$Junk']);
  assert.deepEqual((p('a STORE 1 FLAGS ()') as typeof s).flags, []);
  assert.equal((p('a STORE 1 flags.silent (a)') as typeof s).op, 'set');
  bad('a STORE 1 +LABELS (a)', /FLAGS/);
  bad('a STORE 1 +FLAGS (\\Seen', /Expected|Missing/);
  // RFC 9051 §9: an unknown flag-extension is refused, not stored (servers MUST NOT generate them).
  bad('a STORE 1 +FLAGS (\\Bogus)', /Unknown system flag/);
  bad('a APPEND INBOX (\\Seen \\Unknown) {3+}\r\nabc', /Unknown system flag/);
  assert.deepEqual((p('a STORE 1 +FLAGS (\\sEEN \\recent)') as typeof s).flags, ['\\Seen', '\\Recent']);
});

test('quota (RFC 9208) and COMPRESS (RFC 4978)', () => {
  assert.deepEqual(p('G0001 GETQUOTA "!partition/sda4"'), { name: 'GETQUOTA', root: '!partition/sda4', tag: 'G0001' });
  assert.deepEqual(p('A003 GETQUOTAROOT INBOX'), { name: 'GETQUOTAROOT', mailbox: 'INBOX', tag: 'A003' });
  assert.deepEqual(p('S0000 SETQUOTA "#user/alice" (Storage 510)'), {
    name: 'SETQUOTA', root: '#user/alice', limits: [{ resource: 'STORAGE', limit: 510 }], tag: 'S0000',
  });
  assert.deepEqual(p('a COMPRESS DEFLATE'), { name: 'COMPRESS', mechanism: 'DEFLATE', tag: 'a' });
});

test('tags: any ASTRING-CHAR except "+"; a missing tag gives an untagged BAD', () => {
  assert.equal(p('a.b-c_1] NOOP').tag, 'a.b-c_1]');
  const e = bad('+ NOOP');
  assert.equal(e.tag, null);
  assert.equal(bad('a1').tag, 'a1');
});

test('every RFC example parses, and gives the same result split at every byte boundary', () => {
  let splitsRun = 0;
  for (const text of EXAMPLES) {
    const input = Buffer.from(text, 'latin1');
    const whole = drive([input]);
    assert.ok(whole.length > 0 && whole.every((l) => /^(command|literal|streamed|line) /.test(l)), `${JSON.stringify(text)} → ${whole.join(' | ')}`);
    for (const chunks of splits(input)) {
      assert.deepEqual(drive(chunks), whole, JSON.stringify(text));
      splitsRun++;
    }
  }
  assert.ok(splitsRun > EXAMPLES.length * 20);
});

test('appendMailboxBeforeLiteral lets the server refuse an APPEND before reading the message', () => {
  assert.equal(appendMailboxBeforeLiteral(['a1 APPEND inbox (\\Seen) {310}']), 'INBOX');
  assert.equal(appendMailboxBeforeLiteral(['a1 APPEND "Sent Items" {3}']), 'Sent Items');
  assert.equal(appendMailboxBeforeLiteral(['a1 APPEND {5}']), null);
  assert.equal(appendMailboxBeforeLiteral(['a1 LOGIN {5}']), null);
  assert.equal(appendMailboxBeforeLiteral(['a1 APPEND &Jjo {5}']), null);
});

test('the command table lists a state set for every command', () => {
  assert.deepEqual(Object.keys(COMMAND_STATES).sort(), [...COMMAND_NAMES].sort());
  assert.deepEqual(COMMAND_STATES.LOGIN, ['not-authenticated']);
  assert.ok(COMMAND_STATES.FETCH.includes('selected') && !COMMAND_STATES.FETCH.includes('authenticated'));
});

test('a bare CR inside a quoted string is a BAD (RFC 9051 §9 TEXT-CHAR)', () => {
  bad('a LOGIN "x\ry" z', /CR/);
});
