// The submission pipeline after the bytes are in, shared by the SMTP listeners and
// `freehold sendmail`:
//
//   sender check (MAIL FROM, From:, Sender:)  →  RFC 6409 §8 fix-ups  →  8-bit bodies to 7-bit
//     (when any recipient is remote)  →  DKIM signature(s)
//     →  one durable delivery: local recipients into their INBOX, remote ones into the queue
//
// The caller answers "250" only after submit() resolves: the blob, the message rows and the
// queue rows are then committed (src/store/delivery.ts), so nothing accepted can be lost.
import { MESSAGE_ID_SCAN, messageIdOf } from "../trace/message-id.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log/logger.ts";
import { resolveRecipient } from "../accounts/resolve.ts";
import type { LocalTarget } from "../accounts/resolve.ts";
import { effectiveQuota } from "../accounts/quota.ts";
import { signMessage } from "../emailauth/dkim-sign.ts";
import type { DkimService } from "../emailauth/dkim-service.ts";
import { deliveredToHeaders, forwardRecipients, returnPathHeader } from "../mx/trace.ts";
import type { RcptParams } from "../smtp/params.ts";
import type { SqliteQueueParams } from "../store/sqlite/dkim.ts";
import type { DeliveryWriter } from "../store/delivery.ts";
import type { DeliveryTarget, MetadataStore, QueueRecipientInsert, StagingBlobStore } from "../store/types.ts";
import { applySubmissionFixups } from "./fixups.ts";
import { bodyNeedsDowngrade, downgradeTo7bit } from "../mail/transfer-encoding.ts";
import { mailboxesOf, parseAddressField } from "./header-addresses.ts";
import { checkSubmissionSender, normalizeDomain, readHeaderFields } from "./sender-policy.ts";
import type { SenderAuthority, SenderRefusal } from "./sender-policy.ts";

export interface SubmitDeps {
  store: MetadataStore;
  blobs: StagingBlobStore;
  writer: DeliveryWriter;
  dkim: DkimService;
  queueParams: SqliteQueueParams;
  clock: Clock;
  logger: Logger;
  /** Our host name (Message-ID right-hand side). */
  hostname: string;
  defaultQuotaBytes: number;
}

/** Where one recipient goes, decided at RCPT time (classifyRecipient). */
export type RecipientRoute =
  | { kind: "local"; targets: LocalTarget[]; external: string[] }
  | { kind: "remote" };

export type RecipientClass = RecipientRoute | { kind: "unknown" } | { kind: "disabled" } | { kind: "loop" };

/** Local recipients resolve as on the MX; any other domain is relayed (the user is authenticated). */
export async function classifyRecipient(store: MetadataStore, address: string): Promise<RecipientClass> {
  const r = await resolveRecipient(store.accounts, address);
  switch (r.kind) {
    case "not-local":
      return { kind: "remote" };
    case "unknown":
      return { kind: "unknown" };
    case "disabled":
      return { kind: "disabled" };
    case "failed":
      return r.problems.some((p) => p.kind === "loop" || p.kind === "depth" || p.kind === "expansion") ? { kind: "loop" } : { kind: "unknown" };
    case "deliver":
      return { kind: "local", targets: r.local, external: r.external };
  }
}

export interface SubmitRecipient {
  address: string;
  route: RecipientRoute;
  params?: Pick<RcptParams, "notify" | "orcpt">;
}

export interface SubmitInput {
  /** For logs. */
  user: string;
  authority: SenderAuthority;
  /** A local program (freehold sendmail): the sender checks are skipped. */
  trusted?: boolean;
  /** "" for the null reverse-path. */
  mailFrom: string;
  recipients: readonly SubmitRecipient[];
  /** The message as submitted, CRLF line endings. */
  message: Buffer;
  /** Trace header(s) to store beside the blob (the Received field), CRLF-terminated. */
  traceHeaders: string;
  /** RFC 6152 / RFC 3030 BODY= as declared. */
  body?: string;
  smtputf8: boolean;
  ret?: "FULL" | "HDRS";
  envid?: string;
}

export class SenderRefused extends Error {
  readonly code: SenderRefusal;
  constructor(code: SenderRefusal, message: string) {
    super(message);
    this.name = "SenderRefused";
    this.code = code;
  }
}

export interface SubmitResult {
  blobId: number;
  localCopies: number;
  queueIds: number[];
  /** "d=domain s=selector" of each signature added. */
  signatures: string[];
}

/** The domain of the (single, already checked) From mailbox, for the DKIM d= (DMARC alignment). */
function fromDomain(header: Buffer): string | null {
  const from = readHeaderFields(header).find((f) => f.name.toLowerCase() === "from");
  if (!from) return null;
  const parsed = parseAddressField(from.value);
  if (!parsed.ok) return null;
  const mb = mailboxesOf(parsed.items)[0];
  return mb ? normalizeDomain(mb.domain) : null;
}

export async function submit(deps: SubmitDeps, input: SubmitInput): Promise<SubmitResult> {
  const now = deps.clock.now();
  const log = deps.logger;
  if (!input.trusted) {
    const check = checkSubmissionSender(input.mailFrom, input.message, input.authority);
    if (!check.ok) throw new SenderRefused(check.code, check.message);
  }

  // RFC 6409 §8: Date and Message-ID when missing; Bcc removed. Before signing, so the
  // signature covers the header as it goes out.
  let fixed = applySubmissionFixups(input.message, { now, hostname: deps.hostname });

  const targets: DeliveryTarget[] = [];
  const seenMailbox = new Set<number>();
  const external: QueueRecipientInsert[] = [];
  const seenExternal = new Set<string>();
  const addExternal = (addresses: string[], params: SubmitRecipient["params"]) => {
    const fresh = addresses.filter((a) => !seenExternal.has(a.toLowerCase()));
    for (const a of fresh) seenExternal.add(a.toLowerCase());
    external.push(...forwardRecipients(fresh, { ...params, extra: new Map() }));
  };
  for (const r of input.recipients) {
    if (r.route.kind === "remote") {
      addExternal([r.address], r.params);
      continue;
    }
    for (const t of r.route.targets) {
      const mbox = await deps.store.mail.getMailbox(t.user.id, "INBOX");
      if (!mbox || seenMailbox.has(mbox.id)) continue;
      seenMailbox.add(mbox.id);
      targets.push({
        mailboxId: mbox.id,
        // RFC 5321 §4.4: the final delivery records the reverse-path, as the MX does.
        traceHeaders: returnPathHeader(input.mailFrom) + deliveredToHeaders(t.deliveredTo) + input.traceHeaders,
        quotaBytes: effectiveQuota(t.user, deps.defaultQuotaBytes) || null,
      });
    }
    addExternal(r.route.external, r.params);
  }

  // RFC 6152 §3 / RFC 6376 §5.3: mail that leaves us may meet a hop without 8BITMIME, and a
  // relay that re-encodes it then breaks our signature. So 8-bit bodies bound for any remote
  // recipient are converted to quoted-printable/base64 here, before signing (local-only mail
  // keeps its 8-bit body: IMAP clients take it as it is). The same goes for parts with lines over
  // 998 octets (RFC 5321 §4.5.3.1.6): a hop enforcing the limit refuses them, one folding them
  // breaks the signature. Header fields are not touched: 8-bit
  // header fields need SMTPUTF8 at every hop (RFC 6531 §3.4, else a 5.6.7 bounce).
  let converted = false;
  if (external.length > 0 && bodyNeedsDowngrade(fixed.message)) {
    const d = downgradeTo7bit(fixed.message);
    converted = d.changed;
    fixed = { ...fixed, message: d.message };
  }

  // RFC 6376 §5: sign with the active keys of the From domain (d= aligned with From, RFC 7489 §3.1.1).
  const signatures: string[] = [];
  let message = fixed.message;
  const domain = fromDomain(message);
  const keys = domain ? deps.dkim.signingKeys(domain) : [];
  if (keys.length > 0) {
    const signed = await signMessage(message, keys, { now });
    for (const e of signed.errors) log.error({ selector: e.selector, domain: e.domain, error: e.message }, "DKIM signing failed");
    if (signed.header !== "") message = Buffer.concat([Buffer.from(signed.header, "latin1"), message]);
    for (const k of keys) if (!signed.errors.some((e) => e.selector === k.selector)) signatures.push(`d=${k.domain} s=${k.selector}`);
  } else if (domain) {
    log.warn({ domain }, "no active DKIM key for the From domain; sent unsigned (run: freehold dkim check)");
  }

  const writer = deps.blobs.create();
  let staged;
  try {
    await writer.write(message);
    staged = await writer.finish();
  } catch (err) {
    await writer.abort().catch(() => undefined);
    throw err;
  }
  const queue =
    external.length > 0
      ? [{ mailFrom: input.mailFrom, recipients: external, ret: input.ret, envid: input.envid, traceHeaders: input.traceHeaders, origin: "submission" }]
      : [];
  const result = await deps.writer.deliver({ blob: staged, targets, queue });
  if (result.queueIds.length > 0) {
    // Recorded right after the commit (see src/store/sqlite/dkim.ts for why not inside it).
    try {
      // A converted body is 7-bit now, whatever BODY= the client declared.
      deps.queueParams.set(result.queueIds, { body: converted ? "7BIT" : (input.body ?? null), smtputf8: input.smtputf8 });
    } catch (err) {
      log.error({ err, queueIds: result.queueIds }, "could not record BODY/SMTPUTF8 of queue entries");
    }
  }
  log.info(
    {
      user: input.user,
      blobId: result.blobId,
      local: result.delivered.length,
      queued: external.length,
      dkim: signatures,
      converted8bit: converted,
      added: fixed.added,
      bccRemoved: fixed.bccRemoved,
      // For `freehold trace`: the message, its envelope and the queue entries that carry it on.
      messageId: messageIdOf(message.subarray(0, MESSAGE_ID_SCAN)),
      from: input.mailFrom,
      rcpts: input.recipients.map((r) => r.address),
      queueIds: result.queueIds.length ? result.queueIds : undefined,
    },
    "submitted",
  );
  return { blobId: result.blobId, localCopies: result.delivered.length, queueIds: result.queueIds, signatures };
}
