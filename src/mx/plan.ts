// The last step of an inbound message, after the bytes are staged and authenticated: the spam
// verdict per recipient, the mailbox of each copy (INBOX or Junk), and the one durable delivery.
// It is one function of plain data so that a protocol process (src/server/protocol-process.ts)
// can hand all of it to the store owner in ONE request (issue 14: one round trip per message
// instead of two, filter then deliver), and a single process runs the same code in place.
//
// Order (unchanged by where it runs): filter → (every recipient refuses: nothing stored) →
// targets → DeliveryWriter.deliver (blob fsync → rename → dir fsync → COMMIT) → the answer that
// lets the session send 250 (RFC 5321 §6.1).
import type { DeliveryResult, DeliveryTarget, MetadataStore, QueueInsert, StagedBlob } from "../store/types.ts";
import type { DeliveryWriter } from "../store/delivery.ts";
import type { FilterInput, FilterResult } from "../spam/filter.ts";

/** One local copy's recipient, in envelope order (a user may appear more than once). */
export interface PlanLocal {
  userId: number;
  address: string;
  /** Return-Path and Delivered-To header fields of this copy (before the spam header). */
  prefix: string;
  quotaBytes: number | null;
}

export interface MxDeliveryPlan {
  blob: StagedBlob;
  /** The spam filter's input, or null (no filter, or no local recipient). */
  spam: FilterInput | null;
  /** DMARC asked for quarantine: every local copy goes to Junk. */
  quarantine: boolean;
  locals: PlanLocal[];
  /** Authentication-Results + Received, on every copy after the spam header. */
  common: string;
  queue: QueueInsert[];
}

export type MxPlanOutcome =
  | { kind: "spam-reject"; spam: FilterResult }
  | { kind: "delivered"; spam: FilterResult | null; result: DeliveryResult; stored: Map<number, { user: string; mailbox: string }> };

export interface MxPlanDeps {
  store: Pick<MetadataStore, "mail">;
  filter: ((input: FilterInput) => Promise<FilterResult>) | null;
  writer: Pick<DeliveryWriter, "deliver">;
}

/** Runs the plan. A spam refusal stores nothing (the caller discards its staged blob). */
export async function runMxPlan(plan: MxDeliveryPlan, d: MxPlanDeps): Promise<MxPlanOutcome> {
  const spam = plan.spam && d.filter ? await d.filter(plan.spam) : null;
  if (spam?.reject) return { kind: "spam-reject", spam };
  const targets: DeliveryTarget[] = [];
  const stored = new Map<number, { user: string; mailbox: string }>();
  for (const t of plan.locals) {
    const sv = spam?.perUser.get(t.userId);
    const name = plan.quarantine || sv?.verdict.action === "junk" ? "Junk" : "INBOX";
    const mbox = (await d.store.mail.getMailbox(t.userId, name)) ?? (await d.store.mail.getMailbox(t.userId, "INBOX"));
    if (!mbox || stored.has(mbox.id)) continue;
    stored.set(mbox.id, { user: t.address, mailbox: mbox.name });
    targets.push({ mailboxId: mbox.id, traceHeaders: t.prefix + (sv?.header ?? "") + plan.common, quotaBytes: t.quotaBytes });
  }
  const result = await d.writer.deliver({ blob: plan.blob, targets, queue: plan.queue });
  return { kind: "delivered", spam, result, stored };
}
