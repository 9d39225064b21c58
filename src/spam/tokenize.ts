// Features of one message for the classifier and the domain lists: tokens from selected header
// fields, from the decoded text of text/plain and text/html parts (HTML tags dropped, a few
// tag names kept as tokens), and the host names of URLs.
//
// The work is bounded whatever the input (hostile messages: HTML bombs, huge base64 parts,
// deeply nested MIME): only the first MAX_SCAN bytes are looked at, at most MAX_PARTS leaf parts,
// at most MAX_PART_RAW raw bytes of each part are decoded, at most MAX_TEXT characters of text
// and MAX_TOKENS distinct tokens are kept. `limited` says a bound was hit.
import libmime from "libmime";
import { indexMessage } from "../mail/structure.ts";
import type { MimePart } from "../mail/structure.ts";
import { fieldValue, parseHeaderFields } from "../mail/header.ts";
import { decodeTransfer } from "../imap/transfer-decode.ts";

export const MAX_SCAN = 1 << 20;
export const MAX_PARTS = 50;
export const MAX_PART_RAW = 256 * 1024;
export const MAX_TEXT = 400_000;
export const MAX_TOKENS = 4000;
export const MAX_URLS = 200;

export interface MessageFeatures {
  /** Distinct tokens, prefixed by where they came from ("s:" subject, "h:" header, "u:" url...). */
  tokens: string[];
  /** Distinct lower-case host names of http(s) URLs and bare www. names in the text, in order. */
  urlHosts: string[];
  /** The From address's domain, lower-case ("" when there is none). */
  fromDomain: string;
  /** The From address, lower-case ("" when there is none). */
  fromAddress: string;
  /** SHA-256-able normalised body text (whitespace collapsed), for bulk detection. */
  bodyText: string;
  limited: boolean;
}

/** Header fields whose words carry signal (Mox and SpamBayes use a similar set). */
const WORD_FIELDS: Record<string, string> = {
  subject: "s",
  from: "f",
  to: "t",
  "reply-to": "r",
  "x-mailer": "m",
  "user-agent": "m",
  "content-type": "c",
  "list-id": "l",
  "message-id": "i",
  received: "v",
};

/** HTML tag names whose presence tells something (forms, scripts, images, tables, fonts). */
const TAGS = new Set(["img", "form", "script", "iframe", "table", "font", "a", "style", "center", "b", "map", "object", "input"]);

const WORD_RE = /[\p{L}\p{N}][\p{L}\p{N}'$€£%.\-_]*[\p{L}\p{N}$€£%]|[\p{L}\p{N}$]/gu;
const URL_RE = /\b(?:https?:\/\/|www\.)([a-z0-9.\-]{1,253})/gi;

function decodeCharset(b: Buffer, charset: string | undefined): string {
  try {
    return new TextDecoder(charset || "utf-8").decode(b);
  } catch {
    return b.toString("latin1");
  }
}

function headerText(raw: Buffer): string {
  const s = decodeCharset(raw, "utf-8").replace(/\r?\n[ \t]/g, " ").trim();
  try {
    return libmime.decodeWords(s);
  } catch {
    return s;
  }
}

function param(p: MimePart, name: string): string | undefined {
  return p.contentType?.params.find(([n]) => n.toLowerCase() === name)?.[1];
}

/** Text of an HTML document: tags replaced by spaces (a few named as tokens), entities decoded. */
export function htmlText(html: string, tags: Set<string>): string {
  const out: string[] = [];
  // Lower-cased once: searching for </style> in a fresh copy per tag would be quadratic.
  const lowerHtml = html.toLowerCase();
  let i = 0;
  const n = html.length;
  while (i < n) {
    const lt = html.indexOf("<", i);
    if (lt === -1) {
      out.push(html.slice(i));
      break;
    }
    out.push(html.slice(i, lt));
    const gt = html.indexOf(">", lt + 1);
    const tag = html.slice(lt + 1, gt === -1 ? Math.min(n, lt + 200) : gt);
    const name = /^\/?([a-z][a-z0-9]*)/i.exec(tag)?.[1]?.toLowerCase();
    if (name && TAGS.has(name)) tags.add(name);
    // Keep URLs of href/src attributes in the text, so the URL scan finds them.
    const href = /(?:href|src)\s*=\s*["']?([^"'\s>]{1,500})/i.exec(tag);
    out.push(href ? ` ${href[1]} ` : " ");
    if (gt === -1) break;
    // Skip the contents of <style> and <script>: not text the reader sees.
    if ((name === "style" || name === "script") && !tag.startsWith("/")) {
      const close = lowerHtml.indexOf(`</${name}`, gt);
      i = close === -1 ? n : close;
      continue;
    }
    i = gt + 1;
  }
  return out
    .join("")
    .replace(/&nbsp;/gi, " ")
    .replace(/&amp;/gi, "&")
    .replace(/&lt;/gi, "<")
    .replace(/&gt;/gi, ">")
    .replace(/&quot;/gi, '"')
    .replace(/&#(\d{1,6});/g, (_, d: string) => {
      const c = Number(d);
      return c > 0 && c < 0x110000 ? String.fromCodePoint(c) : " ";
    });
}

function addressOf(from: string): string {
  const m = /<\s*([^<>\s]+@[^<>\s]+)\s*>/.exec(from) ?? /([^\s<>"(),;:]+@[^\s<>"(),;:]+)/.exec(from);
  return m ? m[1].toLowerCase() : "";
}

export function extractFeatures(message: Buffer): MessageFeatures {
  let limited = message.length > MAX_SCAN;
  const buf = limited ? message.subarray(0, MAX_SCAN) : message;
  const index = indexMessage(buf);
  if (index.limited) limited = true;
  const tokens = new Set<string>();
  const add = (t: string): void => {
    if (tokens.size < MAX_TOKENS) tokens.add(t);
    else limited = true;
  };
  const words = (text: string, prefix: string): void => {
    for (const m of text.matchAll(WORD_RE)) {
      let w = m[0].toLowerCase();
      if (w.length > 40) w = `long:${w.length >> 3}`;
      if (w.length < 2) continue;
      add(prefix + w);
      if (tokens.size >= MAX_TOKENS) break;
    }
  };
  let fromAddress = "";
  for (const f of parseHeaderFields(buf, index.root.headerStart, index.root.headerEnd)) {
    if (!f.name) continue;
    const prefix = WORD_FIELDS[f.key];
    const value = headerText(fieldValue(buf, f)).slice(0, 2000);
    if (f.key === "from" && !fromAddress) fromAddress = addressOf(value);
    if (prefix) words(value, `${prefix}:`);
    // The presence of unusual header fields (X-*) is a signal of the sending software.
    if (f.key.startsWith("x-")) add(`hx:${f.key.slice(0, 40)}`);
  }
  const fromDomain = fromAddress.includes("@") ? fromAddress.slice(fromAddress.lastIndexOf("@") + 1) : "";
  if (fromDomain) add(`fd:${fromDomain}`);

  const tags = new Set<string>();
  const texts: string[] = [];
  let textLen = 0;
  let parts = 0;
  const walk = (p: MimePart): void => {
    if (parts >= MAX_PARTS || textLen >= MAX_TEXT) {
      limited = true;
      return;
    }
    if (p.kind === "multipart" || p.kind === "message") {
      for (const c of p.children) walk(c);
      return;
    }
    parts++;
    const type = p.contentType ? `${p.contentType.type}/${p.contentType.subtype}`.toLowerCase() : "text/plain";
    add(`ct:${type}`);
    if (!type.startsWith("text/")) return;
    let enc: string | null = null;
    for (const f of parseHeaderFields(buf, p.headerStart, p.headerEnd)) {
      if (f.key === "content-transfer-encoding") enc = fieldValue(buf, f).toString("latin1").trim().toLowerCase();
    }
    if (enc) add(`cte:${enc.slice(0, 20)}`);
    let raw = buf.subarray(p.bodyStart, p.bodyEnd);
    if (raw.length > MAX_PART_RAW) {
      raw = raw.subarray(0, MAX_PART_RAW);
      limited = true;
    }
    let text = decodeCharset(decodeTransfer(raw, enc) ?? raw, param(p, "charset"));
    if (type === "text/html") text = htmlText(text, tags);
    if (text.length > MAX_TEXT - textLen) {
      text = text.slice(0, MAX_TEXT - textLen);
      limited = true;
    }
    textLen += text.length;
    texts.push(text);
  };
  walk(index.root);
  for (const t of tags) add(`tag:${t}`);
  const body = texts.join("\n");
  const urlHosts: string[] = [];
  const seenHosts = new Set<string>();
  for (const m of body.matchAll(URL_RE)) {
    let host = m[1].toLowerCase().replace(/\.+$/, "");
    if (m[0].toLowerCase().startsWith("www.")) host = `www.${host}`;
    if (!host.includes(".") || seenHosts.has(host)) continue;
    seenHosts.add(host);
    if (urlHosts.length >= MAX_URLS) {
      limited = true;
      break;
    }
    urlHosts.push(host);
    add(`u:${host}`);
    const reg = registeredDomain(host);
    if (reg !== host) add(`u:${reg}`);
  }
  words(body, "");
  return { tokens: [...tokens], urlHosts, fromDomain, fromAddress, bodyText: body.replace(/\s+/g, " ").trim(), limited };
}

/** Second-level labels under which registrations sit one level deeper (co.uk, com.au ...). */
const SECOND_LEVEL = new Set(["co", "com", "net", "org", "ac", "gov", "edu", "ne", "or", "go"]);

/**
 * The domain a name was registered under, approximately (no public suffix list): the last two
 * labels, or three when the second-to-last is a common second-level label under a two-letter
 * country code (example.co.uk). Domain lists such as the Spamhaus DBL and SURBL list these.
 */
export function registeredDomain(host: string): string {
  const labels = host.toLowerCase().split(".").filter(Boolean);
  if (labels.length <= 2) return labels.join(".");
  const tld = labels[labels.length - 1];
  const sld = labels[labels.length - 2];
  const n = tld.length === 2 && SECOND_LEVEL.has(sld) ? 3 : 2;
  return labels.slice(-n).join(".");
}
