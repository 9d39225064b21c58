// Minimal IMAP string rendering for ENVELOPE and BODYSTRUCTURE (RFC 3501 §4.3, §9 "string",
// "nstring"). The IMAP protocol builders in src/imap/protocol/ may replace this later; the rules
// here are the same ones: a quoted string when every byte is allowed inside quotes, otherwise a
// literal.

/**
 * An IMAP value as ENVELOPE/BODYSTRUCTURE use it: NIL, a number, a string, a parenthesised list,
 * or `{ adjacent }`: values written with no space between them (RFC 3501 §9
 * body-type-mpart = 1*body SP media-subtype puts the part bodies next to each other).
 */
export type ImapValue = null | number | string | Buffer | ImapValue[] | { adjacent: ImapValue[] };

// RFC 3501 §9: QUOTED-CHAR is any TEXT-CHAR (7-bit, no CR/LF/NUL) with '"' and '\' escaped.
function quotable(b: Buffer): boolean {
  for (const c of b) {
    if (c === 0 || c === 0x0a || c === 0x0d || c >= 0x80) return false;
  }
  return true;
}

/** Renders a string as quoted or, when it holds CR, LF, NUL or 8-bit bytes, as a literal. */
export function imapString(s: string | Buffer): Buffer {
  const b = typeof s === "string" ? Buffer.from(s, "latin1") : s;
  if (quotable(b)) {
    let esc = 0;
    for (const c of b) if (c === 0x22 || c === 0x5c) esc++;
    const out = Buffer.allocUnsafe(b.length + esc + 2);
    let n = 0;
    out[n++] = 0x22;
    for (const c of b) {
      if (c === 0x22 || c === 0x5c) out[n++] = 0x5c;
      out[n++] = c;
    }
    out[n++] = 0x22;
    return out;
  }
  // RFC 3501 §4.3: literal is "{" number "}" CRLF *CHAR8. A literal cannot carry NUL (RFC 3501
  // §9 CHAR8); Dovecot maps NUL to 0x80 before we get here (see forHumans), and so do we.
  return Buffer.concat([Buffer.from(`{${b.length}}\r\n`, "latin1"), b]);
}

/** Renders a value tree as IMAP wire bytes. Strings are taken as latin1 (one char per byte). */
export function renderImap(v: ImapValue): Buffer {
  const out: Buffer[] = [];
  const walk = (x: ImapValue): void => {
    if (x === null) out.push(Buffer.from("NIL"));
    else if (typeof x === "number") out.push(Buffer.from(String(x)));
    else if (typeof x === "string" || Buffer.isBuffer(x)) out.push(imapString(x));
    else if (!Array.isArray(x)) x.adjacent.forEach(walk);
    else {
      out.push(Buffer.from("("));
      x.forEach((y, i) => {
        if (i > 0) out.push(Buffer.from(" "));
        walk(y);
      });
      out.push(Buffer.from(")"));
    }
  };
  walk(v);
  return Buffer.concat(out);
}

/**
 * Dovecot's "string for humans" (imap_append_string_for_humans): runs of SP, TAB, CR and LF
 * become one space, leading and trailing white space go, NUL becomes 0x80. Used for the
 * subject, display names and every BODYSTRUCTURE string, so a folded header (RFC 5322 §2.2.3)
 * reads as one line and never needs a literal only because of its line breaks.
 */
export function forHumans(b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(b.length);
  let n = 0;
  let lwsp = true;
  for (const c of b) {
    if (c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a) {
      if (!lwsp) out[n++] = 0x20;
      lwsp = true;
    } else {
      out[n++] = c === 0 ? 0x80 : c;
      lwsp = false;
    }
  }
  if (lwsp && n > 0) n--;
  return Buffer.from(out.subarray(0, n));
}
