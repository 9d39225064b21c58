// Delivery status notifications received (RFC 3464): a multipart/report with
// report-type=delivery-status (RFC 6522 §3) whose second part, message/delivery-status
// (RFC 3464 §2.1; message/global-delivery-status, RFC 6533 §6, is read the same way), holds one
// block of per-message fields and, after blank lines, one block per recipient (§2.3:
// Final-Recipient, Action, Status, Diagnostic-Code …); the third part is the returned message
// (message/rfc822) or its header (text/rfc822-headers), which gives the Message-ID we check
// against what we sent (dsn-job.ts). Pure: bytes in, the report out (null when not a DSN).
import { indexMessage } from "../mail/structure.ts";
import type { MimePart } from "../mail/structure.ts";
import { messageIdOf } from "../trace/message-id.ts";

export interface DsnRecipient {
  /** Final-Recipient's address (RFC 3464 §2.3.2, address-type rfc822 or utf-8), lower case. */
  finalRecipient: string;
  originalRecipient: string | null;
  /** §2.3.3: failed, delayed, delivered, relayed, expanded (lower case). */
  action: string;
  /** §2.3.4: the RFC 3463 status code, e.g. 5.1.1. */
  status: string;
  diagnostic: string | null;
  remoteMta: string | null;
}

export interface DsnReport {
  reportingMta: string | null;
  recipients: DsnRecipient[];
  /** The returned message's Message-ID (with angle brackets), when included. */
  originalMessageId: string | null;
}

const ctIs = (p: MimePart, type: string, sub: string) => p.contentType?.type.toLowerCase() === type && p.contentType?.subtype.toLowerCase() === sub;

function walk(p: MimePart, fn: (p: MimePart) => void): void {
  fn(p);
  for (const c of p.children) walk(c, fn);
}

/** The blocks of header-style fields of a delivery-status body (§2.1), unfolded, keys lower case. */
export function statusBlocks(text: string): Array<Map<string, string>> {
  const blocks: Array<Map<string, string>> = [];
  let cur: Map<string, string> | null = null;
  let lastKey: string | null = null;
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === "") {
      cur = null;
      lastKey = null;
      continue;
    }
    if (/^[ \t]/.test(line) && cur && lastKey) {
      cur.set(lastKey, `${cur.get(lastKey)} ${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    if (!cur) {
      cur = new Map();
      blocks.push(cur);
    }
    lastKey = line.slice(0, colon).trim().toLowerCase();
    // A repeated field keeps its first value (§2.3: each appears at most once per block).
    if (!cur.has(lastKey)) cur.set(lastKey, line.slice(colon + 1).trim());
  }
  return blocks;
}

/** "rfc822; <User@Example.com>" → "user@example.com" (RFC 3464 §2.3.2, RFC 6533 §3 utf-8). */
function typedAddress(v: string | undefined): string | null {
  if (!v) return null;
  const semi = v.indexOf(";");
  const type = semi < 0 ? "rfc822" : v.slice(0, semi).trim().toLowerCase();
  if (type !== "rfc822" && type !== "utf-8") return null;
  const a = (semi < 0 ? v : v.slice(semi + 1)).trim().replace(/^<(.*)>$/, "$1").trim().toLowerCase();
  return a.includes("@") ? a : null;
}

export function parseDsn(buf: Buffer): DsnReport | null {
  let root: MimePart;
  try {
    root = indexMessage(buf).root;
  } catch {
    return null;
  }
  if (!ctIs(root, "multipart", "report")) return null;
  const reportType = root.contentType?.params.find(([n]) => n.toLowerCase() === "report-type")?.[1].toLowerCase();
  if (reportType !== "delivery-status" && reportType !== "global-delivery-status") return null;
  let ds: MimePart | null = null;
  let orig: string | null = null;
  walk(root, (p) => {
    if (!ds && (ctIs(p, "message", "delivery-status") || ctIs(p, "message", "global-delivery-status"))) ds = p;
    if (orig === null && (ctIs(p, "message", "rfc822") || ctIs(p, "message", "global"))) {
      const inner = p.children[0];
      orig = inner ? buf.subarray(inner.headerStart, inner.headerEnd).toString("latin1") : buf.subarray(p.bodyStart, p.bodyEnd).toString("latin1");
    }
    if (orig === null && (ctIs(p, "text", "rfc822-headers") || ctIs(p, "message", "global-headers"))) orig = buf.subarray(p.bodyStart, p.bodyEnd).toString("latin1");
  });
  if (!ds) return null;
  const part = ds as MimePart;
  const blocks = statusBlocks(buf.subarray(part.bodyStart, part.bodyEnd).toString("utf8"));
  if (blocks.length === 0) return null;
  const perMessage = blocks[0].has("final-recipient") ? new Map<string, string>() : blocks[0];
  const recipients: DsnRecipient[] = [];
  for (const b of blocks) {
    const finalRecipient = typedAddress(b.get("final-recipient"));
    const action = (b.get("action") ?? "").toLowerCase().split(/[\s(]/)[0];
    const status = /^\d\.\d{1,3}\.\d{1,3}/.exec(b.get("status") ?? "")?.[0];
    if (!finalRecipient || !action || !status) continue; // §2.3: all three required
    const mta = b.get("remote-mta");
    recipients.push({
      finalRecipient,
      originalRecipient: typedAddress(b.get("original-recipient")),
      action,
      status,
      diagnostic: b.get("diagnostic-code")?.replace(/^[^;]*;\s*/, "") ?? null,
      remoteMta: mta ? mta.replace(/^[^;]*;\s*/, "") : null,
    });
  }
  const rm = perMessage.get("reporting-mta");
  return { reportingMta: rm ? rm.replace(/^[^;]*;\s*/, "") : null, recipients, originalMessageId: orig !== null ? messageIdOf(orig) : null };
}
