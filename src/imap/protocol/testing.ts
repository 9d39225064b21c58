// Test helpers for the protocol core (imported by *.test.ts only): drive a CommandReader over
// chunks with a literal policy, and record what a session would see as a plain transcript so
// that different splits of the same input can be compared.

import { CommandReader, decideLiteral } from './reader.ts';
import type { LiteralAnnouncement, ReaderOptions } from './reader.ts';
import { parseCommand } from './command-parser.ts';
import type { ParseOptions } from './command-parser.ts';
import { ImapSyntaxError } from './errors.ts';

export type Policy = (ann: LiteralAnnouncement) => 'inline' | 'stream' | 'reject';

export const defaultPolicy: Policy = (ann) => {
  const d = decideLiteral(ann);
  return d.action;
};

export interface DriveOptions extends ReaderOptions, ParseOptions {
  policy?: Policy;
  /** Cap on events, so a bug that loops shows up as a failure instead of a hang. */
  maxEvents?: number;
}

function jsonable(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return `${v}n`;
  if (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
    return 'bytes:' + Buffer.from((v as { data: number[] }).data).toString('latin1');
  }
  return v;
}

/** Feed `chunks` one after another and return the transcript. */
export function drive(chunks: Uint8Array[], opts: DriveOptions = {}): string[] {
  const reader = new CommandReader(opts);
  const policy = opts.policy ?? defaultPolicy;
  const out: string[] = [];
  let ended = false;
  const streams = new Map<number, Buffer[]>();
  let events = 0;
  const maxEvents = opts.maxEvents ?? 100_000;
  const pump = () => {
    for (;;) {
      if (++events > maxEvents) throw new Error('reader produced too many events');
      const ev = reader.next();
      switch (ev.kind) {
        case 'need-more':
          return;
        case 'literal': {
          const d = policy(ev);
          out.push(`literal ${ev.tag} ${ev.command} ${ev.size}${ev.sync ? '' : '+'}${ev.binary ? ' binary' : ''} -> ${d}`);
          if (d === 'reject') reader.rejectLiteral();
          else reader.acceptLiteral(d);
          break;
        }
        case 'literal-data': {
          const list = streams.get(ev.id) ?? [];
          list.push(Buffer.from(ev.bytes));
          streams.set(ev.id, list);
          break;
        }
        case 'literal-end':
          out.push(`streamed ${ev.id} ${Buffer.concat(streams.get(ev.id) ?? []).toString('latin1')}`);
          streams.delete(ev.id);
          break;
        case 'line':
          out.push(`line ${ev.text}`);
          break;
        case 'error':
          out.push(`error ${ev.error.tag} ${ev.error.code}${ev.error.fatal ? ' fatal' : ''}`);
          // The connection ends here (src/imap/connection.ts: BYE, no more reading), so no
          // later chunk is fed either: a split input must end where the whole one does.
          if (ev.error.fatal) {
            ended = true;
            return;
          }
          break;
        case 'command':
          try {
            const cmd = parseCommand(ev.frame, opts);
            out.push(`command ${JSON.stringify(cmd, jsonable)}`);
            if (cmd.name === 'IDLE' || (cmd.name === 'AUTHENTICATE' && cmd.initialResponse === null)) reader.expectLine();
          } catch (err) {
            if (!(err instanceof ImapSyntaxError)) throw err;
            out.push(`bad ${err.tag} ${err.code}`);
          }
          break;
      }
    }
  };
  for (const c of chunks) {
    if (ended) break;
    reader.push(c);
    pump();
  }
  if (!ended) pump();
  if (!ended && reader.midCommand) out.push('incomplete');
  return out;
}

/** Every split of `input` into two chunks, plus one octet at a time. */
export function* splits(input: Buffer): Generator<Buffer[]> {
  for (let k = 0; k <= input.length; k++) yield [input.subarray(0, k), input.subarray(k)];
  yield Array.from(input, (b) => Buffer.from([b]));
}

/** Parse a single complete command given as text (literals inline); throws ImapSyntaxError. */
export function parseText(text: string, opts: DriveOptions = {}) {
  const reader = new CommandReader(opts);
  reader.push(Buffer.from(text, 'utf8'));
  for (;;) {
    const ev = reader.next();
    if (ev.kind === 'literal') reader.acceptLiteral('inline');
    else if (ev.kind === 'command') return parseCommand(ev.frame, opts);
    else if (ev.kind === 'error') throw ev.error;
    else if (ev.kind === 'need-more') throw new Error(`incomplete command: ${JSON.stringify(text)}`);
  }
}

/**
 * Valid commands from RFC 3501, RFC 9051 and the extension RFCs (literals written inline). The
 * split test runs each at every byte boundary; the fuzzer mutates them.
 */
export const EXAMPLES: readonly string[] = [
  'abcd CAPABILITY\r\n',
  'a002 NOOP\r\n',
  'A023 LOGOUT\r\n',
  'a001 STARTTLS\r\n',
  'a001 LOGIN SMITH SESAME\r\n',
  'A001 LOGIN {11}\r\nFRED FOOBAR {7}\r\nfat man\r\n',
  'A001 LOGIN {11+}\r\nFRED FOOBAR {7+}\r\nfat man\r\n',
  'A01 AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n',
  'a AUTHENTICATE PLAIN\r\nAGZyZWQAc2VjcmV0\r\n',
  't2 ENABLE CONDSTORE QRESYNC\r\n',
  'a023 ID ("name" "sodr" "version" "19.34" "vendor" "Pink Floyd Music Limited")\r\n',
  'a ID NIL\r\n',
  'A001 NAMESPACE\r\n',
  'A142 SELECT INBOX\r\n',
  'A932 EXAMINE blurdybloop\r\n',
  'a SELECT INBOX (CONDSTORE)\r\n',
  'A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n',
  'B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976:29979)))\r\n',
  'A003 CREATE owatagusiam/\r\n',
  'A004 CREATE "~peter/mail/&U,BTFw-/&ZeVnLIqe-"\r\n',
  't1 CREATE MySpecialArchive (USE (\\Archive))\r\n',
  'A683 DELETE blurdybloop\r\n',
  'A683 RENAME blurdybloop sarasoop\r\n',
  'A002 SUBSCRIBE #news.comp.mail.mime\r\n',
  'A002 UNSUBSCRIBE #news.comp.mail.mime\r\n',
  'A101 LIST "" ""\r\n',
  'A102 LIST #news.comp.mail.misc ""\r\n',
  'A103 LIST /usr/staff/jones ""\r\n',
  'A202 LIST ~/Mail/ %\r\n',
  'A02 LIST (SUBSCRIBED RECURSIVEMATCH) "" % RETURN (CHILDREN)\r\n',
  'A04 LIST "" ("INBOX" "Drafts" "Sent/%")\r\n',
  'A01 LIST "" % RETURN (STATUS (MESSAGES UNSEEN))\r\n',
  't3 LIST (SPECIAL-USE) "" *\r\n',
  'A002 LSUB "#news." "comp.mail.*"\r\n',
  'A042 STATUS blurdybloop (UIDNEXT MESSAGES)\r\n',
  'A003 APPEND saved-messages (\\Seen) {23}\r\nSubject: hi\r\n\r\nHello\r\n\r\n',
  'A003 APPEND saved-messages (\\Seen) " 7-Feb-1994 21:52:25 -0800" {1}\r\na (\\Draft) {1}\r\nb\r\n',
  'a APPEND INBOX ~{3}\r\na\x00b\r\n',
  'a APPEND INBOX UTF8 (~{2}\r\nhi)\r\n',
  'a1 IDLE\r\nDONE\r\n',
  'FXXZ CHECK\r\n',
  'A341 CLOSE\r\n',
  'A342 UNSELECT\r\n',
  'A202 EXPUNGE\r\n',
  'A003 UID EXPUNGE 3000:3002\r\n',
  'A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"\r\n',
  'A283 SEARCH TEXT "string not in mailbox"\r\n',
  'A284 SEARCH CHARSET UTF-8 TEXT {12}\r\nXXXXXXXXXXXX\r\n',
  'A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"\r\n',
  'A301 UID SEARCH RETURN (SAVE) FLAGGED\r\n',
  'A302 UID FETCH $ (FLAGS)\r\n',
  'a UID SEARCH RETURN (COUNT PARTIAL -1:-100) UNDELETED\r\n',
  'a SEARCH OR (FROM a TO b) NOT (SEEN OR 1 2) HEADER X-Spam "" LARGER 100 UID 1:*\r\n',
  'a SEARCH MODSEQ "/flags/\\\\draft" all 620162338\r\n',
  'A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n',
  'a FETCH 1:* ALL\r\n',
  'a FETCH 1 (BODY.PEEK[1.2.MIME] BINARY.PEEK[1]<0.100> BINARY.SIZE[2] RFC822.SIZE ENVELOPE BODYSTRUCTURE)\r\n',
  's100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n',
  'A003 STORE 2:4 +FLAGS (\\Deleted)\r\n',
  'a103 UID STORE 6,4,8 (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\\Deleted)\r\n',
  'A003 COPY 2:4 MEETING\r\n',
  'a UID MOVE 42:69 foo\r\n',
  'G0001 GETQUOTA "!partition/sda4"\r\n',
  'A003 GETQUOTAROOT INBOX\r\n',
  'S0000 SETQUOTA "#user/alice" (STORAGE 510)\r\n',
  'a COMPRESS DEFLATE\r\n',
  // RFC 5182 §2.5 examples
  'A282 SEARCH RETURN (SAVE) FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"\r\n',
  'A283 FETCH $ (UID INTERNALDATE FLAGS RFC822.HEADER)\r\n',
  'A284 SEARCH RETURN (SAVE MIN) FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"\r\n',
  'B283 SEARCH CHARSET UTF-8 (OR $ 1:10) SENTBEFORE 1-Feb-1994\r\n',
  // RFC 7162 examples
  's100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345)\r\n',
  'A160 SELECT INBOX (CONDSTORE)\r\n',
  'C01 STATUS INBOX (HIGHESTMODSEQ)\r\n',
  'a102 SEARCH MODSEQ 620162338\r\n',
  // RFC 6855, RFC 9208, RFC 5258
  'A ENABLE UTF8=ACCEPT\r\n',
  'G0002 GETQUOTA ""\r\n',
  'A04 LIST (SUBSCRIBED) "" "*" RETURN (CHILDREN)\r\n',
  'C04 LIST (REMOTE) "" %\r\n',
  // What common clients send (Thunderbird, mutt, mbsync): lower case, long header lists
  'A5 uid fetch 1:* (FLAGS) (CHANGEDSINCE 0)\r\n',
  'a UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (DATE FROM SENDER SUBJECT TO CC MESSAGE-ID REFERENCES CONTENT-TYPE IN-REPLY-TO REPLY-TO LINES X-ORIGINAL-TO)])\r\n',
  '5 UID STORE 1 +FLAGS.SILENT (\\Deleted)\r\n',
  'a APPEND "INBOX" (\\Seen) {3+}\r\nabc\r\n',
  'a SEARCH UNDELETED SINCE "1-Feb-1994"\r\n',
];
