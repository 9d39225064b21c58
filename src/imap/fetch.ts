// FETCH response items (RFC 9051 §6.4.5, §7.5.2; RFC 3516 BINARY; RFC 7162 MODSEQ). ENVELOPE and
// BODYSTRUCTURE come from src/mail (the same code the Dovecot differential test checks); body
// sections are byte ranges of the stored message; the whole message, or a partial range of it,
// streams from the blob without being loaded.
import type { MessageRecord } from "../store/types.ts";
import type { FetchAtt, Section } from "./protocol/commands.ts";
import { formatSection } from "./protocol/parse-fetch.ts";
import { formatDateTime } from "./protocol/datetime.ts";
import type { ImapDateTime } from "./protocol/datetime.ts";
import type { DeferredBody, ResponseChunk } from "./protocol/wire-values.ts";
import { indexMessage } from "../mail/structure.ts";
import type { MessageIndex } from "../mail/structure.ts";
import { buildEnvelope, envelopeValue } from "../mail/envelope.ts";
import { buildBodyStructure, bodyStructureValue } from "../mail/bodystructure.ts";
import { renderImap } from "../mail/imap-string.ts";
import { sectionRange } from "../mail/section.ts";
import type { SectionSpec } from "../mail/section.ts";
import { loadMessage, sliceBody } from "./message-source.ts";
import { binarySection, UnknownCte } from "./binary.ts";
import type { MailboxView, SlimMessage } from "./mailbox-view.ts";
import type { Session } from "./session.ts";

/** One "name value" pair of a FETCH response, already in wire form. */
type Item = { name: string; value: Buffer | DeferredBody };

/** `* seq FETCH (...)` from items; literals and deferred bodies are already framed. */
export function fetchLine(seq: number, items: Item[]): ResponseChunk[] {
  const out: ResponseChunk[] = [];
  let text = `* ${seq} FETCH (`;
  items.forEach((it, i) => {
    text += (i ? " " : "") + it.name + " ";
    if (Buffer.isBuffer(it.value)) {
      text += it.value.toString("latin1");
    } else {
      text += `{${it.value.size}}\r\n`;
      out.push(Buffer.from(text, "latin1"));
      out.push(it.value);
      text = "";
    }
  });
  out.push(Buffer.from(text + ")\r\n", "latin1"));
  return out;
}

const rawItem = (name: string, v: string): Item => ({ name, value: Buffer.from(v, "utf8") });

function literal(data: Buffer, binary = false): Buffer {
  // RFC 3516 §4.2: literal8 (~{n}) when BINARY data holds NUL. A plain literal is CHAR8 (RFC 3501
  // §9: %x01-ff), so NUL in BODY[...] data goes out as 0x80, as Dovecot does (sizes unchanged).
  const b8 = binary && data.includes(0);
  const bytes = !binary ? nulTo80(data) : data;
  return Buffer.concat([Buffer.from(`${b8 ? "~" : ""}{${data.length}}\r\n`), bytes]);
}

/** NUL → 0x80 (copying only when there is a NUL). */
export function nulTo80(b: Buffer): Buffer {
  if (!b.includes(0)) return b;
  const c = Buffer.from(b);
  for (let i = c.indexOf(0); i >= 0; i = c.indexOf(0, i + 1)) c[i] = 0x80;
  return c;
}

export function flagsText(flags: readonly string[]): string {
  return `(${flags.join(" ")})`;
}

/** RFC 3501 §2.3.2: the system flags a client may store (PERMANENTFLAGS adds keywords and \*). */
export const SYSTEM_FLAGS = ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"];

/** Flags with \Recent added after the system flags (as Dovecot places it); a copy only then. */
export function withRecent(flags: readonly string[], recent: boolean): readonly string[] {
  if (!recent) return flags;
  const i = flags.findIndex((f) => !f.startsWith("\\"));
  return i < 0 ? [...flags, "\\Recent"] : [...flags.slice(0, i), "\\Recent", ...flags.slice(i)];
}

/** The flags a FETCH shows for a message of the view: \Recent too in IMAP4rev1 (RFC 3501 §2.3.2). */
export function shownFlags(s: Session, view: MailboxView, uid: number, flags: readonly string[]): readonly string[] {
  return withRecent(flags, s.showsRecent && view.isRecent(uid));
}

export function imapDate(ms: number): ImapDateTime {
  return { time: ms, offset: 0 };
}

/** Unsolicited FETCH for flag changes made elsewhere (UID always included, RFC 7162 §3.2.4). */
export function flagFetchResponses(s: Session, view: MailboxView, uids: number[]): ResponseChunk[] {
  const out: ResponseChunk[] = [];
  for (const uid of uids) {
    const m = view.get(uid);
    if (!m) continue;
    const items = [rawItem("UID", String(uid)), rawItem("FLAGS", flagsText(shownFlags(s, view, uid, m.flags)))];
    if (s.condstore) items.push(rawItem("MODSEQ", `(${m.modseq})`));
    out.push(...fetchLine(view.seqOf(uid), items));
  }
  return out;
}

function toSpec(s: Section): SectionSpec {
  return { path: s.part, text: (s.text ?? "") as SectionSpec["text"], fields: s.fields };
}

const META_KINDS = new Set(["UID", "FLAGS", "MODSEQ", "INTERNALDATE", "SAVEDATE", "RFC822.SIZE"]);

/** Are all these attributes answered from the view's columns alone (no row, no body)? */
export function metadataOnly(atts: readonly FetchAtt[]): boolean {
  return atts.every((a) => META_KINDS.has(a.kind));
}

/**
 * `* seq FETCH (...)` for metadata-only attributes, as text: UID FETCH 1:* (FLAGS) on a large
 * mailbox builds one string per message instead of buffers and a promise per item.
 */
export function metadataLine(seq: number, m: SlimMessage, atts: readonly FetchAtt[], recent = false): string {
  let text = `* ${seq} FETCH (`;
  for (let i = 0; i < atts.length; i++) {
    if (i) text += " ";
    switch (atts[i].kind) {
      case "UID":
        text += `UID ${m.uid}`;
        break;
      case "FLAGS":
        text += `FLAGS ${flagsText(withRecent(m.flags, recent))}`;
        break;
      case "MODSEQ":
        text += `MODSEQ (${m.modseq})`;
        break;
      case "INTERNALDATE":
        text += `INTERNALDATE ${formatDateTime(imapDate(m.internalDate))}`;
        break;
      case "SAVEDATE":
        text += "SAVEDATE NIL";
        break;
      case "RFC822.SIZE":
        text += `RFC822.SIZE ${m.size}`;
        break;
    }
  }
  return text + ")\r\n";
}

/** Does this attribute need the stored record (blob id, trace headers)? */
export function needsRecord(a: FetchAtt): boolean {
  return needsMessage(a) || a.kind === "BODY[]" || a.kind === "RFC822";
}

/** Does this attribute need the message's MIME structure (so the message is loaded)? */
export function needsMessage(a: FetchAtt): boolean {
  switch (a.kind) {
    case "ENVELOPE":
    case "BODYSTRUCTURE":
    case "BODY":
    case "RFC822.HEADER":
    case "RFC822.TEXT":
    case "BINARY[]":
    case "BINARY.SIZE":
      return true;
    case "BODY[]":
      return !(a.section.part.length === 0 && a.section.text === null);
    default:
      return false;
  }
}

/** Sets \Seen (RFC 9051 §6.4.5: BODY[...] without PEEK, RFC822, RFC822.TEXT, BINARY). */
export function setsSeen(a: FetchAtt): boolean {
  return (a.kind === "BODY[]" && !a.peek) || (a.kind === "BINARY[]" && !a.peek) || a.kind === "RFC822" || a.kind === "RFC822.TEXT";
}

function partial(data: Buffer, p: { start: number; count: number } | null): Buffer {
  if (!p) return data;
  return data.subarray(Math.min(p.start, data.length), Math.min(p.start + p.count, data.length));
}

interface Loaded {
  buf: Buffer;
  index: MessageIndex;
}

const NIL_ENVELOPE = "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)";

/**
 * The items of a message another session expunged before this one was told (RFC 2180 §4.1):
 * what the view still holds (UID, FLAGS, MODSEQ, INTERNALDATE, RFC822.SIZE) as it was, and NIL
 * for the content, which is gone with the row (RFC 2180 §4.1.3, "NIL FETCH responses", as
 * Dovecot answers). Where the grammar has no NIL (RFC 3501 §9: envelope, body, number), the
 * empty form: an envelope of NILs (as Dovecot), an empty text/plain body, size 0.
 */
export function goneItems(rec: SlimMessage, atts: readonly FetchAtt[], recent = false): Item[] {
  const items: Item[] = [];
  for (const a of atts) {
    switch (a.kind) {
      case "UID":
        items.push(rawItem("UID", String(rec.uid)));
        break;
      case "FLAGS":
        items.push(rawItem("FLAGS", flagsText(withRecent(rec.flags, recent))));
        break;
      case "MODSEQ":
        items.push(rawItem("MODSEQ", `(${rec.modseq})`));
        break;
      case "INTERNALDATE":
        items.push(rawItem("INTERNALDATE", formatDateTime(imapDate(rec.internalDate))));
        break;
      case "SAVEDATE":
        items.push(rawItem("SAVEDATE", "NIL"));
        break;
      case "RFC822.SIZE":
        items.push(rawItem("RFC822.SIZE", String(rec.size)));
        break;
      case "ENVELOPE":
        items.push(rawItem("ENVELOPE", NIL_ENVELOPE));
        break;
      case "BODY":
        items.push(rawItem("BODY", '("text" "plain" NIL NIL NIL "7bit" 0 0)'));
        break;
      case "BODYSTRUCTURE":
        items.push(rawItem("BODYSTRUCTURE", '("text" "plain" NIL NIL NIL "7bit" 0 0 NIL NIL NIL NIL)'));
        break;
      case "RFC822":
      case "RFC822.HEADER":
      case "RFC822.TEXT":
        items.push(rawItem(a.kind, "NIL"));
        break;
      case "BODY[]":
        items.push(rawItem(`BODY[${formatSection(a.section)}]${a.partial ? `<${a.partial.start}>` : ""}`, "NIL"));
        break;
      case "BINARY[]":
        items.push(rawItem(`BINARY[${a.part.join(".")}]${a.partial ? `<${a.partial.start}>` : ""}`, "NIL"));
        break;
      case "BINARY.SIZE":
        items.push(rawItem(`BINARY.SIZE[${a.part.join(".")}]`, "0"));
        break;
    }
  }
  return items;
}

/**
 * The items of one message. `load` reads the message at most once; it throws when the blob is
 * gone (the message was expunged and collected), which the caller answers per message.
 */
export async function fetchItems(
  s: Session,
  rec: SlimMessage,
  full: MessageRecord | null,
  atts: readonly FetchAtt[],
  loadIt: () => Promise<Buffer>,
  recent = false,
): Promise<Item[]> {
  const stored = (): MessageRecord => {
    if (!full) throw new Error("message record not loaded");
    return full;
  };
  let loaded: Loaded | null = null;
  const msg = async (): Promise<Loaded> => {
    if (!loaded) {
      const buf = await loadIt();
      loaded = { buf, index: indexMessage(buf) };
    }
    return loaded;
  };
  const items: Item[] = [];
  for (const a of atts) {
    switch (a.kind) {
      case "UID":
        items.push(rawItem("UID", String(rec.uid)));
        break;
      case "FLAGS":
        items.push(rawItem("FLAGS", flagsText(withRecent(rec.flags, recent))));
        break;
      case "MODSEQ":
        items.push(rawItem("MODSEQ", `(${rec.modseq})`));
        break;
      case "INTERNALDATE":
        items.push(rawItem("INTERNALDATE", formatDateTime(imapDate(rec.internalDate))));
        break;
      case "SAVEDATE":
        items.push(rawItem("SAVEDATE", "NIL"));
        break;
      case "RFC822.SIZE":
        items.push(rawItem("RFC822.SIZE", String(rec.size)));
        break;
      case "ENVELOPE": {
        const m = await msg();
        items.push({ name: "ENVELOPE", value: renderImap(envelopeValue(buildEnvelope(m.buf, m.index.root.headerStart, m.index.root.headerEnd))) });
        break;
      }
      case "BODYSTRUCTURE":
      case "BODY": {
        const m = await msg();
        items.push({ name: a.kind, value: renderImap(bodyStructureValue(buildBodyStructure(m.buf, m.index), a.kind === "BODYSTRUCTURE")) });
        break;
      }
      case "RFC822":
        items.push({ name: "RFC822", value: sliceBody(stored(), 0, rec.size) });
        break;
      case "RFC822.HEADER":
      case "RFC822.TEXT": {
        const m = await msg();
        const r = a.kind === "RFC822.HEADER" ? { start: m.index.root.headerStart, end: m.index.root.headerEnd } : { start: m.index.root.bodyStart, end: m.index.root.bodyEnd };
        items.push({ name: a.kind, value: literal(m.buf.subarray(r.start, r.end)) });
        break;
      }
      case "BODY[]": {
        const name = `BODY[${formatSection(a.section)}]${a.partial ? `<${a.partial.start}>` : ""}`;
        if (a.section.part.length === 0 && a.section.text === null) {
          // The whole message: stream it (optionally a range) from the blob.
          const start = a.partial ? Math.min(a.partial.start, rec.size) : 0;
          const end = a.partial ? Math.min(start + a.partial.count, rec.size) : rec.size;
          items.push({ name, value: sliceBody(stored(), start, end) });
          break;
        }
        const m = await msg();
        const r = sectionRange(m.buf, m.index, toSpec(a.section));
        // RFC 9051 §6.4.5: a section that does not exist answers an empty string.
        const data = r === null ? Buffer.alloc(0) : Buffer.isBuffer(r) ? r : m.buf.subarray(r.start, r.end);
        items.push({ name, value: literal(partial(data, a.partial)) });
        break;
      }
      case "BINARY[]":
      case "BINARY.SIZE": {
        const m = await msg();
        const decoded = binarySection(m.buf, m.index, a.part);
        if (a.kind === "BINARY.SIZE") items.push(rawItem(`BINARY.SIZE[${a.part.join(".")}]`, String(decoded.length)));
        else {
          const name = `BINARY[${a.part.join(".")}]${a.partial ? `<${a.partial.start}>` : ""}`;
          items.push({ name, value: literal(partial(decoded, a.partial), true) });
        }
        break;
      }
    }
  }
  return items;
}

export { loadMessage, UnknownCte };
