// Mailbox names on the wire: modified UTF-7 (RFC 3501 §5.1.3) for IMAP4rev1 clients, UTF-8 once
// IMAP4rev2 (RFC 9051 §5.1) or UTF8=ACCEPT (RFC 6855 §3) is enabled. Inside the server a name
// is always a Unicode string in NFC, with "INBOX" spelt in upper case.

export class Mutf7Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Mutf7Error';
  }
}

/** RFC 3501 §5.1.3: printable US-ASCII except "&" represents itself. */
function isDirect(c: number): boolean {
  return c >= 0x20 && c <= 0x7e && c !== 0x26;
}

function toModifiedBase64(units: number[]): string {
  const bytes = Buffer.alloc(units.length * 2);
  for (let i = 0; i < units.length; i++) bytes.writeUInt16BE(units[i], i * 2);
  // RFC 3501 §5.1.3: RFC 2152 base64 with "," instead of "/" and no "=" padding.
  return bytes.toString('base64').replace(/=+$/, '').replace(/\//g, ',');
}

export function encodeMutf7(name: string): string {
  let out = '';
  let pending: number[] = [];
  const flush = () => {
    if (pending.length > 0) out += '&' + toModifiedBase64(pending) + '-';
    pending = [];
  };
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (isDirect(c)) {
      flush();
      out += name[i];
    } else if (c === 0x26) {
      flush();
      out += '&-';
    } else {
      pending.push(c); // UTF-16 code units, surrogates included (RFC 2152)
    }
  }
  flush();
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,';

/**
 * Strict decoding: only the one canonical encoding of a name is accepted, so that
 * encodeMutf7(decodeMutf7(s)) === s. Refused: 8-bit or control octets, "&" without "-", a
 * shifted run that encodes printable ASCII (which must represent itself), two shifted runs back
 * to back, a run whose length is not whole UTF-16 units or whose padding bits are not zero, and
 * unpaired surrogates.
 */
export function decodeMutf7(wire: string): string {
  let out = '';
  let i = 0;
  let lastShiftEnd = -1;
  while (i < wire.length) {
    const c = wire.charCodeAt(i);
    if (c !== 0x26) {
      if (!isDirect(c)) throw new Mutf7Error(`Octet 0x${c.toString(16)} not allowed in a modified UTF-7 name`);
      out += wire[i++];
      continue;
    }
    const end = wire.indexOf('-', i + 1);
    if (end < 0) throw new Mutf7Error('Unterminated "&" sequence in mailbox name');
    if (end === i + 1) {
      out += '&';
      i = end + 1;
      continue;
    }
    if (lastShiftEnd === i) throw new Mutf7Error('Adjacent encoded sequences in mailbox name');
    let bits = 0;
    let nbits = 0;
    const units: number[] = [];
    for (let k = i + 1; k < end; k++) {
      const v = B64.indexOf(wire[k]);
      if (v < 0) throw new Mutf7Error(`Invalid character "${wire[k]}" in modified base64`);
      bits = ((bits << 6) | v) & 0xffffff;
      nbits += 6;
      if (nbits >= 16) {
        nbits -= 16;
        units.push((bits >> nbits) & 0xffff);
      }
    }
    if (nbits >= 6 || (bits & ((1 << nbits) - 1)) !== 0) throw new Mutf7Error('Bad padding in modified base64');
    for (let u = 0; u < units.length; u++) {
      const unit = units[u];
      if (isDirect(unit) || unit === 0x26) throw new Mutf7Error('Printable US-ASCII must not be base64-encoded');
      if (unit >= 0xd800 && unit <= 0xdbff) {
        const low = units[u + 1];
        if (low === undefined || low < 0xdc00 || low > 0xdfff) throw new Mutf7Error('Unpaired surrogate in mailbox name');
        out += String.fromCharCode(unit, low);
        u++;
      } else if (unit >= 0xdc00 && unit <= 0xdfff) {
        throw new Mutf7Error('Unpaired surrogate in mailbox name');
      } else {
        out += String.fromCharCode(unit);
      }
    }
    i = end + 1;
    lastShiftEnd = i;
  }
  return out;
}

/**
 * NFC and INBOX: RFC 9051 §5.1 wants names compared after normalisation (RFC 5198 Net-Unicode
 * uses NFC); "INBOX" is case-insensitive (RFC 9051 §5.1), and so, as in most servers, is the
 * INBOX part of "INBOX/child".
 */
export function normalizeMailboxName(name: string, delimiter = '/'): string {
  const n = name.normalize('NFC');
  if (n.length >= 5 && n.slice(0, 5).toUpperCase() === 'INBOX' && (n.length === 5 || n[5] === delimiter)) {
    return 'INBOX' + n.slice(5);
  }
  return n;
}

export type DecodeResult = { ok: true; name: string } | { ok: false; error: string };

/**
 * A mailbox name as the client sent it → the server's form. In UTF-8 mode the name is taken as
 * UTF-8 (RFC 6855 §3: no modified UTF-7 decoding once UTF8=ACCEPT is enabled).
 */
export function decodeMailboxName(wire: string, opts: { utf8: boolean; inbox?: boolean }): DecodeResult {
  let name: string;
  if (opts.utf8) {
    name = wire;
  } else {
    try {
      name = decodeMutf7(wire);
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
  }
  return { ok: true, name: opts.inbox === false ? name.normalize('NFC') : normalizeMailboxName(name) };
}

/** The server's form → the wire form for this session. */
export function encodeMailboxName(name: string, opts: { utf8: boolean }): string {
  return opts.utf8 ? name : encodeMutf7(name);
}

/**
 * Names the server refuses to create (RFC 9051 §6.3.4, §5.1): empty names or components, the
 * LIST wildcards "*" and "%", control characters, and a leading delimiter. Returns a reason or null.
 */
export function mailboxNameProblem(name: string, delimiter = '/'): string | null {
  if (name.length === 0) return 'Empty mailbox name';
  if (/[*%]/.test(name)) return 'Mailbox names cannot contain "*" or "%"';
  if (/[\x00-\x1f\x7f]/.test(name)) return 'Mailbox names cannot contain control characters';
  const parts = name.split(delimiter);
  if (parts.some((p) => p.length === 0)) {
    return name.endsWith(delimiter) && parts.slice(0, -1).every((p) => p.length > 0)
      ? null // RFC 9051 §6.3.4: a trailing delimiter only declares intent to create children
      : 'Empty hierarchy level in mailbox name';
  }
  if (name.normalize('NFC') !== name) return 'Mailbox name is not in NFC';
  return null;
}
