// MAIL and RCPT parameters (RFC 5321 §4.1.2 esmtp-param) for the extensions we advertise:
// SIZE (RFC 1870), BODY (RFC 6152, RFC 3030), SMTPUTF8 (RFC 6531), DSN's RET/ENVID/NOTIFY/ORCPT
// (RFC 3461, with RFC 6533's utf-8-addr-xtext). Parsing only; the commands apply limits.
import { SmtpError } from "./errors.ts";

export type BodyType = "7BIT" | "8BITMIME" | "BINARYMIME";
export type NotifyOn = "SUCCESS" | "FAILURE" | "DELAY";

export interface MailParams {
  /** RFC 1870 declared size. */
  readonly size?: number;
  readonly body?: BodyType;
  readonly smtputf8: boolean;
  /** RFC 3461 §4.3. */
  readonly ret?: "FULL" | "HDRS";
  /** RFC 3461 §4.4, xtext-decoded. */
  readonly envid?: string;
  /** Parameters an extension (e.g. AUTH= for submission) claimed, keyword upper-cased. */
  readonly extra: ReadonlyMap<string, string | null>;
}

export interface RcptParams {
  /** RFC 3461 §4.1: "NEVER" is an empty list. */
  readonly notify?: readonly NotifyOn[] | "NEVER";
  /** RFC 3461 §4.2: original recipient, type and decoded address. */
  readonly orcpt?: { readonly addrType: string; readonly address: string };
  readonly extra: ReadonlyMap<string, string | null>;
}

export interface RawParam {
  readonly keyword: string;
  readonly value: string | null;
}

const KEYWORD = /^[A-Za-z0-9][A-Za-z0-9-]*$/;

/**
 * Splits " KEY=VALUE KEY" into parameters. RFC 5321 §4.1.2: esmtp-value is %d33-60 / %d62-126,
 * RFC 6531 §3.3 adds UTF-8 when SMTPUTF8 is in use.
 */
export function splitParams(rest: string, utf8: boolean): RawParam[] {
  const out: RawParam[] = [];
  const trimmed = rest.replace(/^ +/, "").replace(/ +$/, "");
  if (trimmed === "") return out;
  if (rest !== "" && rest[0] !== " ") throw new SmtpError("badArguments", "Parameters must follow the path after a space");
  for (const part of trimmed.split(/ +/)) {
    const eq = part.indexOf("=");
    const keyword = (eq === -1 ? part : part.slice(0, eq)).toUpperCase();
    const value = eq === -1 ? null : part.slice(eq + 1);
    if (!KEYWORD.test(keyword)) throw new SmtpError("badArguments", `Bad parameter keyword ${JSON.stringify(keyword.slice(0, 40))}`);
    if (value !== null) {
      if (value === "") throw new SmtpError("badArguments", `Empty value for ${keyword}`);
      for (const ch of value) {
        const cp = ch.codePointAt(0)!;
        const ok = (cp >= 33 && cp <= 60) || (cp >= 62 && cp <= 126) || (utf8 && cp > 127);
        if (!ok) throw new SmtpError("badArguments", `Bad character in ${keyword} value`);
      }
    }
    if (out.some((p) => p.keyword === keyword)) throw new SmtpError("badArguments", `Duplicate parameter ${keyword}`);
    out.push({ keyword, value });
  }
  return out;
}

/** RFC 3461 §4: xtext = *( xchar / hexchar ), hexchar = "+" 2 upper-case HEXDIG. */
export function decodeXtext(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2b) {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) throw new SmtpError("badArguments", "Bad xtext encoding");
      out += String.fromCharCode(parseInt(hex, 16));
      i += 2;
    } else if (c < 33 || c > 126 || c === 0x3d) {
      throw new SmtpError("badArguments", "Bad xtext character");
    } else {
      out += s[i];
    }
  }
  return out;
}

/** RFC 3461 §4: the inverse, for writing DSNs later. */
export function encodeXtext(s: string): string {
  let out = "";
  for (const ch of Buffer.from(s, "utf8")) {
    out += ch < 33 || ch > 126 || ch === 0x2b || ch === 0x3d ? `+${ch.toString(16).toUpperCase().padStart(2, "0")}` : String.fromCharCode(ch);
  }
  return out;
}

/** RFC 6533 §3: utf-8-addr-xtext / utf-8-addr-unitext, "\x{HEX}" escapes. */
// QCHAR excludes "+", "=" and "\\" (escapes only); raw UTF-8 is utf-8-addr-unitext (SMTPUTF8).
function decodeUtf8AddrXtext(s: string): string {
  if (/[+=]/.test(s.replace(/\\x\{[0-9A-Fa-f]{1,6}\}/g, ""))) throw new SmtpError("badArguments", "Bad utf-8-addr-xtext");
  return s.replace(/\\x\{([0-9A-Fa-f]{1,6})\}/g, (_m, h: string) => {
    const cp = parseInt(h, 16);
    if (cp > 0x10ffff) throw new SmtpError("badArguments", "Bad utf-8-addr-xtext");
    return String.fromCodePoint(cp);
  });
}

function need(p: RawParam): string {
  if (p.value === null) throw new SmtpError("badArguments", `${p.keyword} needs a value`);
  return p.value;
}

/** Extension hook: returns true when it claims a parameter (see types.ts SmtpExtension). */
export type ParamClaim = (p: RawParam) => boolean;

export function parseMailParams(rest: string, opts: { utf8Allowed: boolean; binaryMime: boolean; dsn: boolean; claim?: ParamClaim }): MailParams {
  // SMTPUTF8 may appear anywhere among the parameters and widens what the others may hold,
  // so look for it first.
  const utf8 = opts.utf8Allowed && / SMTPUTF8(?: |$)/i.test(rest);
  const raw = splitParams(rest, utf8);
  let size: number | undefined;
  let body: BodyType | undefined;
  let smtputf8 = false;
  let ret: "FULL" | "HDRS" | undefined;
  let envid: string | undefined;
  const extra = new Map<string, string | null>();
  for (const p of raw) {
    switch (p.keyword) {
      case "SIZE": {
        // RFC 1870 §3: size-value ::= 1*20DIGIT
        const v = need(p);
        if (!/^\d{1,20}$/.test(v)) throw new SmtpError("badArguments", "Bad SIZE value");
        size = Number(v);
        break;
      }
      case "BODY": {
        const v = need(p).toUpperCase();
        if (v === "7BIT" || v === "8BITMIME" || (v === "BINARYMIME" && opts.binaryMime)) body = v;
        else throw new SmtpError("paramNotImplemented", `BODY=${v.slice(0, 20)} not supported`);
        break;
      }
      case "SMTPUTF8":
        if (!opts.utf8Allowed) throw new SmtpError("unknownParam");
        if (p.value !== null) throw new SmtpError("badArguments", "SMTPUTF8 takes no value");
        smtputf8 = true;
        break;
      case "RET": {
        if (!opts.dsn) throw new SmtpError("unknownParam");
        const v = need(p).toUpperCase();
        if (v !== "FULL" && v !== "HDRS") throw new SmtpError("badArguments", "RET must be FULL or HDRS");
        ret = v;
        break;
      }
      case "ENVID": {
        if (!opts.dsn) throw new SmtpError("unknownParam");
        const v = decodeXtext(need(p));
        // RFC 3461 §4.4: at most 100 characters.
        if (v.length > 100) throw new SmtpError("badArguments", "ENVID longer than 100 characters");
        envid = v;
        break;
      }
      default:
        if (opts.claim?.(p)) extra.set(p.keyword, p.value);
        else throw new SmtpError("unknownParam", `Parameter ${p.keyword.slice(0, 40)} not recognized`);
    }
  }
  return { size, body, smtputf8, ret, envid, extra };
}

export function parseRcptParams(rest: string, opts: { utf8: boolean; dsn: boolean; claim?: ParamClaim }): RcptParams {
  const raw = splitParams(rest, opts.utf8);
  let notify: NotifyOn[] | "NEVER" | undefined;
  let orcpt: { addrType: string; address: string } | undefined;
  const extra = new Map<string, string | null>();
  for (const p of raw) {
    switch (p.keyword) {
      case "NOTIFY": {
        if (!opts.dsn) throw new SmtpError("unknownParam");
        // RFC 3461 §4.1: "NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" )
        const items = need(p).toUpperCase().split(",");
        if (items.length === 1 && items[0] === "NEVER") {
          notify = "NEVER";
          break;
        }
        const list: NotifyOn[] = [];
        for (const it of items) {
          if (it !== "SUCCESS" && it !== "FAILURE" && it !== "DELAY") throw new SmtpError("badArguments", "Bad NOTIFY value");
          if (!list.includes(it)) list.push(it);
        }
        notify = list;
        break;
      }
      case "ORCPT": {
        if (!opts.dsn) throw new SmtpError("unknownParam");
        // RFC 3461 §4.2: addr-type ";" xtext
        const v = need(p);
        const semi = v.indexOf(";");
        if (semi <= 0) throw new SmtpError("badArguments", "ORCPT must be addr-type;address");
        const addrType = v.slice(0, semi).toLowerCase();
        const enc = v.slice(semi + 1);
        const address = addrType === "utf-8" ? decodeUtf8AddrXtext(enc) : decodeXtext(enc);
        if (address.length === 0 || address.length > 500) throw new SmtpError("badArguments", "Bad ORCPT address");
        orcpt = { addrType, address };
        break;
      }
      default:
        if (opts.claim?.(p)) extra.set(p.keyword, p.value);
        else throw new SmtpError("unknownParam", `Parameter ${p.keyword.slice(0, 40)} not recognized`);
    }
  }
  return { notify, orcpt, extra };
}
