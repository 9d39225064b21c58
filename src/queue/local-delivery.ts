// Delivering a queued message (or a DSN we composed) into local mailboxes: the same recipient
// resolution as the mx role (users, aliases, +tags, catch-all), then one durable delivery. An
// alias's external targets go back into the queue as a forward.
import { resolveRecipient } from "../accounts/resolve.ts";
import { effectiveQuota } from "../accounts/quota.ts";
import { deliveredToHeaders } from "../mx/trace.ts";
import { isStoreError } from "../store/errors.ts";
import type { DeliveryTarget, MetadataStore, QueueInsert, StagingBlobStore } from "../store/types.ts";
import type { DeliveryWriter } from "../store/delivery.ts";

export interface LocalDeliveryDeps {
  store: MetadataStore;
  blobs: StagingBlobStore;
  writer: DeliveryWriter;
  defaultQuotaBytes: number;
}

export type LocalOutcome =
  | { kind: "ok" }
  | { kind: "not-local" }
  | { kind: "perm" | "temp"; status: string; reply: string };

export async function isLocalDomain(store: MetadataStore, domain: string): Promise<boolean> {
  return (await store.accounts.getDomain(domain.toLowerCase())) !== null;
}

/** Delivers `content` (with `traceHeaders` stored beside it) to one local address. */
export async function deliverLocally(
  deps: LocalDeliveryDeps,
  args: { recipient: string; content: Buffer; traceHeaders: string; mailFrom: string },
): Promise<LocalOutcome> {
  const res = await resolveRecipient(deps.store.accounts, args.recipient);
  switch (res.kind) {
    case "not-local":
      return { kind: "not-local" };
    case "unknown":
      return { kind: "perm", status: "5.1.1", reply: "550 5.1.1 No such user here" };
    case "disabled":
      return { kind: "perm", status: "5.2.1", reply: "550 5.2.1 Mailbox disabled" };
    case "failed":
      return { kind: "perm", status: "5.4.6", reply: "550 5.4.6 Alias expansion failed" };
    case "deliver":
      break;
  }
  const targets: DeliveryTarget[] = [];
  const seen = new Set<number>();
  for (const t of res.local) {
    const mbox = await deps.store.mail.getMailbox(t.user.id, "INBOX");
    if (!mbox || seen.has(mbox.id)) continue;
    seen.add(mbox.id);
    targets.push({
      mailboxId: mbox.id,
      // RFC 5321 §4.4: the final delivery records the envelope sender in Return-Path.
      traceHeaders: `Return-Path: <${args.mailFrom}>\r\n` + deliveredToHeaders(t.deliveredTo) + args.traceHeaders,
      quotaBytes: effectiveQuota(t.user, deps.defaultQuotaBytes) || null,
    });
  }
  const queue: QueueInsert[] =
    res.external.length > 0
      ? [
          {
            mailFrom: args.mailFrom,
            recipients: res.external.map((recipient) => ({ recipient })),
            // As on the MX: the forwarding address on top (loop detection, ARC sealing domain).
            traceHeaders: deliveredToHeaders([args.recipient]) + args.traceHeaders,
            origin: "forward",
          },
        ]
      : [];
  if (targets.length === 0 && queue.length === 0) return { kind: "perm", status: "5.1.1", reply: "550 5.1.1 No mailbox" };
  const w = deps.blobs.create();
  try {
    await w.write(args.content);
  } catch (err) {
    await w.abort();
    throw err;
  }
  const staged = await w.finish();
  try {
    await deps.writer.deliver({ blob: staged, targets, queue });
    return { kind: "ok" };
  } catch (err) {
    if (isStoreError(err, "over-quota")) return { kind: "temp", status: "4.2.2", reply: "452 4.2.2 Mailbox full" };
    return { kind: "temp", status: "4.3.0", reply: `451 4.3.0 local delivery failed: ${(err as Error).message}` };
  }
}
