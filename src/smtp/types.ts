// The interface between the SMTP protocol core and the rest of Freehold. The core owns the wire
// (framing, states, replies, limits); an SmtpHandler owns policy and storage: who may connect,
// which recipients exist, where the bytes go. Handlers throw SmtpError (errors.ts) to refuse;
// anything else they throw is treated as a local fault and answered with a 4xx.
import type { Mailbox } from "./address.ts";
import type { ContentStats } from "./content.ts";
import type { MailParams, RcptParams, RawParam } from "./params.ts";
import type { Reply } from "./reply.ts";
import type { CommandSpec } from "./commands/command.ts";

/** What a listener is for. Policy looks at this, never at port numbers (STYLE.md §7). */
export type ListenerRole = "mx" | "submission" | "submissions" | "lmtp";
export type TlsMode = "implicit" | "starttls" | "none";

export interface TlsInfo {
  /** e.g. "TLSv1.3" */
  readonly protocol: string;
  /** OpenSSL/IANA cipher name, e.g. "TLS_AES_256_GCM_SHA384". */
  readonly cipher: string;
}

export interface HeloInfo {
  readonly verb: "HELO" | "EHLO" | "LHLO";
  /** The argument as sent (a domain or an address literal). */
  readonly name: string;
}

/** What handlers may read about a session. The core updates it; handlers must not. */
export interface SessionInfo {
  /** Connection id, also on every log line (`cid`). */
  readonly cid: string;
  readonly role: ListenerRole;
  readonly listenerName: string;
  /** Our host name, as used in the greeting and in Received headers. */
  readonly serverName: string;
  /** The peer's IP address, IPv4-mapped IPv6 unwrapped. */
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** The verified reverse DNS name, when connect() supplied one (Received header). */
  readonly remoteName?: string;
  readonly helo?: HeloInfo;
  /** Present once TLS is active (implicit or after STARTTLS). */
  readonly tls?: TlsInfo;
  /** Set by an AUTH extension (submission). */
  readonly authUser?: string;
  /** The current transaction used SMTPUTF8 (RFC 6531), for the Received `with` keyword. */
  readonly smtputf8: boolean;
  /** "passed": the greeting was held for the pregreet test and the client waited (spam signal). */
  readonly pregreet?: "passed";
  /** Per-session storage for the handler and extensions; the core never reads it. */
  readonly locals: Map<string, unknown>;
}

export interface Recipient {
  readonly mailbox: Mailbox;
  /** RCPT TO:<Postmaster> with no domain (RFC 5321 §4.1.1.3). */
  readonly postmaster: boolean;
  readonly params: RcptParams;
  /** Whatever rcptTo() returned (e.g. the resolved account), kept for data(). */
  readonly resolved: unknown;
}

export interface Envelope {
  /** null is the null reverse-path "<>" (bounces, RFC 5321 §4.5.5). */
  readonly mailFrom: Mailbox | null;
  readonly mailParams: MailParams;
  readonly recipients: readonly Recipient[];
  readonly transport: "DATA" | "BDAT";
}

export interface EndInfo {
  /** Counts taken while the content streamed: size, Received fields, bare CR/LF, NUL... */
  readonly stats: ContentStats;
  /** Received: fields in the header section (the hop count, RFC 5321 §6.3). */
  readonly receivedCount: number;
  /** Bare LFs in DATA that were written to the sink as CRLF (bareLineEndings "normalize"). */
  readonly bareLfNormalized: number;
  /** The client sent a bare line ending that the message was accepted with (normalized LF, or BDAT). */
  readonly bareLineEnding: boolean;
  /** The Received header field we would prepend, CRLF-terminated (RFC 5321 §4.4). */
  readonly receivedHeader: string;
}

/**
 * Where message bytes go. The core calls write() for every piece of content in order (DATA after
 * dot-unstuffing, or the BDAT chunks concatenated, byte for byte) and awaits each call, so a slow
 * sink slows the client down (back-pressure). Exactly one of end() or abort() is called, once.
 */
export interface MessageSink {
  write(chunk: Uint8Array): Promise<void>;
  /**
   * The message is complete and passed the core's checks. Resolve with the reply to send:
   * "250 2.0.0 queued as X" only once the message is durable. LMTP returns one reply per
   * recipient, in recipient order (RFC 2033 §4.2). Throw SmtpError to refuse the message.
   */
  end(info: EndInfo): Promise<Reply | readonly Reply[]>;
  /** The message will not be delivered (client vanished, timeout, policy, size): drop it. */
  abort(reason: string): Promise<void>;
}

export interface ConnectResult {
  /** A verified reverse DNS name for Received headers. */
  readonly remoteName?: string;
}

export interface SmtpHandler {
  /** A new connection, before the greeting. Throw SmtpError to refuse (e.g. a DNSBL hit). */
  connect?(session: SessionInfo): Promise<ConnectResult | void>;
  /** After HELO/EHLO/LHLO syntax checks. */
  helo?(session: SessionInfo, helo: HeloInfo): Promise<void>;
  /** MAIL FROM accepted by the core (syntax, SIZE). */
  mailFrom(session: SessionInfo, from: Mailbox | null, params: MailParams): Promise<void>;
  /**
   * RCPT TO accepted by the core. Return a value to keep with the recipient (resolved account),
   * or throw: unknownUser (550 5.1.1), relayDenied (554 5.7.1), overQuota (452 4.2.2)...
   * `Postmaster` without a domain arrives with `postmaster: true` and must be accepted.
   */
  rcptTo(session: SessionInfo, to: Mailbox, params: RcptParams, info: { postmaster: boolean; envelope: Envelope }): Promise<unknown>;
  /** At DATA (before 354) or the first BDAT: where the bytes go. */
  data(session: SessionInfo, envelope: Envelope): Promise<MessageSink>;
  /** The transaction ended without delivery (RSET, new HELO, STARTTLS, MAIL error). */
  reset?(session: SessionInfo): void;
  /** The connection closed, for whatever reason. */
  close?(session: SessionInfo): void;
}

/**
 * A way to add to the protocol without touching the core: AUTH for submission is the first
 * user (RFC 4954: an EHLO keyword, a command, and the AUTH= MAIL parameter).
 */
export interface SmtpExtension {
  readonly name: string;
  /** EHLO keywords to add for this session (e.g. "AUTH PLAIN LOGIN" only once TLS is on). */
  ehloKeywords?(session: SessionInfo): readonly string[];
  /** Extra commands for the table. */
  readonly commands?: readonly CommandSpec[];
  /** Claim a MAIL parameter the core does not know (return true to accept it). */
  claimMailParam?(session: SessionInfo, param: RawParam): boolean;
  claimRcptParam?(session: SessionInfo, param: RawParam): boolean;
  /**
   * Called before MAIL FROM is processed: throw to refuse (e.g. authRequired on submission when
   * the session has not authenticated).
   */
  beforeMail?(session: SessionInfo): void;
}
