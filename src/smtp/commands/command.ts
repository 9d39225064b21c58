// What a command is: a verb, the phases it may run in, an argument parser and a handler
// (STYLE.md §2). The table in index.ts lists them; connection.ts dispatches through it.
import { SmtpError } from "../errors.ts";
import type { Logger } from "../../log/logger.ts";
import type { Clock } from "../../clock.ts";
import type { ReaderEvent, SmtpReader } from "../reader.ts";
import type { Reply } from "../reply.ts";
import type { Phase, SessionState } from "../session-state.ts";
import type { ListenerRole, SessionInfo, SmtpExtension, SmtpHandler, TlsInfo } from "../types.ts";
import type { SmtpLimits } from "../limits.ts";

/** The features a listener offers, derived from its options. */
export interface ListenerFeatures {
  readonly role: ListenerRole;
  /** STARTTLS can be offered (a context exists and the mode is "starttls"). */
  readonly startTls: boolean;
  readonly binaryMime: boolean;
  readonly smtputf8: boolean;
  readonly dsn: boolean;
  /** DATA with bare LF: "normalize" to CRLF (Postfix 3.9's default) or "reject" with 554. */
  readonly bareLineEndings: "normalize" | "reject";
  /** MAIL FROM/RCPT TO paths must be in angle brackets (Postfix strict_rfc821_envelopes). */
  readonly strictEnvelopes: boolean;
}

/** The session as commands see it: the state plus the mutable parts of SessionInfo. */
export interface Session {
  state: SessionState;
  readonly info: MutableSessionInfo;
}

export type MutableSessionInfo = { -readonly [K in keyof SessionInfo]: SessionInfo[K] };

export interface CommandContext {
  readonly session: Session;
  readonly handler: SmtpHandler;
  readonly limits: SmtpLimits;
  readonly features: ListenerFeatures;
  readonly extensions: readonly SmtpExtension[];
  readonly log: Logger;
  readonly clock: Clock;
  readonly reader: SmtpReader;
  /** The verbs in the table, for HELP. */
  readonly verbs: readonly string[];
  /** Queue a reply; replies go out in order, batched until the server would wait for input. */
  send(r: Reply): void;
  /** Write queued replies now (before a TLS handshake, for instance). */
  flush(): Promise<void>;
  /** The next framed input, waiting (with the timeout) when none is buffered. */
  nextEvent(): Promise<ReaderEvent>;
  /**
   * The next line, for exchanges inside one command (RFC 4954 SASL continuations). A line over
   * the reader's limit throws lineTooLong. The line is not logged.
   */
  readLine(): Promise<string>;
  /** Input already received beyond what has been framed (pipelining checks). */
  pendingInput(): number;
  /** Upgrade the connection to TLS (STARTTLS); resolves with the negotiated parameters. */
  startTls(): Promise<TlsInfo>;
  /** Close the connection after the queued replies are written. */
  close(): void;
}

export interface CommandSpec<A = unknown> {
  readonly verb: string;
  /** The phases it may run in; elsewhere it gets 503 5.5.1 (session-state.ts sequenceText). */
  readonly phases: readonly Phase[];
  /** Listener roles that have the command; all when absent (LHLO is LMTP only, for example). */
  readonly roles?: readonly ListenerRole[];
  /**
   * Octets the command line may have beyond 512 (RFC 5321 §4.5.3.1.4 lets extensions raise
   * the limit: RFC 1870 SIZE +26, RFC 3461 DSN +100 on MAIL and +500 on RCPT).
   */
  readonly extraLineOctets?: number;
  /** Arguments are secret (AUTH): never logged. */
  readonly sensitive?: boolean;
  /** Parse the argument text (everything after the verb and one space); throw SmtpError. */
  parse(args: string, ctx: CommandContext): A;
  handle(ctx: CommandContext, args: A): Promise<void>;
}

/** Keeps the argument type checked inside a spec while the table holds specs of any type. */
export function defineCommand<A>(spec: CommandSpec<A>): CommandSpec {
  return spec as unknown as CommandSpec;
}

/** For commands that take no argument (RFC 5321 §4.1.1: e.g. "RSET" CRLF). */
export function noArgs(args: string): void {
  if (args.trim() !== "") throwNoArgs();
}

function throwNoArgs(): never {
  throw new SmtpError("badArguments", "This command takes no arguments");
}
