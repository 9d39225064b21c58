// The numeric rules a Postfix operator expects, in one place with their sources. Every value
// can be overridden per server (tests use tiny timeouts); docs/smtp.md lists them.

export interface SmtpLimits {
  /** RFC 1870 SIZE: advertised, checked at MAIL FROM and while the content arrives. */
  readonly maxMessageSize: number;
  /** RFC 5321 §4.5.3.1.8: at least 100 recipients must be accepted; beyond, 452 4.5.3. */
  readonly maxRecipients: number;
  /** RFC 5321 §6.3: more Received fields than this is a loop (554 5.4.6). */
  readonly maxHops: number;
  /** Errors before the session is closed (Postfix smtpd_hard_error_limit, 20). */
  readonly maxErrors: number;
  /** RFC 5321 §4.5.3.2.7: at least 5 minutes waiting for the next command. */
  readonly commandTimeoutMs: number;
  /** Waiting for more content during DATA/BDAT (RFC 5321 §4.5.3.2.5/.6 give the client 3 and 10 minutes; we wait as long as for a command). */
  readonly dataTimeoutMs: number;
  /** Writing replies to a client that does not read them. */
  readonly writeTimeoutMs: number;
  /** RFC 5321 §4.5.3.1.4: a command line is at most 512 octets including CRLF. */
  readonly commandLineOctets: number;
  /** RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets including CRLF. */
  readonly textLineOctets: number;
  /** Input buffered beyond this pauses reading from the socket (memory bound). */
  readonly readHighWater: number;
}

export const DEFAULT_LIMITS: SmtpLimits = {
  maxMessageSize: 50 * 1024 * 1024,
  maxRecipients: 100,
  maxHops: 50,
  maxErrors: 20,
  commandTimeoutMs: 5 * 60_000,
  dataTimeoutMs: 5 * 60_000,
  writeTimeoutMs: 5 * 60_000,
  commandLineOctets: 512,
  textLineOctets: 1000,
  readHighWater: 256 * 1024,
};

export function resolveLimits(partial: Partial<SmtpLimits> | undefined): SmtpLimits {
  const l = { ...DEFAULT_LIMITS, ...partial };
  if (l.maxRecipients < 100) throw new RangeError("maxRecipients must be at least 100 (RFC 5321 section 4.5.3.1.8)");
  return l;
}
