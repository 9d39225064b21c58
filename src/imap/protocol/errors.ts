// The one error type the IMAP protocol core throws. The command boundary in the session turns it
// into a tagged BAD (or an untagged BAD when no tag could be read), so a malformed command never
// ends a session unless `fatal` says the stream can no longer be framed. One kind is answered NO
// instead: a well-formed command naming a mailbox that is not valid modified UTF-7 (the grammar
// allows any astring there; RFC 3501 §5.1.3 is a rule on names, as Dovecot answers).

/** Stable codes for what went wrong while reading or parsing a command. */
export type ImapSyntaxCode =
  | 'syntax' // grammar violation: tagged BAD
  | 'unknown-command' // well-formed tag, command name we do not know: tagged BAD
  | 'line-too-long' // a command line exceeded the reader's limit: BAD, rest of line discarded
  | 'too-big' // a literal or whole command exceeded a limit: BAD [TOOBIG] (RFC 7888 §4, RFC 4469)
  | 'bad-literal' // literal header malformed or not allowed here (e.g. literal8 outside APPEND)
  | 'bad-utf8' // 8-bit data that is not UTF-8 (RFC 6855 §3) or not allowed in this mode
  | 'bad-mailbox-name'; // invalid modified UTF-7 (RFC 3501 §5.1.3): tagged NO [CANNOT]

export class ImapSyntaxError extends Error {
  readonly code: ImapSyntaxCode;
  /** The command tag, or null when the line had no usable tag (answer with an untagged BAD). */
  readonly tag: string | null;
  /** True when the connection cannot be re-synchronised and must be closed after the reply. */
  readonly fatal: boolean;
  /** The RFC 5530 / RFC 7888 response code that fits, if any. */
  readonly responseCode: 'TOOBIG' | 'CLIENTBUG' | 'CANNOT' | null;
  /** BAD, except NO for 'bad-mailbox-name'. */
  readonly status: 'BAD' | 'NO';

  constructor(
    code: ImapSyntaxCode,
    message: string,
    opts: { tag?: string | null; fatal?: boolean; responseCode?: 'TOOBIG' | 'CLIENTBUG' | 'CANNOT' | null } = {},
  ) {
    super(message);
    this.name = 'ImapSyntaxError';
    this.code = code;
    this.tag = opts.tag ?? null;
    this.fatal = opts.fatal ?? false;
    const nameError = code === 'bad-mailbox-name' && this.tag !== null;
    this.status = nameError ? 'NO' : 'BAD';
    this.responseCode = opts.responseCode ?? (code === 'too-big' ? 'TOOBIG' : nameError ? 'CANNOT' : null);
  }
}
