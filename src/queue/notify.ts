// Sending the DSNs the runner decides on: composed by dsn.ts, sent from <> (RFC 5321 §4.5.5),
// delivered into the sender's INBOX when the sender is local, else queued (origin "dsn").
// Double bounces (a failed message from <>) go to the postmaster, queued with origin
// "postmaster-notice" so that if that fails too it is dropped (dsn-policy.ts), never looped.
import type { Logger } from "../log/logger.ts";
import type { QueueRecord } from "../store/types.ts";
import { composeDsn, shouldSendDsn } from "./dsn.ts";
import type { DsnAction, DsnRecipientReport } from "./dsn.ts";
import { deliverLocally } from "./local-delivery.ts";
import type { LocalDeliveryDeps } from "./local-delivery.ts";

export interface NotifyDeps extends LocalDeliveryDeps {
  logger: Logger;
  /** Reporting-MTA and the From domain of DSNs. */
  hostname: string;
}

export interface DsnEvent {
  report: DsnRecipientReport;
  notify: string[] | null;
}

/** Header value of Auto-Submitted in the original (RFC 3834 §5), if any. */
export function autoSubmittedOf(content: Buffer): string | null {
  const end = content.indexOf("\r\n\r\n");
  const head = content.subarray(0, end < 0 ? content.length : end).toString("latin1").replace(/\r?\n[ \t]+/g, " ");
  return /^auto-submitted:[ \t]*(.*)$/im.exec(head)?.[1].trim() ?? null;
}

/**
 * Sends one DSN per action (and per destination: sender or postmaster) for `events` about
 * entry `q`, whose message as sent is `content`. Returns how many DSNs went out.
 */
export async function sendDsns(deps: NotifyDeps, q: QueueRecord, content: Buffer, events: DsnEvent[], now: number, willRetryUntil?: number): Promise<number> {
  const auto = autoSubmittedOf(content);
  const byKey = new Map<string, { to: "sender" | "postmaster"; reports: DsnRecipientReport[] }>();
  for (const e of events) {
    const d = shouldSendDsn({
      mailFrom: q.mailFrom,
      notify: e.notify ?? undefined,
      action: e.report.action,
      autoSubmitted: auto,
      isPostmasterNotice: q.origin === "postmaster-notice",
    });
    if (!d.send) {
      deps.logger.info({ queueId: q.id, rcpt: e.report.finalRecipient, action: e.report.action, reason: d.reason }, "no DSN");
      continue;
    }
    const key = `${d.to}/${e.report.action}`;
    const g = byKey.get(key) ?? { to: d.to, reports: [] };
    g.reports.push({ ...e.report, ...(e.report.action === "delayed" && willRetryUntil ? { willRetryUntil } : {}) });
    byKey.set(key, g);
  }
  let sent = 0;
  for (const g of byKey.values()) {
    const to = g.to === "postmaster" ? "postmaster" : q.mailFrom;
    const dsn = composeDsn({
      reportingMta: deps.hostname,
      to: to === "postmaster" ? `postmaster@${deps.hostname}` : to,
      now,
      arrivalDate: q.createdAt,
      envid: q.envid ?? undefined,
      ret: q.ret ?? undefined,
      recipients: g.reports,
      original: content,
      toPostmaster: g.to === "postmaster",
    });
    const local = await deliverLocally(deps, { recipient: to, content: dsn.message, traceHeaders: "", mailFrom: "" });
    if (local.kind === "ok") {
      sent++;
      continue;
    }
    if (local.kind !== "not-local") {
      deps.logger.warn({ queueId: q.id, to, outcome: local }, "local DSN delivery failed");
      if (g.to === "postmaster") continue; // nothing further to tell anyone
    }
    // A remote sender: queue the DSN from <>; its own failure is a double bounce.
    const w = deps.blobs.create();
    await w.write(dsn.message);
    await deps.writer.deliver({
      blob: await w.finish(),
      targets: [],
      queue: [{ mailFrom: "", recipients: [{ recipient: to }], traceHeaders: "", origin: g.to === "postmaster" ? "postmaster-notice" : "dsn" }],
    });
    sent++;
  }
  return sent;
}

export type { DsnAction };
