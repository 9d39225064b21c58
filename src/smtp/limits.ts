// The numeric rules a Postfix operator expects, in one place with their sources. Every value
// can be overridden per server (tests use tiny timeouts); docs/smtp.md lists them.

export interface SmtpLimits {
  /** RFC 1870 SIZE: advertised, checked at MAIL FROM and while the content arrives. */
  readonly maxMessageSize: number;
  /**
   * Recipients per transaction. RFC 5321 §4.5.3.1.8: at least 100; beyond the limit, 452 4.5.3
   * and the client sends the rest in another transaction (§4.5.3.1.10). 1000 as Postfix's
   * smtpd_recipient_limit.
   */
  readonly maxRecipients: number;
  /**
   * Recipients refused as "too many" in one transaction before each further one counts as an
   * error towards maxErrors (Postfix smtpd_recipient_overshoot_limit, 1000): a mailing list that
   * pipelines past our limit is a client doing what §4.5.3.1.10 expects, not a failing one.
   */
  readonly recipientOvershoot: number;
  /** RFC 5321 §6.3: more Received fields than this is a loop (554 5.4.6). */
  readonly maxHops: number;
  /** Errors before the session is closed (Postfix smtpd_hard_error_limit, 20). */
  readonly maxErrors: number;
  /** RFC 5321 §4.5.3.2.7: at least 5 minutes waiting for the next command. */
  readonly commandTimeoutMs: number;
  /** Waiting for more content during DATA/BDAT (RFC 5321 §4.5.3.2.5/.6 give the client 3 and 10 minutes; we wait as long as for a command). */
  readonly dataTimeoutMs: number;
  /**
   * Message content (DATA, BDAT) must average at least this many octets a second once
   * dataTimeoutMs has passed since it started (Postfix smtpd_min_data_rate, 500): a client that
   * trickles a byte a second is cut off with 421 instead of holding a session for hours. 0 turns
   * the check off (each wait is still bounded by dataTimeoutMs).
   */
  readonly minDataRate: number;
  /**
   * BDAT chunks in one transaction (RFC 3030 leaves the chunk size to the client). Each chunk
   * costs a command, a reply and a write however small it is, so 1-octet chunks would make a
   * message cost ~40 times its size: past this many chunks the message is refused with 552 5.3.4
   * (its remaining chunks get 503 and count as errors). 10,000 lets a 50 MiB message come in
   * 5 KiB chunks; real clients send far larger ones.
   */
  readonly maxBdatChunks: number;
  /** Writing replies to a client that does not read them. */
  readonly writeTimeoutMs: number;
  /**
   * A command line, including CRLF. RFC 5321 §4.5.3.1.4 says 512 and lets extensions raise it;
   * like Postfix (line_length_limit 2048) every command may have 2048, and MAIL, RCPT and AUTH
   * get their RFC 1870/3461/4954 allowances on top (the command table).
   */
  readonly commandLineOctets: number;
  /**
   * A content line in DATA, including CRLF. RFC 5321 §4.5.3.1.6 says 1000, but HTML newsletters
   * and scripts send longer ones and Postfix takes them; such lines are stored as received (a
   * rewrite would break the sender's DKIM signature). 128 KiB by default.
   */
  readonly textLineOctets: number;
  /** Input buffered beyond this pauses reading from the socket (memory bound). */
  readonly readHighWater: number;
}

export const DEFAULT_LIMITS: SmtpLimits = {
  maxMessageSize: 50 * 1024 * 1024,
  maxRecipients: 1000,
  recipientOvershoot: 1000,
  maxHops: 50,
  maxErrors: 20,
  commandTimeoutMs: 5 * 60_000,
  dataTimeoutMs: 5 * 60_000,
  minDataRate: 500,
  maxBdatChunks: 10_000,
  writeTimeoutMs: 5 * 60_000,
  commandLineOctets: 2048,
  textLineOctets: 128 * 1024,
  readHighWater: 256 * 1024,
};

export function resolveLimits(partial: Partial<SmtpLimits> | undefined): SmtpLimits {
  const l = { ...DEFAULT_LIMITS, ...partial };
  if (l.maxRecipients < 100) throw new RangeError("maxRecipients must be at least 100 (RFC 5321 section 4.5.3.1.8)");
  if (l.commandLineOctets < 512) throw new RangeError("commandLineOctets must be at least 512 (RFC 5321 section 4.5.3.1.4)");
  if (l.textLineOctets < 1000) throw new RangeError("textLineOctets must be at least 1000 (RFC 5321 section 4.5.3.1.6)");
  return l;
}
