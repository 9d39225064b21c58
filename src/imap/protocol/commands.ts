// The typed form of every command the server understands: a discriminated union on `name`.
// parseCommand() in command-parser.ts produces these; session handlers switch on `name`.

import type { FrameLiteral } from './reader.ts';
import type { SequenceSet } from './sequence-set.ts';
import type { ImapDateTime, SearchDate } from './datetime.ts';

// ---- FETCH (RFC 9051 §6.4.5, RFC 3516 BINARY, RFC 7162 CONDSTORE/QRESYNC) ----

/** RFC 9051 §9 partial = "<" number64 "." nz-number64 ">". */
export interface Partial {
  start: number;
  count: number;
}

/** RFC 9051 §9 section-spec: a part path and what of it. */
export interface Section {
  /** Part numbers, e.g. [1, 2] for "1.2"; empty for the whole message. */
  part: number[];
  text: null | 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'TEXT' | 'MIME';
  /** Header field names for HEADER.FIELDS[.NOT], as given by the client. */
  fields: string[];
}

export type SimpleFetchAtt =
  | 'FLAGS'
  | 'INTERNALDATE'
  | 'RFC822.SIZE'
  | 'ENVELOPE'
  | 'BODYSTRUCTURE'
  | 'BODY' // non-extensible BODYSTRUCTURE
  | 'UID'
  | 'MODSEQ' // RFC 7162 §3.1.4.1
  | 'RFC822' // = BODY[] (sets \Seen)
  | 'RFC822.HEADER' // = BODY.PEEK[HEADER]
  | 'RFC822.TEXT' // = BODY[TEXT]
  | 'SAVEDATE'; // RFC 8514

export type FetchAtt =
  | { kind: SimpleFetchAtt }
  | { kind: 'BODY[]'; peek: boolean; section: Section; partial: Partial | null }
  /** RFC 3516 §4.1: decoded content of a part. */
  | { kind: 'BINARY[]'; peek: boolean; part: number[]; partial: Partial | null }
  | { kind: 'BINARY.SIZE'; part: number[] };

// ---- SEARCH (RFC 9051 §6.4.4, RFC 4731 ESEARCH, RFC 5182 SEARCHRES, RFC 7162, RFC 9394) ----

export type SearchKey =
  | { kind: 'all' }
  | { kind: 'and'; keys: SearchKey[] }
  | { kind: 'or'; left: SearchKey; right: SearchKey }
  | { kind: 'not'; key: SearchKey }
  /** ANSWERED/UNANSWERED ... and KEYWORD/UNKEYWORD: `set` false for the UN- forms. */
  | { kind: 'flag'; flag: string; set: boolean }
  | { kind: 'recent' } // RECENT (IMAP4rev1 only)
  | { kind: 'new' } // RECENT and UNSEEN
  | { kind: 'old' } // NOT RECENT
  | { kind: 'text'; field: 'bcc' | 'body' | 'cc' | 'from' | 'subject' | 'text' | 'to'; value: string }
  | { kind: 'header'; name: string; value: string }
  | { kind: 'date'; field: 'internal' | 'sent'; op: 'before' | 'on' | 'since'; date: SearchDate }
  | { kind: 'size'; op: 'larger' | 'smaller'; size: number }
  | { kind: 'uid'; set: SequenceSet }
  | { kind: 'seq'; set: SequenceSet }
  /** RFC 7162 §3.1.5; entry names a flag's metadata entry ("/flags/\\draft"). */
  | { kind: 'modseq'; modseq: bigint; entry: { name: string; type: 'priv' | 'shared' | 'all' } | null }
  /** RFC 5032 WITHIN: OLDER / YOUNGER interval in seconds. */
  | { kind: 'within'; op: 'older' | 'younger'; seconds: number };

/** RFC 4731 §3.1 search-return-opt; RFC 9394 §3 PARTIAL. */
export interface SearchReturn {
  min: boolean;
  max: boolean;
  all: boolean;
  count: boolean;
  save: boolean;
  /** RFC 9394: 1-based range of the result; negative numbers count from the end. */
  partial: { from: number; to: number } | null;
}

// ---- LIST (RFC 9051 §6.3.9, RFC 5258 LIST-EXTENDED, RFC 5819 LIST-STATUS, RFC 6154) ----

export type StatusItem =
  | 'MESSAGES'
  | 'UIDNEXT'
  | 'UIDVALIDITY'
  | 'UNSEEN'
  | 'DELETED' // RFC 9051
  | 'SIZE' // RFC 9051
  | 'RECENT' // IMAP4rev1
  | 'HIGHESTMODSEQ' // RFC 7162 §3.1.6
  | 'APPENDLIMIT'; // RFC 7889

export interface ListSelection {
  subscribed: boolean;
  remote: boolean;
  recursiveMatch: boolean;
  specialUse: boolean;
}

export interface ListReturn {
  subscribed: boolean;
  children: boolean;
  specialUse: boolean;
  /** RFC 5819: STATUS items to return for each listed mailbox; null when not asked. */
  status: StatusItem[] | null;
}

// ---- SELECT parameters (RFC 7162 §3.1.8, §3.2.5) ----

export interface QresyncParams {
  uidValidity: number;
  modseq: bigint;
  knownUids: SequenceSet | null;
  /** seq-match-data: message numbers and the UIDs the client believes they have. */
  seqMatch: { seqs: SequenceSet; uids: SequenceSet } | null;
}

// ---- APPEND (RFC 9051 §6.3.12, RFC 3502 MULTIAPPEND, RFC 3516, RFC 6855) ----

export interface AppendMessage {
  flags: string[];
  date: ImapDateTime | null;
  /** Message octets, buffered or streamed by the reader (see reader.ts). */
  data: FrameLiteral;
  /** literal8: may contain NUL and unencoded binary (RFC 3516 §4.2). */
  binary: boolean;
  /** RFC 6855 §4: UTF8 (~{n}) form carrying an internationalized message. */
  utf8: boolean;
}

export type StoreOp = 'set' | 'add' | 'remove';

export type CommandBody =
  | { name: 'CAPABILITY' }
  | { name: 'NOOP' }
  | { name: 'LOGOUT' }
  | { name: 'STARTTLS' }
  | { name: 'LOGIN'; user: string; password: string }
  /** initialResponse: RFC 4959 SASL-IR base64 text, "" for "=" (empty), null if absent. */
  | { name: 'AUTHENTICATE'; mechanism: string; initialResponse: string | null }
  /** RFC 5161: capability names, upper-cased. */
  | { name: 'ENABLE'; capabilities: string[] }
  /** RFC 2971: field/value pairs, or null for NIL. */
  | { name: 'ID'; params: Array<[string, string | null]> | null }
  | { name: 'NAMESPACE' }
  | {
      name: 'LIST';
      /** True when any RFC 5258 syntax was used (selection/return options, pattern list). */
      extended: boolean;
      selection: ListSelection;
      reference: string;
      patterns: string[];
      returns: ListReturn;
    }
  | { name: 'LSUB'; reference: string; pattern: string }
  | { name: 'STATUS'; mailbox: string; items: StatusItem[] }
  | { name: 'SELECT' | 'EXAMINE'; mailbox: string; condstore: boolean; qresync: QresyncParams | null }
  /** RFC 6154 §3: CREATE ... (USE (\Sent)). */
  | { name: 'CREATE'; mailbox: string; specialUse: string[] }
  | { name: 'DELETE'; mailbox: string }
  | { name: 'RENAME'; from: string; to: string }
  | { name: 'SUBSCRIBE'; mailbox: string }
  | { name: 'UNSUBSCRIBE'; mailbox: string }
  | { name: 'APPEND'; mailbox: string; messages: AppendMessage[] }
  | { name: 'IDLE' }
  | { name: 'CHECK' }
  | { name: 'CLOSE' }
  | { name: 'UNSELECT' }
  /** uid: UID EXPUNGE (RFC 4315 §2.1) with its set. */
  | { name: 'EXPUNGE'; uid: boolean; set: SequenceSet | null }
  | { name: 'SEARCH'; uid: boolean; charset: string | null; returns: SearchReturn | null; key: SearchKey }
  | {
      name: 'FETCH';
      uid: boolean;
      set: SequenceSet;
      /** The macro used (ALL/FAST/FULL), already expanded into atts. */
      macro: 'ALL' | 'FAST' | 'FULL' | null;
      atts: FetchAtt[];
      changedSince: bigint | null;
      /** RFC 7162 §3.2.6: UID FETCH ... (CHANGEDSINCE n VANISHED). */
      vanished: boolean;
    }
  | {
      name: 'STORE';
      uid: boolean;
      set: SequenceSet;
      unchangedSince: bigint | null;
      op: StoreOp;
      silent: boolean;
      flags: string[];
    }
  | { name: 'COPY' | 'MOVE'; uid: boolean; set: SequenceSet; mailbox: string }
  | { name: 'GETQUOTA'; root: string }
  | { name: 'GETQUOTAROOT'; mailbox: string }
  | { name: 'SETQUOTA'; root: string; limits: Array<{ resource: string; limit: number }> }
  | { name: 'COMPRESS'; mechanism: string };

export type CommandName = CommandBody['name'];

export type Command = CommandBody & { tag: string };

/** Every command name parseCommand() knows, for the session's command table. */
export const COMMAND_NAMES: readonly CommandName[] = [
  'CAPABILITY', 'NOOP', 'LOGOUT', 'STARTTLS', 'LOGIN', 'AUTHENTICATE', 'ENABLE', 'ID', 'NAMESPACE',
  'LIST', 'LSUB', 'STATUS', 'SELECT', 'EXAMINE', 'CREATE', 'DELETE', 'RENAME', 'SUBSCRIBE',
  'UNSUBSCRIBE', 'APPEND', 'IDLE', 'CHECK', 'CLOSE', 'UNSELECT', 'EXPUNGE', 'SEARCH', 'FETCH',
  'STORE', 'COPY', 'MOVE', 'GETQUOTA', 'GETQUOTAROOT', 'SETQUOTA', 'COMPRESS',
];

/** RFC 9051 §3: the connection states in which commands are valid. */
export type SessionStateName = 'not-authenticated' | 'authenticated' | 'selected';

const ANY: readonly SessionStateName[] = ['not-authenticated', 'authenticated', 'selected'];
const NOT_AUTH: readonly SessionStateName[] = ['not-authenticated'];
const AUTH: readonly SessionStateName[] = ['authenticated', 'selected'];
const SELECTED: readonly SessionStateName[] = ['selected'];

/**
 * Where each command is allowed (RFC 9051 §6.1-§6.4). Outside them the session answers BAD
 * (RFC 9051 §6: "a command in the wrong state ... BAD"). Logout is a state too, but nothing is
 * read in it.
 */
export const COMMAND_STATES: Readonly<Record<CommandName, readonly SessionStateName[]>> = {
  CAPABILITY: ANY,
  NOOP: ANY,
  LOGOUT: ANY,
  ID: ANY, // RFC 2971 §3.1: any state
  STARTTLS: NOT_AUTH,
  LOGIN: NOT_AUTH,
  AUTHENTICATE: NOT_AUTH,
  // RFC 5161 §3.1: ENABLE only in the authenticated state; RFC 9051 §6.3.1 keeps that.
  ENABLE: ['authenticated'],
  NAMESPACE: AUTH,
  LIST: AUTH,
  LSUB: AUTH,
  STATUS: AUTH,
  SELECT: AUTH,
  EXAMINE: AUTH,
  CREATE: AUTH,
  DELETE: AUTH,
  RENAME: AUTH,
  SUBSCRIBE: AUTH,
  UNSUBSCRIBE: AUTH,
  APPEND: AUTH,
  IDLE: AUTH, // RFC 2177 §3: authenticated or selected
  GETQUOTA: AUTH,
  GETQUOTAROOT: AUTH,
  SETQUOTA: AUTH,
  COMPRESS: AUTH, // RFC 4978 §3: after authentication
  CHECK: SELECTED,
  CLOSE: SELECTED,
  UNSELECT: SELECTED,
  EXPUNGE: SELECTED,
  SEARCH: SELECTED,
  FETCH: SELECTED,
  STORE: SELECTED,
  COPY: SELECTED,
  MOVE: SELECTED,
};
