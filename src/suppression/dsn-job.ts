// DSNs received for mail we sent (issue 19 §2): a remote host that accepted a message and failed
// it later (a relay, a forwarding host, a backscatter-free MTA) returns a DSN (RFC 3464) to the
// MAIL FROM, i.e. to one of our users. After each committed delivery, every copy that arrived
// with the null reverse-path (Return-Path: <>, RFC 5321 §4.5.5) is read and parsed
// (dsn-report.ts); its failed 5.1.1-class recipients count as hard bounces for the sending
// domain, exactly as the queue's own bounces do, but only when the returned Message-ID and the
// recipient match a message our queue handed to another host (SuppressionService.recordSent):
// anyone can send a DSN, and a forged one must not suppress a working address. The DSN itself
// stays in the user's mailbox.
import type { Logger } from "../log/logger.ts";
import type { DeliveryResult, Id, MetadataStore } from "../store/types.ts";
import { parseDsn } from "./dsn-report.ts";
import type { SuppressionService } from "./service.ts";

/** DSNs are read up to this size: the report parts come before the returned message. */
export const DSN_READ_LIMIT = 1024 * 1024;

export interface DsnJobDeps {
  store: Pick<MetadataStore, "mail">;
  blobs: { readAll(blobId: Id): Promise<Buffer> };
  suppression: Pick<SuppressionService, "recordDsn">;
  logger: Logger;
}

export class DsnJob {
  readonly #d: DsnJobDeps;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(d: DsnJobDeps) {
    this.#d = d;
  }

  /** An onDelivered listener: the batch is examined after the ones before it. */
  onBatch(batch: DeliveryResult[]): void {
    this.#chain = this.#chain.then(() => this.handle(batch)).catch((err) => this.#d.logger.error({ err }, "DSN check failed"));
  }

  /** Resolves when every batch given so far was examined. */
  idle(): Promise<void> {
    return this.#chain.then(() => undefined);
  }

  /** Examines one batch; returns the failed recipients counted. */
  async handle(batch: DeliveryResult[]): Promise<number> {
    const { store, blobs, suppression, logger } = this.#d;
    let counted = 0;
    for (const r of batch) {
      // One blob serves every copy: one look at the first delivered copy's trace header.
      const first = r.delivered[0];
      if (!first) continue;
      const m = await store.mail.getMessage(first.mailboxId, first.uid);
      if (!m || !m.traceHeaders.startsWith("Return-Path: <>")) continue;
      if (m.size > DSN_READ_LIMIT + m.traceHeaders.length) {
        logger.info({ mailboxId: first.mailboxId, uid: first.uid, size: m.size }, "null-sender message too large to be read as a DSN");
        continue;
      }
      const report = parseDsn(await blobs.readAll(m.blobId));
      if (!report || report.recipients.length === 0) continue;
      const out = await suppression.recordDsn(report.originalMessageId, report.recipients);
      counted += out.counted;
      if (out.counted > 0 || out.unmatched > 0) {
        logger.info(
          { mailboxId: first.mailboxId, uid: first.uid, reportingMta: report.reportingMta, originalMessageId: report.originalMessageId, counted: out.counted, unmatched: out.unmatched },
          out.unmatched > 0 ? "DSN received: failed recipients not matching a message we sent were ignored" : "DSN received: hard bounces counted",
        );
      }
    }
    return counted;
  }
}
