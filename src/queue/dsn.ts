// Delivery status notifications: the message the queue sends back about a recipient that
// failed, is delayed, or (when asked) was delivered or relayed.
//
// RFC 6522 multipart/report; report-type=delivery-status, with three parts:
//   1. text/plain for people,
//   2. message/delivery-status (RFC 3464 §2) for programs,
//   3. the returned content per RET (RFC 3461 §4.3): message/rfc822 or text/rfc822-headers.
// When an address or the returned message needs UTF-8 (RFC 6531), the RFC 6533 types are used
// instead (message/global-delivery-status, message/global, message/global-headers) and
// `requiresSmtpUtf8` tells the queue to send it only over SMTPUTF8.
//
// The DSN is sent with MAIL FROM:<> (RFC 3464 §2, RFC 5321 §4.5.5) and carries
// Auto-Submitted: auto-replied (RFC 3834 §5) so responders do not answer it.
// Who gets one at all is decided in dsn-policy.ts.
import { randomBytes, randomUUID } from "node:crypto";
import type { DsnAction } from "./dsn-policy.ts";

export type { DsnAction, DsnDecision, DsnDecisionInput } from "./dsn-policy.ts";
export { shouldSendDsn, successAction } from "./dsn-policy.ts";

export interface DsnRecipientReport {
  /** RFC 3461 §4.2 ORCPT as received: "rfc822;" + xtext. Reported decoded. */
  orcpt?: string;
  /** The address we tried to deliver to. */
  finalRecipient: string;
  action: DsnAction;
  /** RFC 3463 enhanced status, e.g. "5.1.1". */
  status: string;
  /** The host that answered (MX or relay), for Remote-MTA. */
  remoteMta?: string;
  /** The remote SMTP reply verbatim, one string per reply line ("550-5.1.1 ..."). */
  smtpReply?: readonly string[];
  lastAttemptDate?: number;
  /** For "delayed": when the queue gives up (schedule.ts expiresAt). */
  willRetryUntil?: number;
}

export interface DsnInput {
  /** Our host name (Reporting-MTA, the From address's domain). */
  reportingMta: string;
  /** Where the DSN goes: the original envelope sender, or the postmaster for a double bounce. */
  to: string;
  /** Defaults to "Mail Delivery System <MAILER-DAEMON@reportingMta>". */
  from?: string;
  /** The DSN's Date. */
  now: number;
  /** When the original entered our queue (Arrival-Date). */
  arrivalDate: number;
  /** RFC 3461 §4.4 ENVID as received (xtext); reported decoded as Original-Envelope-Id. */
  envid?: string;
  /** RFC 3461 §4.3 RET; see returnedContent for what happens without one. */
  ret?: "FULL" | "HDRS";
  recipients: readonly DsnRecipientReport[];
  /** The original message, header and body, as queued. */
  original: Buffer;
  /** Without angle brackets; generated when absent. */
  messageId?: string;
  /** Above this size a FULL return becomes headers only (default 1 MiB). */
  maxFullBytes?: number;
  /** The text for a double bounce differs a little. */
  toPostmaster?: boolean;
}

export interface ComposedDsn {
  /** Always "": RFC 5321 §4.5.5. */
  mailFrom: "";
  rcptTo: string;
  message: Buffer;
  /** The message has 8-bit content (send with BODY=8BITMIME). */
  eightBit: boolean;
  /** Needs SMTPUTF8 at the next hop (RFC 6533 types were used). */
  requiresSmtpUtf8: boolean;
  /** What was attached: "full", "headers" or nothing. */
  returned: "full" | "headers" | "none";
}

const CRLF = "\r\n";
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** RFC 5322 §3.3 date-time in UTC. */
export function rfc5322Date(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return (
    `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`
  );
}

/** RFC 3461 §4: xtext is "+" and two upper-case hex digits for anything outside 33..126 and "+" "=". */
export function decodeXtext(s: string): string {
  const bytes = Buffer.from(s.replace(/\+([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), "latin1");
  return bytes.toString("utf8");
}

// Nothing a remote server or a sender put in a field may end the field early or start a new
// one: CR, LF and other controls become spaces.
function clean(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]+/g, " ").trim();
}

const nonAscii = (s: string) => /[^\x00-\x7f]/.test(s);

function headerEnd(msg: Buffer): number {
  const crlf = msg.indexOf("\r\n\r\n");
  const lf = msg.indexOf("\n\n");
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return crlf + 4;
  if (lf >= 0) return lf + 2;
  return msg.length; // all header, no body
}

function originalHeader(msg: Buffer, name: string): string | undefined {
  const head = msg.subarray(0, headerEnd(msg)).toString("latin1").replace(/\r?\n[ \t]+/g, " ");
  const m = new RegExp(`^${name}:[ \\t]*(.*)$`, "im").exec(head);
  return m ? m[1].trim() : undefined;
}

/**
 * What goes in the third part. RET speaks of failed DSNs (RFC 3461 §4.3: "whether or not the
 * message should be included in any failed DSN"); without RET the MTA may choose, and we return
 * the full message for failures (the sender may have no copy) and headers only for delay and
 * success reports, as Postfix does. Huge messages come back as headers only.
 */
export function returnedContent(input: Pick<DsnInput, "ret" | "recipients" | "original" | "maxFullBytes">): "full" | "headers" {
  const failed = input.recipients.some((r) => r.action === "failed");
  const want = failed ? (input.ret ?? "FULL") : "HDRS";
  if (want === "FULL" && input.original.length <= (input.maxFullBytes ?? 1024 * 1024)) return "full";
  return "headers";
}

function subjectFor(recipients: readonly DsnRecipientReport[], toPostmaster: boolean): string {
  const has = (a: DsnAction) => recipients.some((r) => r.action === a);
  if (toPostmaster) return "Undeliverable bounce (postmaster notice)";
  if (has("failed")) return "Undelivered Mail Returned to Sender";
  if (has("delayed")) return "Delayed Mail (still being retried)";
  if (has("relayed")) return "Mail Relayed (no further notifications)";
  if (has("expanded")) return "Mail Delivered to a List (expanded)";
  return "Successful Mail Delivery Report";
}

function humanText(input: DsnInput, returned: "full" | "headers", fullWanted: boolean): string {
  const lines: string[] = [`This is the mail system at ${input.reportingMta}.`, ""];
  if (input.toPostmaster) {
    lines.push("A delivery status notification could not be delivered to its recipient.", "");
  }
  const groups: [DsnAction, string][] = [
    ["failed", "Your message could not be delivered to the following recipients:"],
    ["delayed", "Your message has not been delivered yet to the following recipients. The mail system will keep trying; you need not send it again."],
    ["delivered", "Your message was delivered to the following recipients:"],
    ["relayed", "Your message was passed on to a system that does not report delivery; no further notices will follow for:"],
    ["expanded", "Your message was delivered to a list or alias and passed on to its members:"],
  ];
  for (const [action, intro] of groups) {
    const rs = input.recipients.filter((r) => r.action === action);
    if (rs.length === 0) continue;
    lines.push(intro, "");
    for (const r of rs) {
      lines.push(`  <${r.finalRecipient}>`);
      if (r.smtpReply?.length) {
        lines.push(`    ${r.remoteMta ? `${r.remoteMta} said:` : "The remote server said:"}`);
        for (const l of r.smtpReply) lines.push(`    ${clean(l)}`);
      } else {
        lines.push(`    Status ${r.status}`);
      }
      if (action === "delayed" && r.willRetryUntil) lines.push(`    Will retry until ${rfc5322Date(r.willRetryUntil)}`);
    }
    lines.push("");
  }
  if (fullWanted && returned === "headers") {
    lines.push("The message was too large to return in full; its header is attached.", "");
  }
  return lines.join(CRLF);
}

function deliveryStatus(input: DsnInput, utf8: boolean): string {
  // RFC 6533 §3: the "utf-8" address type, only within message/global-delivery-status.
  const addrType = utf8 ? "utf-8" : "rfc822";
  const fields: string[] = [];
  // RFC 3464 §2.2: per-message fields.
  // RFC 3461 §4.4: the ENVID is printable US-ASCII once decoded; anything else is replaced so
  // the 7bit part stays 7bit.
  if (input.envid !== undefined) fields.push(`Original-Envelope-Id: ${clean(decodeXtext(input.envid)).replace(/[^\x20-\x7e]/g, "?")}`);
  fields.push(`Reporting-MTA: dns; ${clean(input.reportingMta)}`);
  fields.push(`Arrival-Date: ${rfc5322Date(input.arrivalDate)}`);
  const blocks = [fields.join(CRLF)];
  // RFC 3464 §2.3: one block of per-recipient fields each, separated by a blank line.
  for (const r of input.recipients) {
    const f: string[] = [];
    if (r.orcpt) {
      // RFC 3461 §4.2: "addr-type ; xtext". The type is kept as given.
      const semi = r.orcpt.indexOf(";");
      const type = semi > 0 ? r.orcpt.slice(0, semi).trim() : "rfc822";
      const addr = clean(decodeXtext(semi > 0 ? r.orcpt.slice(semi + 1) : r.orcpt));
      f.push(`Original-Recipient: ${utf8 && type.toLowerCase() === "rfc822" ? "utf-8" : type};${addr}`);
    }
    f.push(`Final-Recipient: ${addrType};${clean(r.finalRecipient)}`);
    f.push(`Action: ${r.action}`);
    f.push(`Status: ${clean(r.status)}`);
    if (r.remoteMta) f.push(`Remote-MTA: dns; ${clean(r.remoteMta)}`);
    if (r.smtpReply?.length) {
      // RFC 3464 §2.3.6: the reply verbatim. A multi-line reply is folded, one reply line per
      // physical line; unfolding joins them with a space, as Postfix writes them.
      const replyLines = r.smtpReply.map((l) => (utf8 ? clean(l) : clean(l).replace(/[^\x20-\x7e]/g, "?")));
      f.push(`Diagnostic-Code: smtp; ${replyLines.join(`${CRLF} `)}`);
    }
    if (r.lastAttemptDate !== undefined) f.push(`Last-Attempt-Date: ${rfc5322Date(r.lastAttemptDate)}`);
    if (r.action === "delayed" && r.willRetryUntil !== undefined) {
      f.push(`Will-Retry-Until: ${rfc5322Date(r.willRetryUntil)}`);
    }
    blocks.push(f.join(CRLF));
  }
  return blocks.join(CRLF + CRLF) + CRLF;
}

function base64Lines(s: string): string {
  return (Buffer.from(s, "utf8").toString("base64").match(/.{1,76}/g) ?? []).join(CRLF);
}

/** Composes the DSN message. Pure except for the random boundary and Message-ID. */
export function composeDsn(input: DsnInput): ComposedDsn {
  if (input.recipients.length === 0) throw new Error("a DSN needs at least one recipient");
  const returned = returnedContent(input);
  const fullWanted = input.recipients.some((r) => r.action === "failed") && (input.ret ?? "FULL") === "FULL";
  const head = input.original.subarray(0, headerEnd(input.original));
  const attached = returned === "full" ? input.original : head;
  const attachedText = attached.toString("latin1");
  const attachedUtf8 = nonAscii(attachedText);
  // RFC 6533: UTF-8 addresses cannot be written in message/delivery-status.
  const addrUtf8 = input.recipients.some((r) => nonAscii(r.finalRecipient) || nonAscii(decodeXtext(r.orcpt ?? ""))) || nonAscii(input.to);
  // RFC 6532 headers in the returned message need message/global or message/global-headers.
  const headUtf8 = nonAscii(head.toString("latin1"));
  const utf8 = addrUtf8 || headUtf8;

  const text = humanText(input, returned, fullWanted);
  const status = deliveryStatus(input, utf8);
  const from = input.from ?? `Mail Delivery System <MAILER-DAEMON@${input.reportingMta}>`;
  const messageId = input.messageId ?? `${randomUUID()}@${input.reportingMta}`;
  const origId = originalHeader(input.original, "Message-ID");

  let boundary = "";
  do boundary = `=_dsn_${randomBytes(12).toString("hex")}`;
  while (attachedText.includes(boundary) || status.includes(boundary));

  const h: string[] = [
    `From: ${from}`,
    `To: <${input.to}>`,
    `Subject: ${subjectFor(input.recipients, input.toPostmaster ?? false)}`,
    `Date: ${rfc5322Date(input.now)}`,
    `Message-ID: <${messageId}>`,
  ];
  // RFC 3834 §3.1.5: thread the report with the message it is about.
  if (origId && /^<[^<>\s]+>$/.test(origId)) h.push(`In-Reply-To: ${origId}`, `References: ${origId}`);
  h.push(
    "Auto-Submitted: auto-replied",
    "MIME-Version: 1.0",
    `Content-Type: multipart/report; report-type=delivery-status;${CRLF} boundary="${boundary}"`,
  );

  // The first two parts; the returned content is appended as bytes below.
  const parts: string[] = [];
  const textAscii = !nonAscii(text);
  parts.push(
    [
      `Content-Type: text/plain; charset=${textAscii ? "us-ascii" : "utf-8"}`,
      `Content-Transfer-Encoding: ${textAscii ? "7bit" : "base64"}`,
      "",
      textAscii ? text : base64Lines(text),
    ].join(CRLF),
  );
  parts.push(
    [
      `Content-Type: ${utf8 ? "message/global-delivery-status" : "message/delivery-status"}`,
      `Content-Transfer-Encoding: ${utf8 ? "8bit" : "7bit"}`,
      "",
      status,
    ].join(CRLF),
  );
  // RFC 2046 §5.2.1: message/* may only be 7bit, 8bit or binary: 8-bit originals make the whole
  // DSN 8-bit (the queue then needs 8BITMIME at the next hop, as the original did).
  const cte = attachedUtf8 ? "8bit" : "7bit";
  const partType =
    returned === "full" ? (headUtf8 ? "message/global" : "message/rfc822") : headUtf8 ? "message/global-headers" : "text/rfc822-headers";
  // The attached original goes in as its own bytes; everything we write is UTF-8 (ASCII
  // unless an RFC 6533 form was chosen).
  const chunks: Buffer[] = [];
  const put = (s: string) => chunks.push(Buffer.from(s, "utf8"));
  put(h.join(CRLF) + CRLF + CRLF + "This is a MIME-encapsulated delivery status notification." + CRLF);
  for (const p of parts) put(CRLF + `--${boundary}` + CRLF + p);
  put(CRLF + `--${boundary}` + CRLF);
  put([`Content-Type: ${partType}`, `Content-Transfer-Encoding: ${cte}`, "", ""].join(CRLF));
  chunks.push(attached);
  // The closing delimiter must start on its own line (RFC 2046 §5.1.1).
  if (!attachedText.endsWith("\n")) put(CRLF);
  put(`--${boundary}--${CRLF}`);

  return {
    mailFrom: "",
    rcptTo: input.to,
    message: Buffer.concat(chunks),
    eightBit: attachedUtf8 || utf8,
    requiresSmtpUtf8: utf8,
    returned,
  };
}
