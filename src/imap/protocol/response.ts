// Typed builders for status responses, response codes and untagged data (RFC 9051 §7). Each
// returns ResponseChunk[] ready to write; nothing else in the server formats IMAP responses.

import { WireWriter, atom, list, num, raw, nstr, astr, str } from './wire-values.ts';
import type { ResponseChunk, WireMode, WireValue } from './wire-values.ts';
import { compactSequenceSet, orderedSequenceSet } from './sequence-set.ts';
import type { SearchReturn, StatusItem } from './commands.ts';
import { encodeMailboxName } from '../mutf7.ts';
import type { ImapSyntaxError } from './errors.ts';

/**
 * Protocol mode of a session. rev2: IMAP4rev2 was ENABLEd (RFC 9051 Appendix E: no \Recent or
 * RECENT, no UNSEEN response code, SEARCH answered with ESEARCH, UTF-8 mailbox names).
 */
export interface ProtocolMode extends WireMode {
  rev2: boolean;
}

export const REV1: ProtocolMode = { rev2: false, utf8: false };

export type Status = 'OK' | 'NO' | 'BAD';

/** RFC 9051 §7.1 response codes, RFC 5530 codes and those of the extensions we implement. */
export type ResponseCode =
  | {
      code:
        | 'ALERT' | 'PARSE' | 'READ-ONLY' | 'READ-WRITE' | 'TRYCREATE' | 'CLOSED' // RFC 9051 §7.1
        | 'NOMODSEQ' // RFC 7162 §3.1.2
        | 'UIDNOTSTICKY' // RFC 4315 §3
        | 'UNAVAILABLE' | 'AUTHENTICATIONFAILED' | 'AUTHORIZATIONFAILED' | 'EXPIRED' // RFC 5530 §3
        | 'PRIVACYREQUIRED' | 'CONTACTADMIN' | 'NOPERM' | 'INUSE' | 'EXPUNGEISSUED'
        | 'CORRUPTION' | 'SERVERBUG' | 'CLIENTBUG' | 'CANNOT' | 'LIMIT' | 'OVERQUOTA'
        | 'ALREADYEXISTS' | 'NONEXISTENT'
        | 'TOOBIG' // RFC 4469 §5, RFC 7888 §4
        | 'COMPRESSIONACTIVE' // RFC 4978 §4
        | 'UNKNOWN-CTE' // RFC 3516 §4.3
        | 'NOTSAVED' // RFC 5182 §2.5
        | 'HASCHILDREN' // RFC 9051 §7.1
        | 'USEATTR'; // RFC 6154 §6
    }
  | { code: 'UIDNEXT' | 'UIDVALIDITY' | 'UNSEEN' | 'APPENDLIMIT'; value: number }
  /** RFC 7162 §3.1.2.1; mod-sequences may exceed 2^53, hence bigint. */
  | { code: 'HIGHESTMODSEQ'; value: number | bigint }
  | { code: 'CAPABILITY'; capabilities: string[] }
  | { code: 'PERMANENTFLAGS'; flags: string[] }
  | { code: 'BADCHARSET'; charsets: string[] }
  /** RFC 4315 §3: UIDs of the appended messages (MULTIAPPEND: several). */
  | { code: 'APPENDUID'; uidValidity: number; uids: number[] }
  /** RFC 4315 §3: source and destination UIDs, paired by position. */
  | { code: 'COPYUID'; uidValidity: number; from: number[]; to: number[] }
  /** RFC 7162 §3.1.3: messages that failed UNCHANGEDSINCE. */
  | { code: 'MODIFIED'; set: number[] };

export function formatCode(rc: ResponseCode): string {
  switch (rc.code) {
    case 'UIDNEXT':
    case 'UIDVALIDITY':
    case 'UNSEEN':
    case 'HIGHESTMODSEQ':
    case 'APPENDLIMIT':
      return `${rc.code} ${rc.value}`;
    case 'CAPABILITY':
      return `CAPABILITY ${rc.capabilities.join(' ')}`;
    case 'PERMANENTFLAGS':
      return `PERMANENTFLAGS (${rc.flags.join(' ')})`;
    case 'BADCHARSET':
      return rc.charsets.length ? `BADCHARSET (${rc.charsets.join(' ')})` : 'BADCHARSET';
    case 'APPENDUID':
      return `APPENDUID ${rc.uidValidity} ${orderedSequenceSet(rc.uids)}`;
    case 'COPYUID':
      return `COPYUID ${rc.uidValidity} ${orderedSequenceSet(rc.from)} ${orderedSequenceSet(rc.to)}`;
    case 'MODIFIED':
      return `MODIFIED ${compactSequenceSet(rc.set) ?? ''}`;
    default:
      return rc.code;
  }
}

/** resp-text: CR and LF cannot appear; a text starting with "[" would read as a code. */
function respText(text: string, code?: ResponseCode | null): string {
  let t = text.replace(/[\r\n\x00]+/g, ' ');
  if (!t) t = 'done';
  if (!code && t.startsWith('[')) t = ' ' + t;
  return code ? `[${formatCode(code)}] ${t}` : t;
}

function line(s: string): ResponseChunk[] {
  return [Buffer.from(s + '\r\n', 'utf8')];
}

/** `tag OK|NO|BAD [code] text` (RFC 9051 §7.1). */
export function tagged(tag: string, status: Status, text: string, code?: ResponseCode | null): ResponseChunk[] {
  return line(`${tag} ${status} ${respText(text, code)}`);
}

/** `* OK|NO|BAD|BYE|PREAUTH [code] text` (RFC 9051 §7.1). */
export function untaggedStatus(status: Status | 'BYE' | 'PREAUTH', text: string, code?: ResponseCode | null): ResponseChunk[] {
  return line(`* ${status} ${respText(text, code)}`);
}

/**
 * The answer to a command that could not be read or parsed: `tag BAD [code] reason` (NO for a
 * mailbox name that is not modified UTF-7), or an untagged BAD when there was no usable tag
 * (RFC 9051 §7.1.3).
 */
export function syntaxErrorResponse(err: ImapSyntaxError): ResponseChunk[] {
  const code: ResponseCode | null = err.responseCode ? { code: err.responseCode } : null;
  return err.tag ? tagged(err.tag, err.status, err.message, code) : untaggedStatus('BAD', err.message, code);
}

/** Continuation request `+ text` (RFC 9051 §7.5); SASL challenges pass base64 (may be empty). */
export function continuation(text = 'Ready'): ResponseChunk[] {
  return line(text === '' ? '+ ' : `+ ${text.replace(/[\r\n]+/g, ' ')}`);
}

/** `* name values...` for untagged data. */
export function untagged(mode: WireMode, name: string, values: WireValue[] = []): ResponseChunk[] {
  const w = new WireWriter(mode).text(`* ${name}`);
  if (values.length) w.text(' ').values(values);
  return w.done();
}

export function capabilityResponse(caps: string[]): ResponseChunk[] {
  return line(`* CAPABILITY ${caps.join(' ')}`);
}

/** RFC 5161 §3.2. */
export function enabledResponse(caps: string[]): ResponseChunk[] {
  return line(caps.length ? `* ENABLED ${caps.join(' ')}` : '* ENABLED');
}

/** RFC 9051 Appendix E: \Recent does not exist in IMAP4rev2. */
export function flagsResponse(mode: ProtocolMode, flags: string[]): ResponseChunk[] {
  const f = mode.rev2 ? flags.filter((x) => x.toLowerCase() !== '\\recent') : flags;
  return line(`* FLAGS (${f.join(' ')})`);
}

export function existsResponse(n: number): ResponseChunk[] {
  return line(`* ${n} EXISTS`);
}

/** RFC 3501 §7.3.2; not sent in IMAP4rev2 (RFC 9051 Appendix E item 4): returns null there. */
export function recentResponse(mode: ProtocolMode, n: number): ResponseChunk[] | null {
  return mode.rev2 ? null : line(`* ${n} RECENT`);
}

export function expungeResponse(seq: number): ResponseChunk[] {
  return line(`* ${seq} EXPUNGE`);
}

/** RFC 7162 §3.2.10: `* VANISHED [(EARLIER)] uid-set`; null for an empty set. */
export function vanishedResponse(uids: Iterable<number>, earlier: boolean): ResponseChunk[] | null {
  const set = compactSequenceSet(uids);
  if (set === null) return null;
  return line(`* VANISHED ${earlier ? '(EARLIER) ' : ''}${set}`);
}

/** IMAP4rev1 `* SEARCH n...` with RFC 7162 §3.1.5's `(MODSEQ n)` when a MODSEQ key was used. */
export function searchResponse(nums: readonly number[], modseq: number | bigint | null = null): ResponseChunk[] {
  let s = '* SEARCH';
  if (nums.length) s += ' ' + nums.join(' ');
  if (modseq !== null && nums.length) s += ` (MODSEQ ${modseq})`;
  return line(s);
}

export interface EsearchResult {
  tag: string;
  uid: boolean;
  /** Sorted ascending: the full result (before PARTIAL). */
  nums: readonly number[];
  returns: SearchReturn;
  /** Highest MODSEQ among the results when MODSEQ was searched (RFC 7162 §3.1.5). */
  modseq?: number | bigint | null;
}

/** RFC 4731 §3.2: `* ESEARCH (TAG "t") [UID] MIN n MAX n COUNT n ALL set`, plus RFC 9394 PARTIAL. */
export function esearchResponse(r: EsearchResult): ResponseChunk[] {
  let s = `* ESEARCH (TAG "${r.tag.replace(/[\\"]/g, (m) => '\\' + m)}")`;
  if (r.uid) s += ' UID';
  const n = r.nums;
  if (r.returns.min && n.length) s += ` MIN ${n[0]}`;
  if (r.returns.max && n.length) s += ` MAX ${n[n.length - 1]}`;
  if (r.returns.all && n.length) s += ` ALL ${compactSequenceSet(n)}`;
  if (r.returns.count) s += ` COUNT ${n.length}`;
  if (r.returns.partial) {
    // RFC 9394 §3.1: the requested range and the numbers in it, or NIL.
    const { from, to } = r.returns.partial;
    const slice = from > 0 ? n.slice(from - 1, to) : n.slice(Math.max(0, n.length + to), n.length + from + 1);
    s += ` PARTIAL (${from}:${to} ${compactSequenceSet(slice) ?? 'NIL'})`;
  }
  if (r.modseq != null && n.length) s += ` MODSEQ ${r.modseq}`;
  return line(s);
}

/**
 * The untagged answer to SEARCH: ESEARCH when RETURN was given or IMAP4rev2 is on (RFC 9051
 * §6.4.4 and Appendix E item 9), else the IMAP4rev1 SEARCH response. SAVE alone answers nothing
 * (RFC 5182 §2.4), so this can return null.
 */
export function searchResults(
  mode: ProtocolMode,
  r: { tag: string; uid: boolean; nums: readonly number[]; returns: SearchReturn | null; modseq?: number | bigint | null },
): ResponseChunk[] | null {
  if (r.returns === null && !mode.rev2) return searchResponse(r.nums, r.modseq ?? null);
  const returns = r.returns ?? { min: false, max: false, all: true, count: false, save: false, partial: null };
  if (returns.save && !returns.min && !returns.max && !returns.all && !returns.count && !returns.partial) return null;
  return esearchResponse({ tag: r.tag, uid: r.uid, nums: r.nums, returns, modseq: r.modseq });
}

export interface ListEntry {
  name: string;
  attributes: string[];
  delimiter: string | null;
  /** RFC 5258 §4: CHILDINFO extended data, e.g. ["SUBSCRIBED"]. */
  childInfo?: string[];
  /** RFC 9051 §6.3.9.7: OLDNAME after a rename, for clients that cache names. */
  oldName?: string;
}

/** `* LIST (attrs) "/" name [(ext)]` (RFC 9051 §7.3.1); name in the session's encoding. */
export function listResponse(mode: ProtocolMode, e: ListEntry, kind: 'LIST' | 'LSUB' = 'LIST'): ResponseChunk[] {
  const w = new WireWriter(mode).text(`* ${kind} (${e.attributes.join(' ')}) `);
  w.value(e.delimiter === null ? raw('NIL') : str(e.delimiter)).text(' ');
  w.value(astr(encodeMailboxName(e.name, mode)));
  const ext: WireValue[] = [];
  if (e.childInfo?.length) ext.push(str('CHILDINFO'), list(e.childInfo.map(str)));
  if (e.oldName !== undefined) ext.push(str('OLDNAME'), list([astr(encodeMailboxName(e.oldName, mode))]));
  if (ext.length) w.text(' ').value(list(ext));
  return w.done();
}

/** `* STATUS name (ITEM n ...)` (RFC 9051 §7.2.4); the order of `items` is kept. */
export function statusResponse(mode: ProtocolMode, name: string, items: Array<[StatusItem, number]>): ResponseChunk[] {
  const vals: WireValue[] = [];
  for (const [k, v] of items) vals.push(atom(k), num(v));
  return new WireWriter(mode).text('* STATUS ').value(astr(encodeMailboxName(name, mode))).text(' ').value(list(vals)).done();
}

/** RFC 2971 §3.2: `* ID (...)` or `* ID NIL`. */
export function idResponse(mode: WireMode, params: Array<[string, string | null]> | null): ResponseChunk[] {
  if (!params) return line('* ID NIL');
  return untagged(mode, 'ID', [list(params.flatMap(([k, v]) => [str(k), nstr(v)]))]);
}

export interface Namespace {
  prefix: string;
  delimiter: string | null;
}

/** RFC 2342 §5 / RFC 9051 §7.3.6: personal, other users', shared namespaces (NIL when none). */
export function namespaceResponse(mode: ProtocolMode, personal: Namespace[], other: Namespace[], shared: Namespace[]): ResponseChunk[] {
  const ns = (l: Namespace[]): WireValue =>
    l.length ? list(l.map((n) => list([str(encodeMailboxName(n.prefix, mode)), n.delimiter === null ? raw('NIL') : str(n.delimiter)]))) : raw('NIL');
  return untagged(mode, 'NAMESPACE', [ns(personal), ns(other), ns(shared)]);
}

/** RFC 9208 §5.1: `* QUOTA root (STORAGE used limit ...)`; STORAGE in KiB. */
export function quotaResponse(mode: WireMode, root: string, resources: Array<{ name: string; usage: number; limit: number }>): ResponseChunk[] {
  return untagged(mode, 'QUOTA', [astr(root), list(resources.flatMap((r) => [atom(r.name), num(r.usage), num(r.limit)]))]);
}

/** RFC 9208 §5.2: `* QUOTAROOT mailbox root...`. */
export function quotaRootResponse(mode: ProtocolMode, mailbox: string, roots: string[]): ResponseChunk[] {
  return untagged(mode, 'QUOTAROOT', [astr(encodeMailboxName(mailbox, mode)), ...roots.map(astr)]);
}

export interface SelectInfo {
  name: string;
  flags: string[];
  permanentFlags: string[];
  exists: number;
  recent: number;
  /** Sequence number of the first unseen message, or null (IMAP4rev1 only). */
  firstUnseen: number | null;
  uidValidity: number;
  uidNext: number;
  /** HIGHESTMODSEQ when CONDSTORE is in use; null for [NOMODSEQ] (RFC 7162 §3.1.2.1). */
  highestModseq: number | bigint | null;
  condstore: boolean;
  /** LIST attributes for the IMAP4rev2 LIST line (RFC 9051 §6.3.2). */
  listAttributes?: string[];
}

/** The untagged responses of SELECT/EXAMINE (RFC 9051 §6.3.2, RFC 3501 §6.3.1, RFC 7162). */
export function selectResponses(mode: ProtocolMode, s: SelectInfo): ResponseChunk[] {
  const out: ResponseChunk[] = [];
  out.push(...existsResponse(s.exists));
  const recent = recentResponse(mode, s.recent);
  if (recent) out.push(...recent);
  out.push(...flagsResponse(mode, s.flags));
  if (!mode.rev2 && s.firstUnseen !== null) {
    out.push(...untaggedStatus('OK', `Message ${s.firstUnseen} is first unseen`, { code: 'UNSEEN', value: s.firstUnseen }));
  }
  out.push(...untaggedStatus('OK', 'Flags permitted', { code: 'PERMANENTFLAGS', flags: s.permanentFlags }));
  out.push(...untaggedStatus('OK', 'UIDs valid', { code: 'UIDVALIDITY', value: s.uidValidity }));
  out.push(...untaggedStatus('OK', 'Predicted next UID', { code: 'UIDNEXT', value: s.uidNext }));
  if (s.condstore) {
    out.push(
      ...(s.highestModseq === null
        ? untaggedStatus('OK', 'No mod-sequences', { code: 'NOMODSEQ' })
        : untaggedStatus('OK', 'Highest', { code: 'HIGHESTMODSEQ', value: s.highestModseq })),
    );
  }
  if (mode.rev2) out.push(...listResponse(mode, { name: s.name, attributes: s.listAttributes ?? [], delimiter: '/' }));
  return out;
}
