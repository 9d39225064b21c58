// Reads the feedback-loop mailbox (config suppression.complaintsAddress): every new message is
// parsed as an ARF report (arf.ts); a complaint about one of our domains suppresses the
// complainer for that domain and counts toward its complaint rate. The mailbox is left as it is,
// for a person to read; a checkpoint (mailbox id, UIDVALIDITY, last UID) in suppression.sqlite
// makes each message count once, across restarts. Runs after deliveries to that mailbox and
// every few minutes.
import type { Logger } from "../log/logger.ts";
import type { Id, MetadataStore } from "../store/types.ts";
import { parseFeedbackReport } from "./arf.ts";
import type { SuppressionService } from "./service.ts";

export interface FeedbackJobDeps {
  store: Pick<MetadataStore, "accounts" | "mail">;
  blobs: { readAll(blobId: Id): Promise<Buffer> };
  suppression: SuppressionService;
  logger: Logger;
  address: string;
}

export class FeedbackJob {
  readonly #d: FeedbackJobDeps;
  #running: Promise<number> | null = null;
  #again = false;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;

  constructor(d: FeedbackJobDeps) {
    this.#d = d;
  }

  /** The complaints mailbox's id, or null when the address is not a local user. */
  async mailboxId(): Promise<Id | null> {
    const user = await this.#d.store.accounts.getUserByAddress(this.#d.address.toLowerCase());
    if (!user) return null;
    return (await this.#d.store.mail.getMailbox(user.id, "INBOX"))?.id ?? null;
  }

  /** Processes new messages; returns how many complaints were recorded. Calls during a run queue one more run. */
  run(): Promise<number> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      let n = 0;
      do {
        this.#again = false;
        n += await this.#pass();
      } while (this.#again && !this.#stopped);
      return n;
    })().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #pass(): Promise<number> {
    const { store, blobs, suppression, logger } = this.#d;
    const user = await store.accounts.getUserByAddress(this.#d.address.toLowerCase());
    if (!user) {
      logger.warn({ address: this.#d.address }, "suppression.complaintsAddress is not a local user; feedback reports are not read");
      return 0;
    }
    const mb = await store.mail.getMailbox(user.id, "INBOX");
    if (!mb) return 0;
    const ours = new Set((await store.accounts.listDomains()).map((d) => d.name.toLowerCase()));
    const key = `fbl.${mb.id}.${mb.uidValidity}`;
    const since = await suppression.checkpoint(key);
    let last = since;
    let recorded = 0;
    for (const m of await store.mail.listMessages(mb.id, since)) {
      last = Math.max(last, m.uid);
      let report;
      try {
        report = parseFeedbackReport(await blobs.readAll(m.blobId));
      } catch (err) {
        logger.warn({ err, uid: m.uid }, "feedback mailbox: message unreadable");
        continue;
      }
      if (!report) {
        logger.info({ uid: m.uid }, "feedback mailbox: not an ARF report; left for a person");
        continue;
      }
      const domain = report.senderDomain;
      if (!domain || !ours.has(domain)) {
        logger.info({ uid: m.uid, senderDomain: domain }, "feedback report about a domain this server does not serve; ignored");
        continue;
      }
      await suppression.recordComplaint({ senderDomain: domain, complainer: report.complainer, feedbackType: report.feedbackType, sourceIp: report.sourceIp, messageId: report.original?.messageId ?? null });
      recorded++;
      logger.info({ uid: m.uid, senderDomain: domain, complainer: report.complainer, feedbackType: report.feedbackType }, "feedback-loop complaint recorded");
    }
    if (last > since) await suppression.setCheckpoint(key, last);
    return recorded;
  }

  start(intervalMs = 300_000): void {
    const tick = () => {
      this.run()
        .catch((err) => this.#d.logger.error({ err }, "feedback mailbox pass failed"))
        .finally(() => {
          if (!this.#stopped) this.#timer = setTimeout(tick, intervalMs).unref();
        });
    };
    this.#timer = setTimeout(tick, 0).unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running?.catch(() => undefined);
  }
}
