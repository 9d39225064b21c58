// Text a message contributes to the search index: decoded header values (RFC 2047 encoded words)
// and the decoded text of its text/* parts (transfer encoding and charset undone), so SEARCH
// BODY "é" finds a quoted-printable ISO-8859-1 body (RFC 9051 §6.4.4 compares decoded text).
import type Libmime from "libmime";
import { lazyRequire } from "../lazy.ts";

// Loaded on first use, not at start (src/lazy.ts: +15 MiB).
const libmime = lazyRequire<typeof Libmime>("libmime");
import type { SearchDoc } from "../store/sqlite/search.ts";
import { indexMessage } from "../mail/structure.ts";
import type { MimePart } from "../mail/structure.ts";
import { parseHeaderFields, fieldValue } from "../mail/header.ts";
import { decodeTransfer } from "./transfer-decode.ts";
import { isGroup, parseAddressList } from "../mail/address.ts";
import type { Mailbox } from "../mail/address.ts";
import { writtenDay } from "../mail/date-header.ts";

/** Text indexed per message is capped: enough for real mail, bounded for hostile input. */
const MAX_BODY_CHARS = 2_000_000;

function decodeCharset(b: Buffer, charset: string | undefined): string {
  try {
    return new TextDecoder(charset || "utf-8").decode(b);
  } catch {
    return b.toString("latin1");
  }
}

function headerValue(raw: Buffer): string {
  const unfolded = decodeCharset(raw, "utf-8").replace(/\r?\n[ \t]/g, " ").trim();
  try {
    return libmime().decodeWords(unfolded);
  } catch {
    return unfolded;
  }
}

/** A latin1 string of header bytes as text: UTF-8 (RFC 6532), then RFC 2047 encoded words. */
function words(latin1: string): string {
  return headerValue(Buffer.from(latin1, "latin1"));
}

function mailboxText(m: Mailbox): string {
  // A comment stands in for a missing display name ("user@host (Real Name)"), as in ENVELOPE.
  const name = m.name ?? m.nameComment;
  const addr = m.local !== null || m.domain !== null ? `<${words(m.local ?? "")}${m.domain !== null ? "@" + words(m.domain) : ""}>` : "";
  return [name ? words(name) : "", addr].filter(Boolean).join(" ");
}

/**
 * FROM/TO/CC/BCC text: each address re-written without its comments and folding white space
 * (RFC 5322 §3.4, §3.2.2 CFWS), so "<user-from (comment)@ (comment) domain.org>" is found by
 * SEARCH FROM user-from@domain.org, as Dovecot finds it. Group names are kept ("team: a, b;").
 */
export function addressText(raw: Buffer): string {
  const items = parseAddressList(raw.toString("latin1"));
  const out = items
    .map((it) => (isGroup(it) ? `${words(it.group)}: ${it.members.map(mailboxText).join(", ")};` : mailboxText(it)))
    .filter(Boolean)
    .join(", ");
  return out || headerValue(raw);
}

const ADDRESS_FIELDS = new Set(["from", "to", "cc", "bcc"]);

function param(part: MimePart, name: string): string | undefined {
  return part.contentType?.params.find(([n]) => n.toLowerCase() === name)?.[1];
}

export function extractSearchDoc(buf: Buffer, uidValidity: number, uid: number): SearchDoc {
  const index = indexMessage(buf);
  const fields = parseHeaderFields(buf, index.root.headerStart, index.root.headerEnd);
  const by = new Map<string, string[]>();
  const lines: string[] = [];
  for (const f of fields) {
    if (!f.name) continue;
    const raw = fieldValue(buf, f);
    const v = headerValue(raw);
    lines.push(`${f.name}: ${v}`);
    const k = f.key;
    if (!by.has(k)) by.set(k, []);
    by.get(k)!.push(ADDRESS_FIELDS.has(k) ? addressText(raw) : v);
  }
  const get = (k: string): string => (by.get(k) ?? []).join("\n");
  const body: string[] = [];
  let total = 0;
  const walk = (p: MimePart): void => {
    if (total > MAX_BODY_CHARS) return;
    if (p.kind === "multipart" || p.kind === "message") {
      for (const c of p.children) walk(c);
      return;
    }
    const ct = p.contentType;
    const type = ct ? ct.type.toLowerCase() : "text";
    if (type !== "text") return;
    let enc: string | null = null;
    for (const f of parseHeaderFields(buf, p.headerStart, p.headerEnd)) if (f.key === "content-transfer-encoding") enc = fieldValue(buf, f).toString("latin1").trim();
    const raw = buf.subarray(p.bodyStart, p.bodyEnd);
    const text = decodeCharset(decodeTransfer(raw, enc) ?? raw, param(p, "charset"));
    total += text.length;
    body.push(text);
  };
  walk(index.root);
  const dateRaw = by.get("date")?.[0];
  return {
    uidValidity,
    uid,
    from: get("from"),
    to: get("to"),
    cc: get("cc"),
    bcc: get("bcc"),
    subject: get("subject"),
    headers: lines.join("\n"),
    body: body.join("\n").slice(0, MAX_BODY_CHARS),
    sentDay: dateRaw === undefined ? null : writtenDay(dateRaw),
  };
}
