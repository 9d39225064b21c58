// The value model responses are built from, and its encoder. Strings pick their own wire form
// (RFC 9051 §4.3): an atom where one is allowed and unambiguous, else a quoted string, else a
// literal; literal8 where the data has NUL (RFC 3516 §4.2). Large bodies stay out of memory as
// "deferred" chunks the session fills in from the blob store.

export interface WireMode {
  /** UTF-8 allowed in quoted strings: IMAP4rev2 or UTF8=ACCEPT enabled (RFC 9051 §4.3, RFC 6855 §3). */
  utf8: boolean;
}

/** A body the session streams itself: `source` is whatever it needs to find the bytes. */
export interface DeferredBody {
  kind: 'deferred';
  size: number;
  source: unknown;
}

export type WireValue =
  | { t: 'atom'; v: string }
  | { t: 'num'; v: number }
  | { t: 'str'; v: string }
  | { t: 'nstr'; v: string | null }
  | { t: 'astr'; v: string }
  | { t: 'bytes'; v: Uint8Array; binary: boolean }
  | { t: 'deferred'; body: DeferredBody; binary: boolean }
  | { t: 'list'; v: WireValue[] }
  /** Values written back to back with no separator (a multipart's "1*body", RFC 9051 §9). */
  | { t: 'concat'; v: WireValue[] }
  | { t: 'nil' }
  | { t: 'raw'; v: string };

export const atom = (v: string): WireValue => ({ t: 'atom', v });
export const num = (v: number): WireValue => ({ t: 'num', v });
export const str = (v: string): WireValue => ({ t: 'str', v });
export const nstr = (v: string | null | undefined): WireValue => ({ t: 'nstr', v: v ?? null });
export const astr = (v: string): WireValue => ({ t: 'astr', v });
export const bytes = (v: Uint8Array, binary = false): WireValue => ({ t: 'bytes', v, binary });
export const deferred = (body: DeferredBody, binary = false): WireValue => ({ t: 'deferred', body, binary });
export const list = (v: WireValue[]): WireValue => ({ t: 'list', v });
export const concat = (v: WireValue[]): WireValue => ({ t: 'concat', v });
export const nil: WireValue = { t: 'nil' };
/** Already in wire form (flags, section names, sequence sets); the caller vouches for it. */
export const raw = (v: string): WireValue => ({ t: 'raw', v });

/** One response as chunks: text/bytes to write, and deferred bodies to stream in between. */
export type ResponseChunk = Buffer | DeferredBody;

// RFC 9051 §9 ATOM-CHAR; NIL is excluded by the caller so an atom never reads as nil.
const ATOM_RE = /^[!#$&'+-Z^-z|}~]+$/;
// ASTRING-CHAR adds "]".
const ASTRING_RE = /^[!#$&'+-Z^-z|}~\]]+$/;
/** Quoted strings longer than this become literals, which clients parse faster and safer. */
const MAX_QUOTED = 1024;

export function isAtom(s: string): boolean {
  return ATOM_RE.test(s);
}

/** How a string goes on the wire: 'quoted' text, or a 'literal' (8-bit or CR/LF/NUL content). */
export function stringForm(s: string, mode: WireMode): 'quoted' | 'literal' {
  if (s.length > MAX_QUOTED) return 'literal';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c === 0x0a || c === 0x0d) return 'literal';
    if (c >= 0x80 && !mode.utf8) return 'literal';
  }
  return 'quoted';
}

export function quote(s: string): string {
  return '"' + s.replace(/[\\"]/g, (m) => '\\' + m) + '"';
}

/** Encoder that joins text and collects deferred bodies; one per response. */
export class WireWriter {
  readonly mode: WireMode;
  #chunks: ResponseChunk[] = [];
  #text = '';

  constructor(mode: WireMode) {
    this.mode = mode;
  }

  text(s: string): this {
    this.#text += s;
    return this;
  }

  #flush(): void {
    if (this.#text) this.#chunks.push(Buffer.from(this.#text, 'utf8'));
    this.#text = '';
  }

  #literal(data: Uint8Array, binary: boolean): void {
    // RFC 3516 §4.2: literal8 when the data may hold NUL; otherwise a plain literal.
    const b8 = binary && data.includes(0);
    this.#text += `${b8 ? '~' : ''}{${data.length}}\r\n`;
    this.#flush();
    this.#chunks.push(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length));
  }

  #string(s: string): void {
    if (stringForm(s, this.mode) === 'quoted') this.#text += quote(s);
    else this.#literal(Buffer.from(s, 'utf8'), false);
  }

  value(v: WireValue): this {
    switch (v.t) {
      case 'atom':
      case 'raw':
        this.#text += v.v;
        break;
      case 'num':
        this.#text += String(v.v);
        break;
      case 'nil':
        this.#text += 'NIL';
        break;
      case 'str':
        this.#string(v.v);
        break;
      case 'nstr':
        if (v.v === null) this.#text += 'NIL';
        else this.#string(v.v);
        break;
      case 'astr':
        if (ASTRING_RE.test(v.v) && v.v.toUpperCase() !== 'NIL') this.#text += v.v;
        else this.#string(v.v);
        break;
      case 'bytes':
        this.#literal(v.v, v.binary);
        break;
      case 'deferred':
        // The session knows from its index whether the body has NUL; binary here means literal8.
        this.#text += `${v.binary ? '~' : ''}{${v.body.size}}\r\n`;
        this.#flush();
        this.#chunks.push(v.body);
        break;
      case 'concat':
        for (const item of v.v) this.value(item);
        break;
      case 'list':
        this.#text += '(';
        v.v.forEach((item, i) => {
          if (i > 0) this.#text += ' ';
          this.value(item);
        });
        this.#text += ')';
        break;
    }
    return this;
  }

  /** Values separated by single spaces. */
  values(vs: WireValue[]): this {
    vs.forEach((v, i) => {
      if (i > 0) this.#text += ' ';
      this.value(v);
    });
    return this;
  }

  /** End the response with CRLF and return its chunks. */
  done(): ResponseChunk[] {
    this.#text += '\r\n';
    this.#flush();
    const out = this.#chunks;
    this.#chunks = [];
    return out;
  }
}

/** Join chunks into one Buffer (responses without deferred bodies; tests). */
export function toBuffer(chunks: readonly ResponseChunk[]): Buffer {
  return Buffer.concat(
    chunks.map((c) => {
      if (Buffer.isBuffer(c)) return c;
      throw new Error('toBuffer: response has a deferred body');
    }),
  );
}
