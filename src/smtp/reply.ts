// Typed reply builders. Every byte the server sends is built here, so the wire format (RFC 5321
// §4.2 reply lines, RFC 2034 enhanced status codes) lives in one place.

/** An SMTP reply: a three-digit code, an optional enhanced status (RFC 3463) and text lines. */
export interface Reply {
  readonly code: number;
  /** "2.0.0"-style enhanced status; omitted for the greeting and for EHLO (RFC 2034 §3). */
  readonly enhanced?: string;
  readonly lines: readonly string[];
}

export function reply(code: number, enhanced: string | undefined, ...lines: string[]): Reply {
  if (code < 200 || code > 599) throw new RangeError(`bad reply code ${code}`);
  return { code, enhanced, lines: lines.length === 0 ? [""] : lines };
}

/** A success reply with the enhanced status the transaction step implies. */
export function ok(enhanced: string, text: string): Reply {
  return reply(250, enhanced, text);
}

// RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets including the code and CRLF.
const MAX_REPLY_TEXT = 512 - 4 - 2;

function clean(text: string): string {
  // No CR/LF can appear inside a reply line; anything that came from the client or a handler
  // is flattened so it cannot forge a second reply.
  return text.replace(/[\r\n\0]+/g, " ");
}

/**
 * Renders a reply. RFC 5321 §4.2.1: all lines but the last use "code-", the last "code SP".
 * RFC 2034 §3: with ENHANCEDSTATUSCODES, every line of a reply (except the greeting and the
 * EHLO response) starts with the enhanced status code.
 */
export function formatReply(r: Reply): string {
  let out = "";
  const n = r.lines.length;
  for (let i = 0; i < n; i++) {
    const sep = i === n - 1 ? " " : "-";
    let text = clean(r.lines[i]);
    if (r.enhanced !== undefined) text = text === "" ? r.enhanced : `${r.enhanced} ${text}`;
    if (text.length > MAX_REPLY_TEXT) text = text.slice(0, MAX_REPLY_TEXT);
    out += `${r.code}${sep}${text}\r\n`;
  }
  return out;
}
