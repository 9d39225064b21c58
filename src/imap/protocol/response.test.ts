import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  REV1,
  capabilityResponse,
  continuation,
  enabledResponse,
  esearchResponse,
  flagsResponse,
  idResponse,
  listResponse,
  namespaceResponse,
  quotaResponse,
  quotaRootResponse,
  recentResponse,
  searchResponse,
  searchResults,
  selectResponses,
  statusResponse,
  syntaxErrorResponse,
  tagged,
  untaggedStatus,
  vanishedResponse,
} from './response.ts';
import type { ProtocolMode } from './response.ts';
import { toBuffer } from './wire-values.ts';
import { ImapSyntaxError } from './errors.ts';
import type { ResponseChunk } from './wire-values.ts';
import type { SearchReturn } from './commands.ts';

const REV2: ProtocolMode = { rev2: true, utf8: true };
const t = (chunks: ResponseChunk[] | null) => (chunks ? toBuffer(chunks).toString('utf8') : null);
const ret = (o: Partial<SearchReturn>): SearchReturn => ({ min: false, max: false, all: false, count: false, save: false, partial: null, ...o });

test('status responses with RFC 9051 and RFC 5530 codes', () => {
  assert.equal(t(tagged('A142', 'OK', 'SELECT completed', { code: 'READ-WRITE' })), 'A142 OK [READ-WRITE] SELECT completed\r\n');
  assert.equal(t(untaggedStatus('OK', 'UIDs valid', { code: 'UIDVALIDITY', value: 3857529045 })), '* OK [UIDVALIDITY 3857529045] UIDs valid\r\n');
  assert.equal(t(tagged('a', 'NO', 'Authentication failed', { code: 'AUTHENTICATIONFAILED' })), 'a NO [AUTHENTICATIONFAILED] Authentication failed\r\n');
  assert.equal(t(tagged('a', 'NO', 'No such mailbox', { code: 'NONEXISTENT' })), 'a NO [NONEXISTENT] No such mailbox\r\n');
  assert.equal(t(tagged('A003', 'OK', 'APPEND completed', { code: 'APPENDUID', uidValidity: 38505, uids: [3955] })), 'A003 OK [APPENDUID 38505 3955] APPEND completed\r\n');
  // RFC 4315 §3 example: the source set keeps the order in which messages were copied.
  assert.equal(
    t(tagged('A004', 'OK', 'Done', { code: 'COPYUID', uidValidity: 38505, from: [304, 319, 320], to: [3956, 3957, 3958] })),
    'A004 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n',
  );
  assert.equal(t(tagged('d105', 'OK', 'Conditional STORE failed', { code: 'MODIFIED', set: [9, 7] })), 'd105 OK [MODIFIED 7,9] Conditional STORE failed\r\n');
  assert.equal(t(untaggedStatus('OK', 'Limited', { code: 'PERMANENTFLAGS', flags: ['\\Deleted', '\\Seen', '\\*'] })), '* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n');
  assert.equal(t(tagged('a', 'NO', 'x', { code: 'BADCHARSET', charsets: ['UTF-8', 'US-ASCII'] })), 'a NO [BADCHARSET (UTF-8 US-ASCII)] x\r\n');
  assert.equal(t(untaggedStatus('OK', 'm', { code: 'HIGHESTMODSEQ', value: 20010715194045007n })), '* OK [HIGHESTMODSEQ 20010715194045007] m\r\n');
  assert.equal(t(untaggedStatus('BYE', 'Autologout; idle for too long')), '* BYE Autologout; idle for too long\r\n');
  // Text cannot break the line or pose as a response code.
  assert.equal(t(tagged('a', 'BAD', 'bad\r\n* OK injected')), 'a BAD bad * OK injected\r\n');
  assert.equal(t(tagged('a', 'BAD', '[ALERT] fake')), 'a BAD  [ALERT] fake\r\n');
  assert.equal(t(continuation()), '+ Ready\r\n');
  assert.equal(t(continuation('')), '+ \r\n');
});

test('untagged data responses (RFC 9051 §7 examples)', () => {
  assert.equal(t(capabilityResponse(['IMAP4rev1', 'IMAP4rev2', 'STARTTLS', 'AUTH=GSSAPI', 'LOGINDISABLED'])), '* CAPABILITY IMAP4rev1 IMAP4rev2 STARTTLS AUTH=GSSAPI LOGINDISABLED\r\n');
  assert.equal(t(enabledResponse(['CONDSTORE', 'QRESYNC'])), '* ENABLED CONDSTORE QRESYNC\r\n');
  assert.equal(t(statusResponse(REV1, 'blurdybloop', [['MESSAGES', 231], ['UIDNEXT', 44292]])), '* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n');
  assert.equal(t(listResponse(REV1, { name: '', attributes: ['\\Noselect'], delimiter: '/' })), '* LIST (\\Noselect) "/" ""\r\n');
  assert.equal(t(listResponse(REV1, { name: 'foo bar', attributes: [], delimiter: '/' })), '* LIST () "/" "foo bar"\r\n');
  assert.equal(t(listResponse(REV1, { name: 'Nil', attributes: [], delimiter: null })), '* LIST () NIL "Nil"\r\n');
  // RFC 5258 §5 CHILDINFO, RFC 9051 OLDNAME
  assert.equal(
    t(listResponse(REV1, { name: 'Foo', attributes: ['\\Subscribed'], delimiter: '/', childInfo: ['SUBSCRIBED'] })),
    '* LIST (\\Subscribed) "/" Foo ("CHILDINFO" ("SUBSCRIBED"))\r\n',
  );
  // Modified UTF-7 for IMAP4rev1, UTF-8 once enabled (RFC 6855 §3).
  assert.equal(t(listResponse(REV1, { name: '台北', attributes: [], delimiter: '/' })), '* LIST () "/" &U,BTFw-\r\n');
  assert.equal(t(listResponse(REV2, { name: '台北', attributes: [], delimiter: '/' })), '* LIST () "/" "台北"\r\n');
  assert.equal(t(idResponse(REV1, [['name', 'Freehold'], ['os', null]])), '* ID ("name" "Freehold" "os" NIL)\r\n');
  assert.equal(t(idResponse(REV1, null)), '* ID NIL\r\n');
  assert.equal(t(namespaceResponse(REV1, [{ prefix: '', delimiter: '/' }], [], [])), '* NAMESPACE (("" "/")) NIL NIL\r\n');
  assert.equal(t(quotaResponse(REV1, '', [{ name: 'STORAGE', usage: 10, limit: 512 }])), '* QUOTA "" (STORAGE 10 512)\r\n');
  assert.equal(t(quotaRootResponse(REV1, 'INBOX', [''])), '* QUOTAROOT INBOX ""\r\n');
  assert.equal(t(vanishedResponse([405, 300, 301, 302, 411], true)), '* VANISHED (EARLIER) 300:302,405,411\r\n');
  assert.equal(vanishedResponse([], false), null);
});

test('SEARCH and ESEARCH (RFC 9051 §7.3.4/§7.3.5, RFC 4731, RFC 9394, RFC 7162)', () => {
  assert.equal(t(searchResponse([2, 84, 882])), '* SEARCH 2 84 882\r\n');
  assert.equal(t(searchResponse([])), '* SEARCH\r\n');
  assert.equal(t(searchResponse([2, 5], 917162500n)), '* SEARCH 2 5 (MODSEQ 917162500)\r\n');
  assert.equal(t(esearchResponse({ tag: 'A282', uid: false, nums: [2, 10, 11], returns: ret({ min: true, count: true }) })), '* ESEARCH (TAG "A282") MIN 2 COUNT 3\r\n');
  assert.equal(t(esearchResponse({ tag: 'A283', uid: false, nums: [2, 10, 11], returns: ret({ all: true }) })), '* ESEARCH (TAG "A283") ALL 2,10:11\r\n');
  assert.equal(t(esearchResponse({ tag: 'A284', uid: true, nums: [], returns: ret({ min: true, count: true }) })), '* ESEARCH (TAG "A284") UID COUNT 0\r\n');
  const nums = Array.from({ length: 10 }, (_, i) => i * 2 + 1);
  assert.equal(t(esearchResponse({ tag: 'p', uid: true, nums, returns: ret({ partial: { from: 1, to: 3 } }) })), '* ESEARCH (TAG "p") UID PARTIAL (1:3 1,3,5)\r\n');
  assert.equal(t(esearchResponse({ tag: 'p', uid: true, nums, returns: ret({ partial: { from: -1, to: -2 } }) })), '* ESEARCH (TAG "p") UID PARTIAL (-1:-2 17,19)\r\n');
  assert.equal(t(esearchResponse({ tag: 'p', uid: true, nums, returns: ret({ partial: { from: 50, to: 60 } }) })), '* ESEARCH (TAG "p") UID PARTIAL (50:60 NIL)\r\n');
  // IMAP4rev2 answers a plain SEARCH with ESEARCH (RFC 9051 Appendix E); SAVE alone answers nothing.
  assert.equal(t(searchResults(REV1, { tag: 'a', uid: false, nums: [1, 2], returns: null })), '* SEARCH 1 2\r\n');
  assert.equal(t(searchResults(REV2, { tag: 'a', uid: false, nums: [1, 2], returns: null })), '* ESEARCH (TAG "a") ALL 1:2\r\n');
  assert.equal(searchResults(REV1, { tag: 'a', uid: false, nums: [1], returns: ret({ save: true }) }), null);
});

test('IMAP4rev1 vs IMAP4rev2 SELECT responses (RFC 9051 Appendix E)', () => {
  const info = {
    name: 'INBOX', flags: ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft', '\\Recent'], permanentFlags: ['\\Deleted', '\\Seen', '\\*'],
    exists: 172, recent: 1, firstUnseen: 12, uidValidity: 3857529045, uidNext: 4392, highestModseq: 715194045007n, condstore: true,
  };
  assert.equal(
    t(selectResponses(REV1, info)),
    '* 172 EXISTS\r\n* 1 RECENT\r\n* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\Recent)\r\n' +
      '* OK [UNSEEN 12] Message 12 is first unseen\r\n* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Flags permitted\r\n' +
      '* OK [UIDVALIDITY 3857529045] UIDs valid\r\n* OK [UIDNEXT 4392] Predicted next UID\r\n* OK [HIGHESTMODSEQ 715194045007] Highest\r\n',
  );
  assert.equal(
    t(selectResponses(REV2, { ...info, condstore: false })),
    '* 172 EXISTS\r\n* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Flags permitted\r\n' +
      '* OK [UIDVALIDITY 3857529045] UIDs valid\r\n* OK [UIDNEXT 4392] Predicted next UID\r\n* LIST () "/" INBOX\r\n',
  );
  assert.equal(recentResponse(REV2, 3), null);
  assert.equal(t(flagsResponse(REV2, ['\\Seen', '\\Recent'])), '* FLAGS (\\Seen)\r\n');
});

test('syntax errors become tagged BADs, untagged without a tag, with [TOOBIG] where it fits', () => {
  assert.equal(t(syntaxErrorResponse(new ImapSyntaxError('syntax', 'Unknown search key FROB', { tag: 'a1' }))), 'a1 BAD Unknown search key FROB\r\n');
  assert.equal(t(syntaxErrorResponse(new ImapSyntaxError('line-too-long', 'Line too long', { tag: 'a2', responseCode: 'TOOBIG' }))), 'a2 BAD [TOOBIG] Line too long\r\n');
  assert.equal(t(syntaxErrorResponse(new ImapSyntaxError('syntax', 'Missing or invalid tag'))), '* BAD Missing or invalid tag\r\n');
});
