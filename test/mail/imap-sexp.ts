// A small reader for IMAP response data (RFC 3501 §9 / §4): atoms, numbers, quoted strings,
// literals, NIL and parenthesised lists. Used by the Dovecot differential test to compare what
// two servers send as values, so that quoted-vs-literal (both are "string", §4.3) never counts
// as a difference.
export type Sexp = null | string | Buffer | Sexp[];

/** Parses one response line (with its literals). `string` = atom, Buffer = string, null = NIL. */
export function parseSexp(b: Buffer, start = 0): { value: Sexp[]; end: number } {
  let i = start;
  const skipSp = (): void => {
    while (i < b.length && b[i] === 0x20) i++;
  };
  const readValue = (): Sexp => {
    skipSp();
    const c = b[i];
    if (c === 0x28) {
      i++;
      const list: Sexp[] = [];
      for (;;) {
        skipSp();
        if (i >= b.length) return list;
        if (b[i] === 0x29) {
          i++;
          return list;
        }
        list.push(readValue());
      }
    }
    if (c === 0x22) {
      i++;
      const out: number[] = [];
      while (i < b.length && b[i] !== 0x22) {
        if (b[i] === 0x5c) i++;
        out.push(b[i]);
        i++;
      }
      i++;
      return Buffer.from(out);
    }
    if (c === 0x7b) {
      const close = b.indexOf(0x7d, i);
      const n = Number(b.toString("latin1", i + 1, close).replace("+", ""));
      const s = close + 3; // "}\r\n"
      i = s + n;
      return Buffer.from(b.subarray(s, s + n));
    }
    const st = i;
    while (i < b.length && b[i] !== 0x20 && b[i] !== 0x29 && b[i] !== 0x28 && b[i] !== 0x0d) {
      if (b[i] === 0x5b) {
        // BODY[...] section: read to the matching "]" (it may hold spaces and a list).
        const close = b.indexOf(0x5d, i);
        i = close < 0 ? b.length : close + 1;
      } else i++;
    }
    const atom = b.toString("latin1", st, i);
    return atom.toUpperCase() === "NIL" ? null : atom;
  };
  const out: Sexp[] = [];
  for (;;) {
    skipSp();
    if (i >= b.length || b[i] === 0x0d || b[i] === 0x0a) break;
    out.push(readValue());
  }
  return { value: out, end: i };
}

/** The items of "* n FETCH (...)" as name → value (names upper-cased). */
export function fetchItems(line: Buffer): Map<string, Sexp> {
  const { value } = parseSexp(line);
  const m = new Map<string, Sexp>();
  const list = value[3];
  if (!Array.isArray(list)) return m;
  for (let k = 0; k + 1 < list.length; k += 2) m.set(String(list[k]).toUpperCase(), list[k + 1]);
  return m;
}

export function sexpEqual(a: Sexp, b: Sexp): boolean {
  if (a === null || b === null) return a === b;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sexpEqual(x, b[i]));
  }
  if (typeof a === "string" || typeof b === "string") return typeof a === typeof b && a === b;
  return a.equals(b);
}

export function sexpText(v: Sexp): string {
  if (v === null) return "NIL";
  if (typeof v === "string") return v;
  if (Buffer.isBuffer(v)) return JSON.stringify(v.toString("latin1"));
  return `(${v.map(sexpText).join(" ")})`;
}
