// Mailbox commands' arguments: LIST (RFC 9051 §6.3.9, RFC 5258, RFC 5819, RFC 6154), STATUS,
// SELECT/EXAMINE parameters (RFC 7162), CREATE (RFC 6154 §3), APPEND (RFC 3502, RFC 3516,
// RFC 6855) and QUOTA (RFC 9208).

import type { Cursor } from './cursor.ts';
import type { AppendMessage, CommandBody, ListReturn, ListSelection, QresyncParams, StatusItem } from './commands.ts';
import { parseDateTime } from './datetime.ts';
import type { ImapDateTime } from './datetime.ts';

const STATUS_ITEMS: ReadonlySet<string> = new Set<StatusItem>([
  'MESSAGES', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'DELETED', 'SIZE', 'RECENT', 'HIGHESTMODSEQ', 'APPENDLIMIT',
]);

export function statusItems(c: Cursor): StatusItem[] {
  return c.list(() => {
    const k = c.keyword('status item');
    if (!STATUS_ITEMS.has(k)) c.fail(`Unknown STATUS item ${k}`);
    return k as StatusItem;
  }, true);
}

export function parseStatus(c: Cursor): CommandBody {
  c.sp();
  const mailbox = c.mailbox();
  c.sp();
  const items = statusItems(c);
  c.end();
  return { name: 'STATUS', mailbox, items };
}

/** LIST [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts] (RFC 5258 §6). */
export function parseList(c: Cursor): CommandBody {
  const selection: ListSelection = { subscribed: false, remote: false, recursiveMatch: false, specialUse: false };
  const returns: ListReturn = { subscribed: false, children: false, specialUse: false, status: null };
  let extended = false;
  c.sp();
  if (c.ch === '(') {
    extended = true;
    c.list(() => {
      const o = c.keyword('selection option');
      if (o === 'SUBSCRIBED') selection.subscribed = true;
      else if (o === 'REMOTE') selection.remote = true;
      else if (o === 'RECURSIVEMATCH') selection.recursiveMatch = true;
      else if (o === 'SPECIAL-USE') selection.specialUse = true;
      else c.fail(`Unknown LIST selection option ${o}`); // RFC 5258 §3: unrecognised → BAD
    });
    // RFC 5258 §3: RECURSIVEMATCH must come with another option that it modifies.
    if (selection.recursiveMatch && !selection.subscribed && !selection.specialUse) {
      c.fail('RECURSIVEMATCH needs SUBSCRIBED or SPECIAL-USE (RFC 5258 §3)');
    }
    c.sp();
  }
  // The reference is a mailbox in the grammar but not normalised: it is a prefix for patterns.
  const reference = c.listMailbox();
  c.sp();
  let patterns: string[];
  if (c.ch === '(') {
    extended = true;
    patterns = c.list(() => c.listMailbox(), true);
  } else {
    patterns = [c.listMailbox()];
  }
  if (c.trySp()) {
    extended = true;
    if (!c.tryWord('RETURN')) c.fail('Expected RETURN');
    c.sp();
    c.list(() => {
      const o = c.keyword('return option');
      if (o === 'SUBSCRIBED') returns.subscribed = true;
      else if (o === 'CHILDREN') returns.children = true;
      else if (o === 'SPECIAL-USE') returns.specialUse = true;
      else if (o === 'STATUS') {
        c.sp();
        returns.status = statusItems(c); // RFC 5819 §2
      } else c.fail(`Unknown LIST return option ${o}`);
    });
  }
  c.end();
  return { name: 'LIST', extended, selection, reference, patterns, returns };
}

export function parseLsub(c: Cursor): CommandBody {
  c.sp();
  const reference = c.listMailbox();
  c.sp();
  const pattern = c.listMailbox();
  c.end();
  return { name: 'LSUB', reference, pattern };
}

/** RFC 7162 §3.1.8 / §3.2.5: SELECT mailbox [SP "(" select-param *(SP select-param) ")"]. */
export function parseSelect(c: Cursor, name: 'SELECT' | 'EXAMINE'): CommandBody {
  c.sp();
  const mailbox = c.mailbox();
  let condstore = false;
  let qresync: QresyncParams | null = null;
  if (c.trySp()) {
    c.list(() => {
      const p = c.keyword('select parameter');
      if (p === 'CONDSTORE') condstore = true;
      else if (p === 'QRESYNC') {
        c.sp();
        c.expect('(');
        const uidValidity = c.nzNumber('uidvalidity');
        c.sp();
        const modseq = c.modseq();
        let knownUids = null;
        let seqMatch = null;
        if (c.trySp() && c.ch !== '(') {
          knownUids = c.sequenceSet();
          c.trySp();
        }
        if (c.ch === '(') {
          c.expect('(');
          const seqs = c.sequenceSet();
          c.sp();
          const uids = c.sequenceSet();
          c.expect(')');
          seqMatch = { seqs, uids };
        }
        c.expect(')');
        qresync = { uidValidity, modseq, knownUids, seqMatch };
      } else c.fail(`Unknown ${name} parameter ${p}`);
    }, true);
  }
  c.end();
  return { name, mailbox, condstore, qresync };
}

/** RFC 9051 §6.3.4 with RFC 6154 §3: CREATE mailbox [SP "(" "USE" SP "(" use-attr ... ")" ")"]. */
export function parseCreate(c: Cursor): CommandBody {
  c.sp();
  const mailbox = c.mailbox();
  const specialUse: string[] = [];
  if (c.trySp()) {
    c.list(() => {
      const p = c.keyword('create parameter');
      if (p !== 'USE') c.fail(`Unknown CREATE parameter ${p}`);
      c.sp();
      specialUse.push(
        ...c.list(() => {
          c.expect('\\');
          const a = c.atom('special-use attribute');
          return '\\' + a[0].toUpperCase() + a.slice(1).toLowerCase();
        }),
      );
    }, true);
  }
  c.end();
  return { name: 'CREATE', mailbox, specialUse };
}

function dateTime(c: Cursor): ImapDateTime {
  const text = c.quoted();
  const dt = parseDateTime(text);
  if (!dt) c.fail(`Invalid date-time "${text}" (expected e.g. "17-Jul-1996 02:44:25 -0700")`);
  return dt;
}

/**
 * RFC 3502 §6: append = "APPEND" SP mailbox 1*append-message;
 * append-message = append-opts SP append-data; append-opts = [SP flag-list] [SP date-time];
 * append-data = literal / literal8 (RFC 3516) / "UTF8" SP "(" literal8 ")" (RFC 6855 §4).
 */
export function parseAppend(c: Cursor): CommandBody {
  c.sp();
  const mailbox = c.mailbox();
  const messages: AppendMessage[] = [];
  while (c.trySp()) {
    let flags: string[] = [];
    let date: ImapDateTime | null = null;
    if (c.ch === '(') {
      flags = c.list(() => c.flag());
      c.sp();
    }
    if (c.ch === '"') {
      date = dateTime(c);
      c.sp();
    }
    let utf8 = false;
    if (c.tryWord('UTF8')) {
      utf8 = true;
      c.sp();
      c.expect('(');
    }
    if (!c.isLiteral()) c.fail('Expected message literal');
    const binary = c.ch === '~';
    if (utf8 && !binary) c.fail('UTF8 message data must be a literal8 (RFC 6855 §4)');
    const data = c.literal(true);
    if (utf8) c.expect(')');
    // RFC 9051 §4.3: a plain literal cannot carry NUL; RFC 3516 §4.2 says use literal8.
    if (!binary && data.kind === 'inline' && data.bytes.includes(0)) c.fail('NUL in message literal; use literal8 (RFC 3516)');
    messages.push({ flags, date, data, binary, utf8 });
  }
  if (messages.length === 0) c.fail('APPEND needs a message literal');
  c.end();
  return { name: 'APPEND', mailbox, messages };
}

/** RFC 9208 §4.1: SETQUOTA quota-root SP "(" [setquota-resource *(SP setquota-resource)] ")". */
export function parseSetQuota(c: Cursor): CommandBody {
  c.sp();
  const root = c.astring('quota root');
  c.sp();
  const limits = c.list(() => {
    const resource = c.atom('resource name').toUpperCase();
    c.sp();
    return { resource, limit: c.number64('limit') };
  });
  c.end();
  return { name: 'SETQUOTA', root, limits };
}
