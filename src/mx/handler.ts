// The inbound delivery pipeline for the `mx` role: the SmtpHandler the SMTP core calls.
//
//   RCPT  → recipient resolution (user > alias > +tag > catch-all; src/accounts/resolve.ts),
//           relaying refused, quota checked against SIZE=; SRS0/SRS1 addresses we made are
//           reverse-mapped (bounces to forwarded mail go back to the original sender)
//   DATA  → bytes stream through the forged-Authentication-Results filter into a staged blob,
//           and, unfiltered, into SPF/DKIM/DMARC/ARC verification running alongside (the body
//           only when the header carries a DKIM or ARC signature: verify-feed.ts)
//   end   → DMARC verdict (reject: 550 at end of DATA; quarantine: Junk), trace headers per
//           copy, one durable delivery (blob fsync → rename → dir fsync → commit), then 250.
//
// "250" is sent only after DeliveryWriter.deliver resolves, i.e. after the blob and the
// metadata are both on disk (RFC 5321 §6.1: once we answer 250 the message is ours).
import { PassThrough } from "node:stream";
import type { Clock } from "../clock.ts";
import { MESSAGE_ID_SCAN, messageIdOf } from "../trace/message-id.ts";
import type { Logger } from "../log/logger.ts";
import type { Resolver } from "../dns/resolver.ts";
import { resolveRecipient } from "../accounts/resolve.ts";
import type { LocalTarget } from "../accounts/resolve.ts";
import { checkUserQuota, effectiveQuota } from "../accounts/quota.ts";
import { createArStripper } from "../emailauth/strip-ar.ts";
import { verifyMessage } from "../emailauth/verify.ts";
import type { AuthVerdict } from "../emailauth/verify.ts";
import { SmtpError } from "../smtp/errors.ts";
import { reply } from "../smtp/reply.ts";
import type { Mailbox } from "../smtp/address.ts";
import type { MailParams, RcptParams } from "../smtp/params.ts";
import type { EndInfo, Envelope, MessageSink, SessionInfo, SmtpHandler } from "../smtp/types.ts";
import { isStoreError } from "../store/errors.ts";
import type { MetadataStore, QueueInsert, QueueRecipientInsert, StagingBlobStore } from "../store/types.ts";
import type { DeliveryWriter } from "../store/delivery.ts";
import { deliveredToHeaders, forwardRecipients, returnPathHeader } from "./trace.ts";
import { VerifyFeed } from "./verify-feed.ts";
import { srsBounceTarget } from "../delivery/srs.ts";
import type { SrsCheckOptions } from "../delivery/srs.ts";
import { isLocalDomain } from "../queue/local-delivery.ts";
import { domainPart, stagedSince } from "../accounts/staged.ts";
import type { FilterInput, FilterResult, SpamFilter } from "../spam/filter.ts";
import { runMxPlan } from "./plan.ts";
import type { MxDeliveryPlan, MxPlanOutcome, PlanLocal } from "./plan.ts";
import { MAX_SCAN } from "../spam/tokenize.ts";

export interface MxDeps {
  store: MetadataStore;
  blobs: StagingBlobStore;
  /** The group commit; in a protocol process, an IPC request to the store owner's (src/server/processes.ts). */
  writer: Pick<DeliveryWriter, "deliver">;
  resolver: Resolver;
  clock: Clock;
  logger: Logger;
  /** RFC 8601 §2.5 authserv-id (normally our host name). */
  authservId: string;
  defaultQuotaBytes: number;
  /** Randomness for DMARC pct sampling; tests make it deterministic. */
  random?: () => number;
  /**
   * SRS bounce handling (src/delivery/srs.ts): RCPT to an SRS0/SRS1 address at the forwarder
   * domain or a hosted domain is checked with the queue's SRS key and, when valid, queued to
   * the address it encodes. Without it such addresses are ordinary local parts.
   */
  srs?: (SrsCheckOptions & { forwarderDomain: string }) | null;
  /** The spam filter (src/spam/, docs/spam.md); absent or null: nothing is filtered. */
  spam?: MxSpam | null;
  /**
   * A protocol process: the spam filter, the mailboxes and the delivery in one request to the
   * store owner (src/server/processes.ts "mx.deliver"). Absent: runMxPlan here.
   */
  deliverPlan?: (plan: MxDeliveryPlan) => Promise<MxPlanOutcome>;
}

/** What the MX uses of the spam filter (in a protocol process, a proxy to the store owner's). */
export type MxSpam = Pick<SpamFilter, "greylist" | "greylistCheck" | "filter">;

/** What rcptTo() keeps with each accepted recipient. */
interface Resolved {
  address: string;
  local: LocalTarget[];
  external: string[];
  params: RcptParams;
}

export class MxHandler implements SmtpHandler {
  readonly #d: MxDeps;

  constructor(deps: MxDeps) {
    this.#d = deps;
  }

  async mailFrom(_session: SessionInfo, _from: Mailbox | null, _params: MailParams): Promise<void> {
    // The MX accepts any sender; authentication happens on the content at end of DATA
    // (SPF needs the MAIL FROM, DMARC the From header).
  }

  async rcptTo(session: SessionInfo, to: Mailbox, params: RcptParams, info: { postmaster: boolean; envelope: Envelope }): Promise<Resolved> {
    const address = info.postmaster ? "postmaster" : to.address;
    if (this.#d.srs && !info.postmaster) {
      const srs = this.#d.srs;
      const b = await this.#guard(() => srsBounceTarget(address, srs, (dom) => isLocalDomain(this.#d.store, dom), this.#d.clock.now()));
      // A valid SRS address: forward to the address it encodes (the original sender, or for
      // SRS1 the first forwarder's SRS0 address). RFC 3463 X.1.1 for one we did not make or that
      // is past its 21 days: the address is not a valid mailbox.
      if (b.kind === "reverse") return { address: to.address, local: [], external: [b.address], params };
      if (b.kind === "refused") throw new SmtpError("unknownUser", `Invalid or expired SRS address (${b.reason})`);
    }
    // A staged domain (src/accounts/staged.ts) receives nothing from outside until it goes live:
    // a temporary failure (RFC 3463 X.3.2 system not accepting network messages), so a sender
    // that reached us by mistake retries through the MX the domain still publishes.
    if (!info.postmaster) {
      const staged = await this.#guard(() => stagedSince(this.#d.store.settings, domainPart(address)));
      if (staged) throw new SmtpError("domainNotLiveYet", `<${address}>: ${domainPart(address)} is being moved to this server and does not receive mail here yet`);
    }
    const res = await this.#guard(() => resolveRecipient(this.#d.store.accounts, address));
    switch (res.kind) {
      case "not-local":
        // Never an open relay: the mx role delivers only to our own domains.
        throw new SmtpError("relayDenied");
      case "unknown":
        throw new SmtpError("unknownUser");
      case "disabled":
        throw new SmtpError("mailboxDisabled");
      case "failed": {
        const loop = res.problems.some((p) => p.kind === "loop" || p.kind === "depth" || p.kind === "expansion");
        if (loop) throw new SmtpError("aliasLoop");
        throw new SmtpError("unknownUser");
      }
      case "deliver":
        break;
    }
    if (res.problems.length > 0) {
      this.#d.logger.warn({ cid: session.cid, rcpt: address, problems: res.problems }, "alias expansion dropped branches");
    }
    // Greylisting (spam.greylist, off by default): 451 4.7.1 to a new triple until it retries.
    const grey = this.#d.spam?.greylist ? this.#d.spam : null;
    if (grey && res.local.length > 0) {
      const g = await this.#guard(() => grey.greylistCheck(session.remoteAddress, info.envelope.mailFrom?.address ?? "", address, res.local[0].user.id));
      if (!g.ok) throw new SmtpError("policyTempfail", `Greylisted: please try again in ${Math.ceil(g.retryInMs / 1000)} seconds`);
    }
    // Quota at RCPT time from the announced SIZE (RFC 1870); the commit re-checks with the real size.
    const size = info.envelope.mailParams.size ?? 0;
    for (const t of res.local) {
      const verdict = await this.#guard(() => checkUserQuota(this.#d.store.mail, t.user, size, this.#d.defaultQuotaBytes));
      if (!verdict.ok) throw new SmtpError("overQuota");
    }
    return { address: to.address, local: res.local, external: res.external, params };
  }

  async data(session: SessionInfo, envelope: Envelope): Promise<MessageSink> {
    const d = this.#d;
    const writer = d.blobs.create();
    const stripper = createArStripper(d.authservId);
    // Verification reads the bytes as received (before the filter), so DKIM sees what was signed.
    const verifyInput = new PassThrough({ highWaterMark: 1 << 20 });
    const verdictPromise: Promise<AuthVerdict> = verifyMessage(
      {
        message: verifyInput,
        ip: session.remoteAddress,
        helo: session.helo?.name ?? "",
        mailFrom: envelope.mailFrom?.address ?? "",
      },
      { resolve: d.resolver.resolve, authservId: d.authservId, random: d.random },
    );
    // A failed verification must not become an unhandled rejection while data still streams;
    // and nobody reads verifyInput any more, so let the rest flow away instead of waiting for a
    // 'drain' that would never come (end() then answers 451 localError).
    verdictPromise.catch(() => verifyInput.resume());
    // Only signed messages need their body verified; the feed ends the input after the header
    // block otherwise (verify-feed.ts).
    const feed = new VerifyFeed({
      write: async (c) => {
        if (!verifyInput.write(c)) await new Promise<void>((r) => verifyInput.once("drain", r));
      },
      end: () => verifyInput.end(),
    });
    let finished = false;
    const log = d.logger.child({ cid: session.cid });
    // The spam filter reads the first MAX_SCAN bytes as received (tokenize.ts bounds its work).
    const head: Buffer[] = [];
    let headBytes = 0;
    let truncated = false;
    // The same first bytes give the Message-ID on the "delivered" line (freehold trace): one
    // copy of the head, as long as the spam filter needs or, without it, as the header scan.
    const keep = d.spam ? Math.max(MAX_SCAN, MESSAGE_ID_SCAN) : MESSAGE_ID_SCAN; // MAX_SCAN is 1 MiB

    const abortAll = async (): Promise<void> => {
      if (finished) return;
      finished = true;
      verifyInput.destroy();
      await writer.abort().catch(() => undefined);
    };

    return {
      async write(chunk: Uint8Array): Promise<void> {
        if (headBytes < keep) {
          const c = Buffer.from(chunk.subarray(0, keep - headBytes));
          head.push(c);
          headBytes += c.length;
          if (c.length < chunk.byteLength) truncated = true;
        } else if (d.spam) truncated = true;
        const out = stripper.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        await feed.write(chunk);
        if (out.length > 0) await writer.write(out);
      },

      end: async (info: EndInfo) => {
        try {
          const tail = stripper.end();
          if (tail.length > 0) await writer.write(tail);
          feed.end();
          const staged = await writer.finish();
          let verdict: AuthVerdict;
          try {
            verdict = await verdictPromise;
          } catch (err) {
            // mailauth failing outright is a local fault: the sender retries.
            log.error({ err }, "email authentication failed");
            await d.blobs.discard(staged);
            throw new SmtpError("localError");
          }
          log.info(
            { action: verdict.action, reason: verdict.reason, spf: verdict.spf.result, dmarc: verdict.dmarc?.result ?? "none" },
            "email authentication",
          );
          if (verdict.action === "reject" || verdict.action === "tempfail") {
            await d.blobs.discard(staged);
            const r = verdict.reply;
            throw new SmtpError(verdict.action === "reject" ? "policyRejected" : "dnsTempfail", r?.text);
          }
          const headBuf = Buffer.concat(head, headBytes);
          const common = verdict.authenticationResults + info.receivedHeader;
          const returnPath = returnPathHeader(envelope.mailFrom?.address ?? "");
          const locals: PlanLocal[] = [];
          const queue: QueueInsert[] = [];
          const external: QueueRecipientInsert[] = [];
          const seenExternal = new Set<string>();
          // The first address we forward for goes on top of the forwarded copy as Delivered-To
          // (as Postfix's local(8) writes it for forwards): loop detection for the next hop, and
          // the queue seals the copy with ARC for that address's domain.
          let forwardedFor: string | null = null;
          for (const rcpt of envelope.recipients) {
            const r = rcpt.resolved as Resolved;
            for (const t of r.local) {
              locals.push({
                userId: t.user.id,
                address: t.user.address,
                prefix: returnPath + deliveredToHeaders(t.deliveredTo),
                quotaBytes: effectiveQuota(t.user, d.defaultQuotaBytes) || null,
              });
            }
            const fresh = r.external.filter((e) => !seenExternal.has(e.toLowerCase()));
            for (const e of fresh) seenExternal.add(e.toLowerCase());
            if (fresh.length > 0) forwardedFor ??= r.address;
            external.push(...forwardRecipients(fresh, r.params));
          }
          if (external.length > 0) {
            queue.push({
              mailFrom: envelope.mailFrom?.address ?? "",
              recipients: external,
              ret: envelope.mailParams.ret,
              envid: envelope.mailParams.envid,
              traceHeaders: deliveredToHeaders(forwardedFor ? [forwardedFor] : []) + common,
              origin: "forward",
            });
          }
          const plan: MxDeliveryPlan = {
            blob: staged,
            spam: d.spam && locals.length > 0 ? spamInput(session, envelope, verdict, headBuf, truncated, locals) : null,
            quarantine: verdict.action === "quarantine",
            locals,
            common,
            queue,
          };
          // Filter, mailboxes and the durable delivery in one step: in a protocol process one
          // request to the store owner (d.deliverPlan), here in place.
          const out = d.deliverPlan
            ? await d.deliverPlan(plan)
            : await runMxPlan(plan, { store: d.store, filter: d.spam ? (input) => d.spam!.filter(input) : null, writer: d.writer });
          if (out.spam) logSpamVerdict(out.spam, log);
          if (out.kind === "spam-reject") {
            await d.blobs.discard(staged);
            const worst = Math.min(...[...out.spam.perUser.values()].map((v) => v.verdict.score));
            throw new SmtpError("policyRejected", `Message refused as spam (score ${worst}); if this is wrong, ask the recipient's postmaster`);
          }
          const { result, stored } = out;
          finished = true;
          // One line with everything `freehold trace` shows for an inbound message (Postfix logs
          // the same facts over its qmgr/local lines): who, from where, and where it went.
          log.info(
            {
              blobId: result.blobId,
              copies: result.delivered.length,
              queued: result.queueIds.length,
              size: staged.size,
              messageId: messageIdOf(headBuf.subarray(0, MESSAGE_ID_SCAN)),
              from: envelope.mailFrom?.address ?? "",
              rcpts: envelope.recipients.map((r) => r.mailbox.address),
              client: session.remoteAddress,
              clientName: session.remoteName,
              helo: session.helo?.name,
              tls: session.tls ? `${session.tls.protocol} ${session.tls.cipher}` : undefined,
              stored: result.delivered.map((x) => ({ ...stored.get(x.mailboxId), uid: x.uid })),
              queueIds: result.queueIds.length ? result.queueIds : undefined,
            },
            "delivered",
          );
          return reply(250, "2.0.0", `Ok: queued as ${result.blobId.toString(36)}`);
        } catch (err) {
          await abortAll();
          throw mapDeliveryError(err);
        }
      },

      abort: async (reason: string) => {
        log.debug({ reason }, "message aborted");
        await abortAll();
      },
    };
  }

  async #guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw mapDeliveryError(err);
    }
  }
}

/** Store failures are local faults: 4xx so the sender retries (never a bounce for our fault). */
export function mapDeliveryError(err: unknown): unknown {
  if (err instanceof SmtpError) return err;
  if (isStoreError(err, "over-quota")) return new SmtpError("overQuota");
  if ((err as NodeJS.ErrnoException)?.code === "ENOSPC") return new SmtpError("storageFull");
  if (isStoreError(err, "busy")) return new SmtpError("storeBusy");
  return err;
}

/** The spam filter's input for the local recipients (src/spam/filter.ts). */
function spamInput(session: SessionInfo, envelope: Envelope, auth: AuthVerdict, head: Buffer, truncated: boolean, locals: PlanLocal[]): FilterInput {
  return {
    cid: session.cid,
    ip: session.remoteAddress,
    helo: session.helo?.name ?? "",
    pregreet: session.pregreet ?? "skipped",
    mailFrom: envelope.mailFrom?.address ?? "",
    head,
    truncated,
    auth: {
      spf: auth.spf.result,
      spfDomain: auth.spf.domain,
      dkim: auth.dkim.some((k) => k.result === "pass") ? "pass" : (auth.dkim[0]?.result ?? "none"),
      dkimPassDomains: auth.dkim.filter((k) => k.result === "pass" && k.domain).map((k) => k.domain!),
      dmarc: auth.dmarc?.result ?? "none",
      arc: auth.arc.result,
    },
    recipients: locals.map((l) => ({ userId: l.userId, address: l.address })),
  };
}

function logSpamVerdict(r: FilterResult, log: Logger): void {
  log.info(
    {
      spam: {
        reject: r.reject,
        unfiltered: r.unfiltered,
        ms: r.ms,
        recipients: [...r.perUser].map(([userId, v]) => ({ userId, action: v.verdict.action, score: v.verdict.score, rules: v.verdict.rules })),
        signals: r.signals,
      },
    },
    "spam verdict",
  );
}
