// Lines read in answer to a continuation request (CommandReader.expectLine()): IDLE's "DONE"
// (RFC 2177 §3) and SASL responses to AUTHENTICATE (RFC 9051 §6.2.2).

/** RFC 2177 §3: the client ends IDLE with "DONE" (case-insensitive, as atoms are). */
export function isIdleDone(line: string): boolean {
  return line.toUpperCase() === 'DONE';
}

export type SaslLine =
  | { kind: 'data'; data: Buffer }
  /** RFC 9051 §6.2.2: "*" cancels the exchange; answer with a tagged BAD. */
  | { kind: 'cancel' }
  | { kind: 'invalid'; reason: string };

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * RFC 9051 §6.2.2: the response is base64 (an empty line is empty data). The initial response
 * of SASL-IR (RFC 4959) uses the same decoding, with "=" for empty: pass it here as "".
 */
export function parseSaslLine(line: string): SaslLine {
  if (line === '*') return { kind: 'cancel' };
  if (!BASE64_RE.test(line)) return { kind: 'invalid', reason: 'SASL response is not base64' };
  return { kind: 'data', data: Buffer.from(line, 'base64') };
}
