// The session state as a discriminated union: each command's spec lists the phases it may run
// in, and the transitions below are the only way the phase changes.
//
//   start ──HELO/EHLO──► ready ──MAIL──► mail ──RCPT──► rcpt ──DATA──► data ──end──► ready
//                          ▲                              └──BDAT──► bdat ──BDAT LAST──► ready
//                          └──────── RSET, HELO/EHLO (RFC 5321 §4.1.4) ───────────────┘
//   STARTTLS: ready/start ──► start (RFC 3207 §4.2: all knowledge from before TLS is dropped)
import type { Mailbox } from "./address.ts";
import type { ContentInspector } from "./content.ts";
import type { MailParams } from "./params.ts";
import type { HeloInfo, MessageSink, Recipient } from "./types.ts";

export interface Transaction {
  readonly from: Mailbox | null;
  readonly params: MailParams;
  readonly recipients: Recipient[];
  /** RCPTs refused as over the recipient limit so far (limits.recipientOvershoot). */
  overshoot: number;
}

/** A BDAT transfer in progress (RFC 3030): the sink and the counts so far. */
export interface ChunkedBody {
  readonly sink: MessageSink;
  readonly inspector: ContentInspector;
  /** Chunks received so far. */
  chunks: number;
  /** When the first chunk's command was read (Date.now()), for the transaction's minimum rate. */
  readonly startedAt: number;
  /** Content octets received so far, over all chunks. */
  octets: number;
}

export type SessionState =
  | { readonly phase: "start" }
  | { readonly phase: "ready"; readonly helo: HeloInfo }
  | { readonly phase: "mail"; readonly helo: HeloInfo; readonly tx: Transaction }
  | { readonly phase: "rcpt"; readonly helo: HeloInfo; readonly tx: Transaction }
  | { readonly phase: "data"; readonly helo: HeloInfo; readonly tx: Transaction; readonly sink: MessageSink }
  | { readonly phase: "bdat"; readonly helo: HeloInfo; readonly tx: Transaction; readonly body: ChunkedBody };

export type Phase = SessionState["phase"];

export function initialState(): SessionState {
  return { phase: "start" };
}

/** The state after a transaction ends or is reset: HELO is kept, the envelope is not. */
export function afterTransaction(s: SessionState): SessionState {
  return s.phase === "start" ? s : { phase: "ready", helo: s.helo };
}

export function hasTransaction(s: SessionState): s is Extract<SessionState, { tx: Transaction }> {
  return s.phase === "mail" || s.phase === "rcpt" || s.phase === "data" || s.phase === "bdat";
}

/** The sink open in this state, if any (it must be aborted when the session ends). */
export function openSink(s: SessionState): MessageSink | undefined {
  if (s.phase === "data") return s.sink;
  if (s.phase === "bdat") return s.body.sink;
  return undefined;
}

/** RFC 5321 §4.1.4 / §3.3: the reply text when a command arrives in the wrong phase. */
export function sequenceText(verb: string, phase: Phase): string {
  if (phase === "start") return "Send HELO/EHLO first";
  if (phase === "bdat") return verb === "DATA" ? "DATA and BDAT cannot be mixed in one transaction" : "BDAT transfer in progress, send BDAT, RSET or QUIT";
  if (verb === "MAIL") return "Nested MAIL command";
  if (verb === "RCPT") return "Need MAIL command first";
  if (verb === "DATA") return phase === "ready" ? "Need MAIL command first" : "Need RCPT command first";
  if (verb === "STARTTLS") return "Mail transaction in progress";
  return "Bad sequence of commands";
}
