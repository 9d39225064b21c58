// Trace header fields the MX adds per delivered copy. They are stored beside the blob
// (MessageRecord.traceHeaders), never written into it, so one blob serves every copy.
import type { QueueRecipientInsert } from "../store/types.ts";
import type { RcptParams } from "../smtp/params.ts";

/**
 * RFC 5321 §4.4: the server that makes the final delivery inserts a Return-Path line with the
 * envelope sender (`<>` for the null sender, so the reader sees it was a bounce). It goes on top
 * of every other trace field, as Postfix's local(8) and Dovecot's LDA write it.
 */
export function returnPathHeader(mailFrom: string): string {
  return `Return-Path: <${mailFrom}>\r\n`;
}

/**
 * One `Delivered-To:` per alias hop, the last hop on top, as Postfix's local(8) writes them: a
 * later forwarder that sees its own address here knows it is in a loop.
 */
export function deliveredToHeaders(hops: readonly string[]): string {
  let out = "";
  for (const h of hops) out = `Delivered-To: ${h}\r\n` + out;
  return out;
}

/**
 * Queue recipients for an alias's external targets. RFC 3461 §6.2.7: DSN parameters of the
 * original recipient travel with each address the alias expands to (ORCPT kept; NOTIFY kept).
 */
export function forwardRecipients(targets: readonly string[], params: RcptParams): QueueRecipientInsert[] {
  const orcpt = params.orcpt ? `${params.orcpt.addrType};${params.orcpt.address}` : undefined;
  const notify = params.notify === "NEVER" ? ["NEVER"] : params.notify ? [...params.notify] : undefined;
  return targets.map((recipient) => ({ recipient, ...(orcpt ? { orcpt } : {}), ...(notify ? { notify } : {}) }));
}
