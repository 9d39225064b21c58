// Frame → typed Command. RFC 9051 §9: command = tag SP (command-any / command-auth /
// command-nonauth / command-select) CRLF. Which commands are allowed in which state is the
// session's business; this only checks the grammar.

import { Cursor } from './cursor.ts';
import type { ParseOptions } from './cursor.ts';
import type { CommandFrame } from './reader.ts';
import type { Command, CommandBody } from './commands.ts';
import { ImapSyntaxError } from './errors.ts';
import { parseFetch, parseStore } from './parse-fetch.ts';
import { parseSearch } from './parse-search.ts';
import { parseAppend, parseCreate, parseList, parseLsub, parseSelect, parseSetQuota, parseStatus } from './parse-mailbox.ts';

export type { ParseOptions } from './cursor.ts';

type Parser = (c: Cursor) => CommandBody;

function bare(name: 'CAPABILITY' | 'NOOP' | 'LOGOUT' | 'STARTTLS' | 'NAMESPACE' | 'IDLE' | 'CHECK' | 'CLOSE' | 'UNSELECT'): Parser {
  return (c) => {
    c.end();
    return { name };
  };
}

function oneMailbox(name: 'DELETE' | 'SUBSCRIBE' | 'UNSUBSCRIBE' | 'GETQUOTAROOT'): Parser {
  return (c) => {
    c.sp();
    const mailbox = c.mailbox();
    c.end();
    return { name, mailbox } as CommandBody;
  };
}

function copyOrMove(name: 'COPY' | 'MOVE', uid: boolean): Parser {
  return (c) => {
    c.sp();
    const set = c.sequenceSet();
    c.sp();
    const mailbox = c.mailbox();
    c.end();
    return { name, uid, set, mailbox };
  };
}

// RFC 4648 base64 as used by AUTHENTICATE (RFC 9051 §9: base64 = *(4base64-char) [base64-terminal]).
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const PARSERS: Record<string, Parser> = {
  CAPABILITY: bare('CAPABILITY'),
  NOOP: bare('NOOP'),
  LOGOUT: bare('LOGOUT'),
  STARTTLS: bare('STARTTLS'),
  NAMESPACE: bare('NAMESPACE'),
  IDLE: bare('IDLE'),
  CHECK: bare('CHECK'),
  CLOSE: bare('CLOSE'),
  UNSELECT: bare('UNSELECT'),
  LOGIN: (c) => {
    c.sp();
    const user = c.astring('user name');
    c.sp();
    const password = c.astring('password');
    c.end();
    return { name: 'LOGIN', user, password };
  },
  AUTHENTICATE: (c) => {
    c.sp();
    const mechanism = c.atom('SASL mechanism').toUpperCase();
    let initialResponse: string | null = null;
    if (c.trySp()) {
      // RFC 4959 §7: initial-response = base64 / "=" (an empty response).
      const ir = c.atom('initial response');
      if (ir === '=') initialResponse = '';
      else if (BASE64_RE.test(ir)) initialResponse = ir;
      else c.fail('Initial response is not base64');
    }
    c.end();
    return { name: 'AUTHENTICATE', mechanism, initialResponse };
  },
  ENABLE: (c) => {
    // RFC 5161 §4: ENABLE 1*(SP capability)
    const capabilities: string[] = [];
    do {
      c.sp();
      capabilities.push(c.atom('capability').toUpperCase());
    } while (c.ch === ' ');
    c.end();
    return { name: 'ENABLE', capabilities };
  },
  ID: (c) => {
    // RFC 2971 §4: id = "ID" SP id-params-list; id-params-list = "(" *(string SP nstring) ")" / nil
    c.sp();
    let params: Array<[string, string | null]> | null = null;
    if (!c.tryWord('NIL')) {
      params = [];
      c.expect('(');
      while (!c.tryChar(')')) {
        if (params.length > 0) c.sp();
        const field = c.string();
        c.sp();
        params.push([field, c.nstring()]);
      }
    }
    c.end();
    return { name: 'ID', params };
  },
  LIST: parseList,
  LSUB: parseLsub,
  STATUS: parseStatus,
  SELECT: (c) => parseSelect(c, 'SELECT'),
  EXAMINE: (c) => parseSelect(c, 'EXAMINE'),
  CREATE: parseCreate,
  DELETE: oneMailbox('DELETE'),
  RENAME: (c) => {
    c.sp();
    const from = c.mailbox();
    c.sp();
    const to = c.mailbox();
    c.end();
    return { name: 'RENAME', from, to };
  },
  SUBSCRIBE: oneMailbox('SUBSCRIBE'),
  UNSUBSCRIBE: oneMailbox('UNSUBSCRIBE'),
  APPEND: parseAppend,
  EXPUNGE: (c) => {
    c.end();
    return { name: 'EXPUNGE', uid: false, set: null };
  },
  SEARCH: (c) => parseSearch(c, false),
  FETCH: (c) => parseFetch(c, false),
  STORE: (c) => parseStore(c, false),
  COPY: copyOrMove('COPY', false),
  MOVE: copyOrMove('MOVE', false),
  GETQUOTA: (c) => {
    c.sp();
    const root = c.astring('quota root');
    c.end();
    return { name: 'GETQUOTA', root };
  },
  GETQUOTAROOT: oneMailbox('GETQUOTAROOT'),
  SETQUOTA: parseSetQuota,
  COMPRESS: (c) => {
    // RFC 4978 §3: COMPRESS SP algorithm
    c.sp();
    const mechanism = c.atom('compression mechanism').toUpperCase();
    c.end();
    return { name: 'COMPRESS', mechanism };
  },
};

// RFC 9051 §6.4.9 and RFC 4315 §2.1 (UID EXPUNGE), RFC 6851 §3.3 (UID MOVE).
const UID_PARSERS: Record<string, Parser> = {
  SEARCH: (c) => parseSearch(c, true),
  FETCH: (c) => parseFetch(c, true),
  STORE: (c) => parseStore(c, true),
  COPY: copyOrMove('COPY', true),
  MOVE: copyOrMove('MOVE', true),
  EXPUNGE: (c) => {
    c.sp();
    const set = c.sequenceSet();
    c.end();
    return { name: 'EXPUNGE', uid: true, set };
  },
};

/** Parse one framed command. Throws ImapSyntaxError (carrying the tag when there is one). */
export function parseCommand(frame: CommandFrame, opts: ParseOptions = {}): Command {
  const c = new Cursor(frame, opts);
  if (frame.tag === null) {
    throw new ImapSyntaxError('syntax', 'Missing or invalid tag');
  }
  c.match(/^[^ ]+/);
  if (!c.trySp()) c.fail('Missing command');
  let name = c.keyword('command name');
  let table = PARSERS;
  if (name === 'UID') {
    c.sp();
    name = c.keyword('command name');
    table = UID_PARSERS;
    if (!Object.hasOwn(table, name)) throw new ImapSyntaxError('unknown-command', `UID ${name} is not a UID command`, { tag: frame.tag });
  }
  if (!Object.hasOwn(table, name)) {
    throw new ImapSyntaxError('unknown-command', `Unknown command ${name.slice(0, 40)}`, { tag: frame.tag });
  }
  const body = table[name](c);
  if (c.mailboxProblem !== null) throw new ImapSyntaxError('bad-mailbox-name', c.mailboxProblem, { tag: frame.tag });
  return { ...body, tag: frame.tag };
}

/**
 * The target mailbox of an APPEND whose message literal has been announced but not read, so the
 * server can answer NO [TRYCREATE] instead of the continuation (RFC 9051 §6.3.12) and not read
 * a message it would throw away. Null when it cannot tell (the name is itself a literal, or the
 * line is not an APPEND).
 */
export function appendMailboxBeforeLiteral(lines: readonly string[], opts: ParseOptions = {}): string | null {
  if (lines.length !== 1) return null;
  const line = lines[0];
  const c = new Cursor({ tag: null, lines: [line], literals: [], size: 0 }, opts);
  try {
    c.match(/^[^ ]+ /);
    if (c.keyword('command name') !== 'APPEND') return null;
    c.sp();
    if (c.isLiteral()) return null;
    const name = c.mailbox();
    return c.mailboxProblem === null ? name : null;
  } catch {
    return null;
  }
}
