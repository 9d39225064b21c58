// The one catalogue of SMTP errors (STYLE.md §5). Each entry has a stable code, the reply code,
// the enhanced status (RFC 3463) and who is at fault: "user" (the client or the sender did
// something wrong; logged at info) or "server" (our side failed; logged at warn/error and always
// answered with a 4xx so the client retries — a local fault must never bounce mail).
// Command handlers throw only SmtpError; the command boundary renders it (see connection.ts).
import { reply } from "./reply.ts";
import type { Reply } from "./reply.ts";

export type Fault = "user" | "server";

export interface ErrorEntry {
  readonly reply: number;
  readonly enhanced: string;
  readonly text: string;
  readonly fault: Fault;
  /** The connection closes after this reply (421 per RFC 5321 §3.8). */
  readonly close?: boolean;
}

export const SMTP_ERRORS = {
  // --- syntax (RFC 5321 §4.2.4, RFC 3463 X.5.x) ---
  unknownCommand: { reply: 500, enhanced: "5.5.2", text: "Syntax error, command unrecognized", fault: "user" },
  // RFC 5321 §4.2.4: 500 covers "command line too long". RFC 3463 has no code for a long
  // command line (X.5.6 is RFC 4954's AUTH exchange line), so X.5.2 syntax error is used.
  lineTooLong: { reply: 500, enhanced: "5.5.2", text: "Line too long (RFC 5321 section 4.5.3.1.4)", fault: "user" },
  nulInCommand: { reply: 500, enhanced: "5.5.2", text: "NUL character not allowed in a command", fault: "user" },
  badArguments: { reply: 501, enhanced: "5.5.4", text: "Syntax error in parameters or arguments", fault: "user" },
  badSenderSyntax: { reply: 501, enhanced: "5.1.7", text: "Bad sender address syntax", fault: "user" },
  badRecipientSyntax: { reply: 501, enhanced: "5.1.3", text: "Bad recipient address syntax", fault: "user" },
  notImplemented: { reply: 502, enhanced: "5.5.1", text: "Command not implemented", fault: "user" },
  badSequence: { reply: 503, enhanced: "5.5.1", text: "Bad sequence of commands", fault: "user" },
  paramNotImplemented: { reply: 504, enhanced: "5.5.4", text: "Command parameter not implemented", fault: "user" },
  // RFC 5321 §4.1.1.11: unrecognised MAIL/RCPT parameters get 555.
  unknownParam: { reply: 555, enhanced: "5.5.4", text: "MAIL FROM/RCPT TO parameters not recognized or not implemented", fault: "user" },
  // RFC 6531 §3.5: a non-ASCII address without SMTPUTF8.
  utf8NotAllowed: { reply: 553, enhanced: "5.6.7", text: "Non-ASCII address requires SMTPUTF8", fault: "user" },

  // --- protocol discipline ---
  earlyTalker: { reply: 554, enhanced: "5.5.0", text: "Protocol error: client spoke before the greeting", fault: "user", close: true },
  improperPipelining: { reply: 554, enhanced: "5.5.0", text: "Protocol error: data sent before the 354 reply", fault: "user", close: true },
  tooManyErrors: { reply: 421, enhanced: "4.7.0", text: "Too many errors, closing connection", fault: "user", close: true },
  timeout: { reply: 421, enhanced: "4.4.2", text: "Timeout exceeded, closing connection", fault: "user", close: true },
  tooManyConnections: { reply: 421, enhanced: "4.7.0", text: "Too many connections from your network, try again later", fault: "user", close: true },
  listenerFull: { reply: 421, enhanced: "4.7.0", text: "Too many connections, try again later", fault: "server", close: true },
  shuttingDown: { reply: 421, enhanced: "4.3.2", text: "Service shutting down, closing connection", fault: "server", close: true },
  // RFC 1869 §4.7 / RFC 5321 §4.5.1: a refused connection (e.g. by the connect hook).
  connectionRefused: { reply: 554, enhanced: "5.7.1", text: "Connection refused", fault: "user", close: true },

  // --- TLS (RFC 3207) ---
  tlsNotAvailable: { reply: 454, enhanced: "4.7.0", text: "TLS not available", fault: "server" },
  tlsAlreadyActive: { reply: 503, enhanced: "5.5.1", text: "TLS already active", fault: "user" },
  encryptionRequired: { reply: 530, enhanced: "5.7.0", text: "Must issue a STARTTLS command first", fault: "user" },
  // RFC 4954 §6: for the submission roles.
  authRequired: { reply: 530, enhanced: "5.7.0", text: "Authentication required", fault: "user" },

  // --- envelope and message policy ---
  unknownUser: { reply: 550, enhanced: "5.1.1", text: "No such user here", fault: "user" },
  relayDenied: { reply: 554, enhanced: "5.7.1", text: "Relay access denied", fault: "user" },
  // RFC 3463 X.2.1: the mailbox exists but is disabled.
  mailboxDisabled: { reply: 550, enhanced: "5.2.1", text: "Mailbox disabled, not accepting messages", fault: "user" },
  // RFC 3463 X.4.6: an alias that expands only into a loop or past the expansion limits.
  aliasLoop: { reply: 550, enhanced: "5.4.6", text: "Routing loop detected in alias expansion", fault: "user" },
  policyRejected: { reply: 550, enhanced: "5.7.1", text: "Message rejected by policy", fault: "user" },
  policyTempfail: { reply: 451, enhanced: "4.7.1", text: "Try again later", fault: "user" },
  // A staged domain (src/accounts/staged.ts): RFC 3463 X.3.2 system not accepting network messages.
  domainNotLiveYet: { reply: 451, enhanced: "4.3.2", text: "This domain does not receive mail here yet", fault: "user" },
  // RFC 3463 X.4.3: a DNS failure a policy depended on (DMARC reject unverifiable); retry later.
  dnsTempfail: { reply: 451, enhanced: "4.4.3", text: "Temporary DNS failure, try again later", fault: "server" },
  overQuota: { reply: 452, enhanced: "4.2.2", text: "Mailbox full", fault: "user" },
  // RFC 5321 §4.5.3.1.10: beyond the limit, 452 and the client retries the rest later.
  tooManyRecipients: { reply: 452, enhanced: "4.5.3", text: "Too many recipients", fault: "user" },
  noValidRecipients: { reply: 554, enhanced: "5.5.1", text: "No valid recipients", fault: "user" },
  // RFC 1870 §6: SIZE beyond the fixed limit, at MAIL FROM or once the data has come in.
  messageTooBig: { reply: 552, enhanced: "5.3.4", text: "Message size exceeds fixed maximum message size", fault: "user" },
  // A BDAT chunk larger than the whole size limit: reading it just to stay in step would be
  // unbounded work, so the session ends instead.
  // RFC 3030 §2: after a 5xx to BDAT the client sends no more chunks of this message.
  tooManyChunks: { reply: 552, enhanced: "5.3.4", text: "Too many BDAT chunks for one message; send larger chunks", fault: "user" },
  chunkTooBig: { reply: 552, enhanced: "5.3.4", text: "Chunk exceeds fixed maximum message size, closing connection", fault: "user", close: true },
  // RFC 5321 §6.3: a loop is assumed beyond 50 Received fields (hop count).
  tooManyHops: { reply: 554, enhanced: "5.4.6", text: "Too many hops (Received headers), mail loop suspected", fault: "user" },
  // RFC 5321 §2.3.8 and §4.1.1.4: lines end with CRLF; see reader.ts and docs/smtp.md for the
  // policy (bare LF is normalized unless a server sets bareLineEndings "reject").
  bareLineEnding: { reply: 554, enhanced: "5.6.0", text: "Message contains a bare CR or LF; lines must end with CRLF (RFC 5321 section 2.3.8)", fault: "user" },
  bareCr: { reply: 554, enhanced: "5.6.0", text: "Message contains a bare CR (a CR not followed by LF); lines must end with CRLF (RFC 5321 section 2.3.8)", fault: "user" },
  nulInData: { reply: 554, enhanced: "5.6.0", text: "Message contains NUL characters; use BDAT with BODY=BINARYMIME for binary content", fault: "user" },
  // limits.textLineOctets (RFC 5321 §4.5.3.1.6's 1000, raised); the text names the limit in use.
  dataLineTooLong: { reply: 554, enhanced: "5.6.0", text: "Message has a line longer than the limit", fault: "user" },
  // RFC 3030 §3: BINARYMIME content can only be sent with BDAT.
  binaryNeedsBdat: { reply: 503, enhanced: "5.5.1", text: "BODY=BINARYMIME requires BDAT", fault: "user" },
  dataBdatMixed: { reply: 503, enhanced: "5.5.1", text: "DATA and BDAT cannot be mixed in one transaction", fault: "user" },

  // --- local faults: always 4xx (ARCHITECTURE.md "local faults answer 4xx, never 5xx") ---
  localError: { reply: 451, enhanced: "4.3.0", text: "Local error in processing, try again later", fault: "server" },
  storageFull: { reply: 452, enhanced: "4.3.1", text: "Insufficient system storage, try again later", fault: "server" },
  storeBusy: { reply: 451, enhanced: "4.3.0", text: "Storage temporarily busy, try again later", fault: "server" },
} as const satisfies Record<string, ErrorEntry>;

export type SmtpErrorCode = keyof typeof SMTP_ERRORS;

/** The only exception protocol handlers throw. `text` overrides the catalogue text. */
export class SmtpError extends Error {
  readonly code: SmtpErrorCode;
  readonly entry: ErrorEntry;
  readonly text: string;
  /** False when the reply must not count towards the session's error limit (recipient overshoot). */
  readonly counted: boolean;

  constructor(code: SmtpErrorCode, text?: string, options?: { cause?: unknown; counted?: boolean }) {
    const entry: ErrorEntry = SMTP_ERRORS[code];
    super(`${code}: ${text ?? entry.text}`, options);
    this.name = "SmtpError";
    this.code = code;
    this.entry = entry;
    this.text = text ?? entry.text;
    this.counted = options?.counted ?? true;
  }

  get fault(): Fault {
    return this.entry.fault;
  }

  get closes(): boolean {
    return this.entry.close === true;
  }

  toReply(): Reply {
    return reply(this.entry.reply, this.entry.enhanced, this.text);
  }
}

export function isSmtpError(e: unknown): e is SmtpError {
  return e instanceof SmtpError;
}

/**
 * Turns anything thrown into a catalogue error. A non-catalogue error is our bug or a local
 * fault (busy database, full disk): it becomes a 4xx so the sender retries, never a bounce.
 */
export function toSmtpError(e: unknown): SmtpError {
  if (e instanceof SmtpError) return e;
  const code = (e as { code?: unknown } | null)?.code;
  if (code === "ENOSPC" || code === "EDQUOT") return new SmtpError("storageFull", undefined, { cause: e });
  if (code === "SQLITE_BUSY" || code === "SQLITE_LOCKED" || code === "EBUSY") return new SmtpError("storeBusy", undefined, { cause: e });
  return new SmtpError("localError", undefined, { cause: e });
}
