// Training from what users do (docs/spam.md "Training"):
//   - IMAP COPY or MOVE into the Junk mailbox trains spam; out of Junk (anywhere but Trash)
//     trains ham;
//   - STORE of the RFC 5788 keywords: +$Junk trains spam, +$NotJunk trains ham (what
//     Thunderbird, Apple Mail and K-9 set when the user presses "junk" / "not junk");
//   - on an account's first filtered message, its existing folders: Junk as spam, the others
//     (except Trash, Sent, Drafts) as ham, newest first, up to spam.bootstrapMessages;
//   - mail the user sends (submission) makes its recipients trusted correspondents.
// A message trains once per class (by blob id); moving it back untrains and retrains the other
// class. Every training also moves the sender's reputation, and goes to rspamd when configured.
// Training runs in the background, one job at a time, after the IMAP command has answered.
import type { Clock } from "../clock.ts";
import type { Logger } from "../log/logger.ts";
import type { BlobStore, MailboxRecord, MetadataStore } from "../store/types.ts";
import type { RepUpdate, SpamRepo } from "./repo.ts";
import { extractFeatures, MAX_SCAN } from "./tokenize.ts";
import { tokenHash } from "./bayes.ts";
import { clientNetwork } from "./greylist.ts";
import { rspamdLearn } from "./rspamd.ts";
import type { RspamdOptions } from "./rspamd.ts";

export interface TrainerDeps {
  store: MetadataStore;
  blobs: BlobStore;
  repo: SpamRepo;
  clock: Clock;
  logger: Logger;
  halfLifeMs: number;
  bootstrapMessages: number;
  rspamd: RspamdOptions | null;
}

const JUNK_NAMES = new Set(["junk", "spam", "junk e-mail", "junk email", "bulk mail"]);
const TRASH_NAMES = new Set(["trash", "deleted items", "deleted messages", "bin"]);
const NOT_HAM_NAMES = new Set(["sent", "sent items", "sent messages", "drafts", "outbox"]);

export function isJunkMailbox(m: Pick<MailboxRecord, "name" | "specialUse">): boolean {
  return m.specialUse === "\\Junk" || JUNK_NAMES.has(m.name.toLowerCase());
}

export function isTrashMailbox(m: Pick<MailboxRecord, "name" | "specialUse">): boolean {
  return m.specialUse === "\\Trash" || TRASH_NAMES.has(m.name.toLowerCase());
}

function isHamSource(m: MailboxRecord): boolean {
  if (isJunkMailbox(m) || isTrashMailbox(m)) return false;
  if (m.specialUse === "\\Sent" || m.specialUse === "\\Drafts") return false;
  return !NOT_HAM_NAMES.has(m.name.toLowerCase());
}

/** The client IP our X-Freehold-Spam header recorded, if any. */
function clientIpOf(traceHeaders: string): string | null {
  return /^X-Freehold-Spam:[^\r\n]*\bip=([0-9a-fA-F.:]+)/m.exec(traceHeaders)?.[1] ?? null;
}

export type Class = "ham" | "spam";

export class SpamTrainer {
  readonly #d: TrainerDeps;
  #chain: Promise<void> = Promise.resolve();
  #bootstrapping = new Set<number>();

  constructor(deps: TrainerDeps) {
    this.#d = deps;
  }

  /** Resolves when every job queued so far has run (tests, shutdown). */
  idle(): Promise<void> {
    return this.#chain;
  }

  #enqueue(what: string, job: () => Promise<void>): void {
    this.#chain = this.#chain.then(job).catch((err: unknown) => this.#d.logger.error({ err, job: what }, "spam training failed"));
  }

  /** Trains one stored message (by mailbox and UID) as `cls`. */
  async trainMessage(userId: number, mailboxId: number, uid: number, cls: Class): Promise<boolean> {
    const d = this.#d;
    const m = await d.store.mail.getMessage(mailboxId, uid);
    if (!m) return false;
    const blob = await d.blobs.readAll(m.blobId);
    const head = blob.length > MAX_SCAN ? blob.subarray(0, MAX_SCAN) : blob;
    const f = extractFeatures(head);
    const before = await d.repo.trainedClass(userId, m.blobId);
    const now = d.clock.now();
    const changed = await d.repo.train(userId, m.blobId, cls, f.tokens.map(tokenHash), now);
    if (!changed) return false;
    await d.repo.count(userId, `trained_${cls}`);
    const delta = (c: Class): { ham?: number; spam?: number } => {
      const x: { ham?: number; spam?: number } = { [c]: 1 };
      if (before && before !== c) x[before] = -1;
      return x;
    };
    const updates: RepUpdate[] = [];
    if (f.fromAddress) {
      const at = f.fromAddress.lastIndexOf("@");
      updates.push({ kind: "addr", key: f.fromAddress, ...delta(cls) }, { kind: "domain", key: f.fromAddress.slice(at + 1), ...delta(cls) });
    }
    const ip = clientIpOf(m.traceHeaders);
    if (ip) updates.push({ kind: "net", key: clientNetwork(ip), ...delta(cls) });
    if (updates.length) await d.repo.updateReputation(userId, updates, now, d.halfLifeMs);
    d.logger.info({ userId, blobId: m.blobId, cls, previously: before }, "spam training");
    if (d.rspamd) {
      await rspamdLearn(d.rspamd, cls, blob).catch((err: Error) => d.logger.warn({ err: err.message, cls }, "rspamd learning failed"));
    }
    return true;
  }

  /** IMAP COPY/MOVE finished: `uids` are the new UIDs in the target. */
  copied(userId: number, from: MailboxRecord, to: MailboxRecord, uids: readonly number[]): void {
    let cls: Class | null = null;
    if (isJunkMailbox(to) && !isJunkMailbox(from)) cls = "spam";
    else if (isJunkMailbox(from) && !isJunkMailbox(to) && !isTrashMailbox(to)) cls = "ham";
    if (!cls || uids.length === 0) return;
    const c = cls;
    this.#enqueue("copy", async () => {
      for (const uid of uids) await this.trainMessage(userId, to.id, uid, c);
    });
  }

  /** IMAP STORE finished: the keywords the client asked for, and which messages changed. */
  flagsStored(userId: number, mailboxId: number, op: "add" | "replace" | "remove", flags: readonly string[], changedUids: readonly number[]): void {
    if (op === "remove" || changedUids.length === 0) return;
    const lower = flags.map((f) => f.toLowerCase());
    // RFC 5788: $Junk and $NotJunk are mutually exclusive; when both come, neither trains.
    const junk = lower.includes("$junk");
    const notJunk = lower.includes("$notjunk");
    if (junk === notJunk) return;
    const cls: Class = junk ? "spam" : "ham";
    this.#enqueue("keyword", async () => {
      for (const uid of changedUids) await this.trainMessage(userId, mailboxId, uid, cls);
    });
  }

  /** The same, by the submitting user's address (the SMTP AUTH identity). */
  submittedBy(address: string, recipients: readonly string[]): void {
    this.#enqueue("submission", async () => {
      const u = await this.#d.store.accounts.getUserByAddress(address.toLowerCase());
      if (u) this.submitted(u.id, recipients);
    });
  }

  /** Mail the user submitted: its recipients become correspondents (trusted senders). */
  submitted(userId: number, recipients: readonly string[]): void {
    const d = this.#d;
    this.#enqueue("submission", async () => {
      const updates: RepUpdate[] = recipients.map((r) => ({ kind: "addr", key: r.toLowerCase(), wrote: 1 }));
      const domains = new Set(recipients.map((r) => r.slice(r.lastIndexOf("@") + 1).toLowerCase()));
      for (const dom of domains) updates.push({ kind: "domain", key: dom, wrote: 1 });
      await d.repo.updateReputation(userId, updates, d.clock.now(), d.halfLifeMs);
    });
  }

  /** First use: train from the existing folders, once. */
  bootstrap(userId: number): void {
    if (this.#bootstrapping.has(userId)) return;
    this.#bootstrapping.add(userId);
    const d = this.#d;
    this.#enqueue("bootstrap", async () => {
      try {
        const totals = await d.repo.totals(userId);
        if (totals.bootstrappedAt !== null) return;
        await d.repo.markBootstrapped(userId, d.clock.now());
        let budget = d.bootstrapMessages;
        let n = 0;
        for (const mb of await d.store.mail.listMailboxes(userId)) {
          const cls: Class | null = isJunkMailbox(mb) ? "spam" : isHamSource(mb) ? "ham" : null;
          if (!cls) continue;
          const msgs = (await d.store.mail.listMessages(mb.id)).reverse();
          for (const m of msgs) {
            if (budget-- <= 0) break;
            if (await this.trainMessage(userId, mb.id, m.uid, cls)) n++;
          }
        }
        d.logger.info({ userId, trained: n }, "spam filter trained from existing folders");
      } finally {
        this.#bootstrapping.delete(userId);
      }
    });
  }
}
