// Feedback-loop complaints in the Abuse Reporting Format (ARF, RFC 5965): a multipart/report
// with report-type=feedback-report (§2) whose second part, message/feedback-report (§3), holds
// header-style fields (Feedback-Type, Original-Mail-From, Original-Rcpt-To, Source-IP, …) and
// whose third part is the original message (message/rfc822) or its header (text/rfc822-headers).
// Mailbox providers (Yahoo/AOL, Microsoft JMRP, Comcast…) send one when a user presses "this is
// spam"; they often redact the recipient (RFC 6590), so the complainer is taken from the first
// of: Original-Rcpt-To, Removal-Recipient, the original message's To when it names one address.
// Pure: bytes in, the report out (null when the message is not an ARF report).
import { indexMessage } from "../mail/structure.ts";
import type { MimePart } from "../mail/structure.ts";
import { fieldValue, parseHeaderFields } from "../mail/header.ts";
import { flattenMailboxes, parseAddressList } from "../mail/address.ts";

export interface FeedbackReport {
  /** RFC 5965 §3.1 / §7.3: abuse, fraud, virus, not-spam, auth-failure, other … (lower case). */
  feedbackType: string;
  userAgent: string | null;
  /** The original envelope sender (angle brackets removed), when reported. */
  originalMailFrom: string | null;
  /** Every Original-Rcpt-To (RFC 5965 §3.2, may repeat). */
  originalRcptTo: string[];
  removalRecipients: string[];
  sourceIp: string | null;
  arrivalDate: string | null;
  reportedDomains: string[];
  /** The original message's From address, To addresses and Message-ID, when included. */
  original: { from: string | null; to: string[]; messageId: string | null } | null;
  /** Who complained, lower case; null when the report redacts it everywhere. */
  complainer: string | null;
  /** The domain the complaint is about (ours): Original-Mail-From's, else the original From's. */
  senderDomain: string | null;
}

const unbracket = (s: string) => s.trim().replace(/^<(.*)>$/, "$1").trim();

function fields(buf: Buffer, start: number, end: number): Array<[string, string]> {
  return parseHeaderFields(buf, start, end)
    .filter((f) => f.colon)
    .map((f) => [f.key, fieldValue(buf, f).toString("utf8").trim()] as [string, string]);
}

function addrs(value: string): string[] {
  try {
    return flattenMailboxes(parseAddressList(value))
      .filter((m) => m.local && m.domain)
      .map((m) => `${m.local}@${m.domain}`.toLowerCase());
  } catch {
    return [];
  }
}

const domainOf = (a: string | null) => (a && a.includes("@") ? a.slice(a.lastIndexOf("@") + 1).toLowerCase() : null);

function walk(p: MimePart, fn: (p: MimePart) => void): void {
  fn(p);
  for (const c of p.children) walk(c, fn);
}

const ctIs = (p: MimePart, type: string, sub: string) => p.contentType?.type.toLowerCase() === type && p.contentType?.subtype.toLowerCase() === sub;

export function parseFeedbackReport(buf: Buffer): FeedbackReport | null {
  const idx = indexMessage(buf);
  const root = idx.root;
  if (!ctIs(root, "multipart", "report")) return null;
  const reportType = root.contentType?.params.find(([n]) => n.toLowerCase() === "report-type")?.[1].toLowerCase();
  if (reportType !== "feedback-report") return null;
  let fb: MimePart | null = null;
  let orig: { buf: Buffer; start: number; end: number } | null = null;
  walk(root, (p) => {
    if (!fb && ctIs(p, "message", "feedback-report")) fb = p;
    if (!orig && ctIs(p, "message", "rfc822")) {
      const inner = p.children[0];
      orig = inner ? { buf, start: inner.headerStart, end: inner.headerEnd } : { buf, start: p.bodyStart, end: p.bodyEnd };
    }
    if (!orig && ctIs(p, "text", "rfc822-headers")) orig = { buf, start: p.bodyStart, end: p.bodyEnd };
  });
  if (!fb) return null;
  const f = fields(buf, (fb as MimePart).bodyStart, (fb as MimePart).bodyEnd);
  const all = (k: string) => f.filter(([n]) => n === k).map(([, v]) => v);
  const one = (k: string) => all(k)[0] ?? null;
  const feedbackType = (one("feedback-type") ?? "").toLowerCase();
  if (!feedbackType) return null; // RFC 5965 §3.1: required
  let original: FeedbackReport["original"] = null;
  if (orig) {
    const o = orig as { buf: Buffer; start: number; end: number };
    const of = fields(o.buf, o.start, o.end);
    const get = (k: string) => of.find(([n]) => n === k)?.[1] ?? null;
    const from = get("from");
    original = { from: from ? (addrs(from)[0] ?? null) : null, to: addrs(get("to") ?? ""), messageId: get("message-id") };
  }
  const originalMailFrom = one("original-mail-from") ? unbracket(one("original-mail-from")!) : null;
  const originalRcptTo = all("original-rcpt-to").map(unbracket).filter(Boolean).map((a) => a.toLowerCase());
  const removalRecipients = all("removal-recipient").map(unbracket).filter(Boolean).map((a) => a.toLowerCase());
  const complainer = originalRcptTo[0] ?? removalRecipients[0] ?? (original && original.to.length === 1 ? original.to[0] : null);
  return {
    feedbackType,
    userAgent: one("user-agent"),
    originalMailFrom: originalMailFrom || null,
    originalRcptTo,
    removalRecipients,
    sourceIp: one("source-ip"),
    arrivalDate: one("arrival-date"),
    reportedDomains: all("reported-domain").map((d) => d.toLowerCase()),
    original,
    complainer: complainer && complainer.includes("@") ? complainer : null,
    senderDomain: domainOf(originalMailFrom) ?? domainOf(original?.from ?? null),
  };
}
