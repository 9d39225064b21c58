// RFC 6409 §8 message fix-ups a submission server makes before the message goes on, as pure
// functions over the message bytes. Run before DKIM signing (the signature must cover the
// final header).
//
//   §8.2 "Add 'Date:'"        when absent, the time of submission.
//   §8.3 "Add 'Message-ID:'"  when absent, <random@our-host-name>.
//   Bcc                       RFC 5322 §3.6.3: the Bcc field is removed before the message is
//                             sent on (the first of the three ways the RFC describes; the only
//                             one that cannot leak the blind recipients to each other).
//
// Added lines use the line ending of the message's first line (CRLF, as SMTP DATA has it, unless
// a local program handed us bare LF). The body is never touched.
import { randomUUID } from "node:crypto";
import { rfc5322Date } from "../queue/dsn.ts";

export interface FixupOptions {
  /** Submission time, ms since the epoch (the injected clock). */
  now: number;
  /** The right-hand side of generated Message-IDs: our host name. */
  hostname: string;
  /** Unique left-hand side; randomUUID by default (tests inject). */
  uniqueId?: () => string;
}

export interface FixupResult {
  message: Buffer;
  /** Field names added, e.g. ["Date", "Message-ID"]. */
  added: string[];
  /** Number of Bcc fields removed. */
  bccRemoved: number;
}

interface Span {
  key: string;
  start: number;
  end: number;
}

/** Offset just past the header (after the blank line), or the message length if none. */
function headerLength(msg: Buffer): { fieldsEnd: number } {
  // The blank line is the first line that is empty; a message may also start with it.
  if (msg[0] === 0x0a) return { fieldsEnd: 0 };
  if (msg[0] === 0x0d && msg[1] === 0x0a) return { fieldsEnd: 0 };
  let pos = 0;
  while (pos < msg.length) {
    const nl = msg.indexOf(0x0a, pos);
    if (nl < 0) return { fieldsEnd: msg.length };
    const next = nl + 1;
    if (msg[next] === 0x0a || (msg[next] === 0x0d && msg[next + 1] === 0x0a)) return { fieldsEnd: next };
    pos = next;
  }
  return { fieldsEnd: msg.length };
}

function fieldSpans(msg: Buffer, end: number): Span[] {
  const spans: Span[] = [];
  let pos = 0;
  while (pos < end) {
    const nl = msg.indexOf(0x0a, pos);
    const lineEnd = nl < 0 || nl >= end ? end : nl + 1;
    const first = msg[pos];
    if ((first === 0x20 || first === 0x09) && spans.length > 0) {
      spans[spans.length - 1].end = lineEnd; // RFC 5322 §2.2.3 continuation
    } else {
      const colon = msg.indexOf(0x3a, pos);
      const key = colon >= 0 && colon < lineEnd ? msg.toString("latin1", pos, colon).replace(/[ \t]+$/, "").toLowerCase() : "";
      spans.push({ key, start: pos, end: lineEnd });
    }
    pos = lineEnd;
  }
  return spans;
}

export function applySubmissionFixups(message: Buffer, opts: FixupOptions): FixupResult {
  const { fieldsEnd } = headerLength(message);
  const spans = fieldSpans(message, fieldsEnd);
  const has = (k: string) => spans.some((s) => s.key === k);
  const kept = spans.filter((s) => s.key !== "bcc");
  const bccRemoved = spans.length - kept.length;

  const firstNl = message.indexOf(0x0a);
  const eol = firstNl > 0 && message[firstNl - 1] !== 0x0d ? "\n" : "\r\n";
  const added: string[] = [];
  const extra: string[] = [];
  if (!has("date")) {
    added.push("Date");
    extra.push(`Date: ${rfc5322Date(opts.now)}${eol}`);
  }
  if (!has("message-id")) {
    added.push("Message-ID");
    extra.push(`Message-ID: <${(opts.uniqueId ?? randomUUID)()}@${opts.hostname}>${eol}`);
  }
  if (added.length === 0 && bccRemoved === 0) return { message, added, bccRemoved };

  const parts: Buffer[] = kept.map((s) => message.subarray(s.start, s.end));
  // A last field without a line ending (a message that is all header) gets one before ours.
  const last = parts[parts.length - 1];
  if (extra.length > 0 && last && last[last.length - 1] !== 0x0a) parts[parts.length - 1] = Buffer.concat([last, Buffer.from(eol)]);
  parts.push(Buffer.from(extra.join(""), "latin1"));
  let rest = message.subarray(fieldsEnd);
  // A message with no blank line had no body; it gets the blank line that ends the header.
  if (fieldsEnd === message.length && extra.length > 0) rest = Buffer.from(eol);
  parts.push(rest);
  return { message: Buffer.concat(parts), added, bccRemoved };
}
