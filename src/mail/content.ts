// MIME header values: Content-Type, Content-Disposition, Content-Transfer-Encoding,
// Content-Language (RFC 2045 §5.1, §6.1; RFC 2183 §2; RFC 3282 §2) with RFC 2231 parameter
// continuations. Values are latin1 strings (one char per stored byte). Case is kept exactly as
// written, as Dovecot does; callers compare case-insensitively.

export type Param = [name: string, value: string];

export interface ContentType {
  /** False when the value is not `type "/" subtype [";" params]`; type and subtype are then "". */
  valid: boolean;
  type: string;
  subtype: string;
  params: Param[];
}

// RFC 2045 §5.1: tspecials.
const TSPECIALS = new Set([..."()<>@,;:\\\"/[]?="].map((c) => c.charCodeAt(0)));

/** A cursor over one header value with the RFC 5322 lexical helpers MIME values need. */
export class ValueReader {
  s: string;
  i = 0;
  constructor(s: string) {
    this.s = s;
  }
  atEnd(): boolean {
    return this.i >= this.s.length;
  }
  peek(): string {
    return this.s[this.i] ?? "";
  }
  /** RFC 5322 §3.2.2 CFWS: white space and (nested) comments. Returns the comments' text. */
  skipCfws(): string[] {
    const comments: string[] = [];
    for (;;) {
      const c = this.s.charCodeAt(this.i);
      if (c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a) {
        this.i++;
      } else if (c === 0x28) {
        comments.push(this.comment());
      } else return comments;
    }
  }
  comment(): string {
    let depth = 0;
    let out = "";
    while (this.i < this.s.length) {
      const ch = this.s[this.i++];
      if (ch === "\\" && this.i < this.s.length) {
        out += this.s[this.i++];
      } else if (ch === "(") {
        if (depth > 0) out += ch;
        depth++;
      } else if (ch === ")") {
        depth--;
        if (depth === 0) return out;
        out += ch;
      } else out += ch;
    }
    return out;
  }
  /** RFC 2045 §5.1 token (8-bit bytes tolerated). */
  token(): string {
    const st = this.i;
    while (this.i < this.s.length) {
      const c = this.s.charCodeAt(this.i);
      if (c <= 0x20 || c === 0x7f || TSPECIALS.has(c)) break;
      this.i++;
    }
    return this.s.slice(st, this.i);
  }
  /** RFC 5322 §3.2.4 quoted-string, at a '"'; returns the unescaped content. */
  quoted(): string {
    this.i++;
    let out = "";
    while (this.i < this.s.length) {
      const ch = this.s[this.i++];
      if (ch === '"') return out;
      if (ch === "\\" && this.i < this.s.length) out += this.s[this.i++];
      else if (ch !== "\r" && ch !== "\n") out += ch;
    }
    return out;
  }
}

// RFC 2231 §3-4: name*0, name*1* ... are joined into one parameter. Like Dovecot we keep an
// extended value encoded (charset'lang'%XX) under the name "name*": BODYSTRUCTURE carries
// parameters as sent, and decoding is the client's business (RFC 3501 §7.4.2).
function mergeRfc2231(raw: Param[]): Param[] {
  const plain: Param[] = [];
  const groups = new Map<string, { name: string; parts: { n: number; ext: boolean; v: string }[] }>();
  for (const [name, value] of raw) {
    // name*N (continuation), name*N* (encoded continuation) or name* (encoded, RFC 2231 §4).
    const m = /^(.*?)\*(?:(\d+)(\*?))?$/.exec(name);
    if (!m || m[1] === "") {
      plain.push([name, value]);
      continue;
    }
    const key = m[1].toLowerCase();
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { name: m[1], parts: [] }));
    g.parts.push({ n: m[2] === undefined ? 0 : Number(m[2]), ext: m[2] === undefined || m[3] === "*", v: value });
  }
  // The RFC 2231 parameters follow the plain ones, as Dovecot lists them.
  for (const g of groups.values()) {
    g.parts.sort((a, b) => a.n - b.n);
    const ext = g.parts.some((p) => p.ext);
    plain.push([ext ? `${g.name}*` : g.name, g.parts.map((p) => p.v).join("")]);
  }
  return plain;
}

/** Skips to the next ";" outside quotes and comments (or to the end). */
function skipToSemicolon(r: ValueReader): void {
  while (!r.atEnd() && r.peek() !== ";") {
    if (r.peek() === '"') r.quoted();
    else if (r.peek() === "(") r.comment();
    else r.i++;
  }
}

/**
 * Parameters after a MIME value: *(";" attribute "=" value). A malformed parameter (a missing ";"
 * before it, no "=", no value) is skipped up to the next ";", as Dovecot does, so one broken
 * parameter does not hide the ones after it.
 */
export function parseParams(r: ValueReader): Param[] {
  const out: Param[] = [];
  for (;;) {
    r.skipCfws();
    if (r.atEnd()) break;
    if (r.peek() !== ";") {
      skipToSemicolon(r);
      continue;
    }
    r.i++;
    r.skipCfws();
    const name = r.token();
    r.skipCfws();
    if (name === "" || r.peek() !== "=") {
      skipToSemicolon(r);
      continue;
    }
    r.i++;
    r.skipCfws();
    const value = r.peek() === '"' ? r.quoted() : r.token();
    out.push([name, value]);
  }
  return mergeRfc2231(out);
}

/**
 * RFC 2045 §5.1: Content-Type := type "/" subtype *(";" parameter). Broken values are read as
 * Dovecot reads them, so the part tree and BODYSTRUCTURE agree with it: a lone type ("text") keeps
 * the type with an empty subtype; anything else unparseable gives "" / "". Either way `valid` is
 * false and no parameters are read.
 */
export function parseContentType(value: string): ContentType {
  const invalid: ContentType = { valid: false, type: "", subtype: "", params: [] };
  const r = new ValueReader(value);
  r.skipCfws();
  const type = r.token();
  r.skipCfws();
  if (type === "") return invalid;
  if (r.atEnd()) return { ...invalid, type };
  if (r.peek() !== "/") return invalid;
  r.i++;
  r.skipCfws();
  const subtype = r.token();
  r.skipCfws();
  // After the subtype only ";" or the end may follow: a missing ";" before the parameters must
  // not silently turn a multipart into something else.
  if (subtype === "" || !(r.atEnd() || r.peek() === ";")) return invalid;
  return { valid: true, type, subtype, params: parseParams(r) };
}

/** RFC 2045 §6.1: a single mechanism token, or null when the value is empty or has trailing garbage. */
export function parseTransferEncoding(value: string): string | null {
  const r = new ValueReader(value);
  r.skipCfws();
  const tok = r.token();
  r.skipCfws();
  return tok !== "" && r.atEnd() ? tok : null;
}

/** RFC 2183 §2: disposition-type *(";" disposition-parm). */
export function parseDisposition(value: string): { type: string; params: Param[] } {
  const r = new ValueReader(value);
  r.skipCfws();
  const type = r.token();
  return { type, params: parseParams(r) };
}

// RFC 5322 §3.2.3 atext.
const ATEXT = /[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\x80-\xff]/;

/** RFC 3282 §2: Content-Language := 1#Language-tag (read as comma-separated atoms). */
export function parseLanguage(value: string): string[] {
  const r = new ValueReader(value);
  const out: string[] = [];
  r.skipCfws();
  for (;;) {
    const st = r.i;
    while (r.i < r.s.length && ATEXT.test(r.s[r.i])) r.i++;
    if (r.i === st) break;
    out.push(r.s.slice(st, r.i));
    r.skipCfws();
    if (r.peek() !== ",") break;
    r.i++;
    r.skipCfws();
  }
  return out;
}
