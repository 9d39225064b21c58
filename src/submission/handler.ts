// The SmtpHandler of the `submission` and `submissions` roles (RFC 6409). The AUTH extension
// (auth.ts) guarantees an authenticated user before MAIL; this handler decides the rest:
//
//   MAIL  → the envelope sender must be the user's (sender-policy.ts), 550 5.7.1 otherwise;
//           the hourly limit must have room (451 4.7.1)
//   RCPT  → local recipients resolved as on the MX (550 5.1.1 unknown), any other domain is
//           relayed for the authenticated user; each one counts against the hourly limit
//   DATA  → the message is buffered (it is rewritten: fix-ups and DKIM), then submit.ts checks
//           From/Sender, fixes, signs and delivers durably before the 250.
import type { Logger } from "../log/logger.ts";
import { SmtpError } from "../smtp/errors.ts";
import { reply } from "../smtp/reply.ts";
import type { Mailbox } from "../smtp/address.ts";
import type { MailParams, RcptParams } from "../smtp/params.ts";
import type { EndInfo, Envelope, MessageSink, SessionInfo, SmtpHandler } from "../smtp/types.ts";
import { mapDeliveryError } from "../mx/handler.ts";
import { authenticatedUser } from "./auth.ts";
import { senderAuthority } from "./authority.ts";
import { checkMailFrom } from "./sender-policy.ts";
import { domainPart, stagedSince } from "../accounts/staged.ts";
import type { SenderAuthority } from "./sender-policy.ts";
import type { HourlySendLimit } from "./send-limit.ts";
import type { SuppressionService } from "../suppression/service.ts";
import { SenderRefused, classifyRecipient, submit } from "./submit.ts";
import type { RecipientRoute, SubmitDeps } from "./submit.ts";

export interface SubmissionHandlerDeps extends SubmitDeps {
  sendLimit: HourlySendLimit;
  /** After a message was accepted: who sent it to whom (the spam filter's correspondents). */
  onSubmitted?: (user: string, recipients: string[]) => void;
  /** The suppression list (src/suppression/): recipients that hard-bounced for the sending domain. */
  suppression?: Pick<SuppressionService, "check">;
}

const AUTHORITY_KEY = "submission.authority";

export class SubmissionHandler implements SmtpHandler {
  readonly #d: SubmissionHandlerDeps;
  readonly #log: Logger;

  constructor(deps: SubmissionHandlerDeps) {
    this.#d = deps;
    this.#log = deps.logger;
  }

  async #authority(session: SessionInfo): Promise<SenderAuthority> {
    // Computed once per transaction (aliases may change between messages of a long session).
    const cached = session.locals.get(AUTHORITY_KEY) as SenderAuthority | undefined;
    if (cached) return cached;
    const user = authenticatedUser(session);
    if (!user) throw new SmtpError("authRequired");
    const fresh = await this.#d.store.accounts.getUserById(user.id);
    if (!fresh || fresh.disabled) throw new SmtpError("authRequired", "Account disabled");
    const a = await senderAuthority(this.#d.store, fresh);
    session.locals.set(AUTHORITY_KEY, a);
    return a;
  }

  async mailFrom(session: SessionInfo, from: Mailbox | null, _params: MailParams): Promise<void> {
    session.locals.delete(AUTHORITY_KEY);
    const auth = await this.#guard(() => this.#authority(session));
    // RFC 6409 §4.1 / §6.1: the MSA may refuse a sender the user is not authorized to use.
    const c = checkMailFrom(from?.address ?? "", auth);
    if (!c.ok) throw new SmtpError("policyRejected", `Sender address rejected: ${c.message}`);
    // A staged domain (src/accounts/staged.ts) sends nothing until it goes live.
    const fromDomain = domainPart(from?.address ?? "");
    if (fromDomain && (await this.#guard(() => stagedSince(this.#d.store.settings, fromDomain)))) {
      throw new SmtpError("policyRejected", `Sender address rejected: ${fromDomain} is staged (being moved to this server) and sends no mail until \`freehold domain unstage ${fromDomain}\``);
    }
    if (!this.#d.sendLimit.allows(session.authUser!, 1)) {
      throw new SmtpError("policyTempfail", "Hourly sending limit reached, try again later");
    }
  }

  async rcptTo(session: SessionInfo, to: Mailbox, params: RcptParams, info: { postmaster: boolean; envelope: Envelope }): Promise<RecipientRoute> {
    if (!this.#d.sendLimit.allows(session.authUser!, 1, info.envelope.recipients.length)) {
      throw new SmtpError("policyTempfail", "Hourly sending limit reached, try again later");
    }
    const address = info.postmaster ? "postmaster" : to.address;
    // A recipient suppressed for the sending domain after hard bounces: refused here, with the
    // reason and the date, so the user learns it at once instead of from another bounce
    // (RFC 5321 §4.2.2: 550 for a mailbox not to be used; 5.7.1, our policy, RFC 3463 §3.8).
    const from = info.envelope.mailFrom?.address ?? "";
    const s = this.#d.suppression && !info.postmaster ? await this.#guard(() => this.#d.suppression!.check(from, address)) : null;
    if (s) {
      const since = new Date(s.suppressedAt ?? s.lastAt).toISOString().slice(0, 10);
      const why =
        s.source === "bounce"
          ? `after ${s.bounces} hard bounce${s.bounces === 1 ? "" : "s"} (last: ${s.reason.slice(0, 120)})`
          : s.source === "complaint"
            ? `after a spam ${s.reason.replace(/^complaint /, "complaint ")}`
            : `by the administrator (${s.reason.slice(0, 120)})`;
      this.#log.info({ cid: session.cid, rcpt: address, senderDomain: s.senderDomain }, "recipient suppressed");
      throw new SmtpError("policyRejected", `<${address}> is suppressed for ${s.senderDomain} since ${since} ${why}; ask your mail administrator to lift it if the address works again`);
    }
    const c = await this.#guard(() => classifyRecipient(this.#d.store, address));
    switch (c.kind) {
      case "unknown":
        throw new SmtpError("unknownUser");
      case "disabled":
        throw new SmtpError("mailboxDisabled");
      case "loop":
        throw new SmtpError("aliasLoop");
      default:
        return c;
    }
  }

  async data(session: SessionInfo, envelope: Envelope): Promise<MessageSink> {
    const d = this.#d;
    const chunks: Buffer[] = [];
    const log = this.#log.child({ cid: session.cid });
    return {
      async write(chunk: Uint8Array): Promise<void> {
        // Kept in memory: fix-ups and the signature rewrite the header. The core's size limit
        // (SIZE, maxMessageSize) bounds this buffer.
        chunks.push(Buffer.from(chunk));
      },
      end: async (info: EndInfo) => {
        const user = session.authUser!;
        const auth = await this.#guard(() => this.#authority(session));
        try {
          const result = await submit({ ...d, logger: log }, {
            user,
            authority: auth,
            mailFrom: envelope.mailFrom?.address ?? "",
            recipients: envelope.recipients.map((r) => ({ address: r.mailbox.address, route: r.resolved as RecipientRoute, params: r.params })),
            message: Buffer.concat(chunks),
            traceHeaders: info.receivedHeader,
            body: envelope.mailParams.body,
            smtputf8: envelope.mailParams.smtputf8,
            ret: envelope.mailParams.ret,
            envid: envelope.mailParams.envid,
          });
          d.sendLimit.record(user, envelope.recipients.length);
          d.onSubmitted?.(user, envelope.recipients.map((r) => r.mailbox.address));
          return reply(250, "2.0.0", `Ok: queued as ${result.blobId.toString(36)}`);
        } catch (err) {
          if (err instanceof SenderRefused) {
            log.info({ user, refusal: err.code }, "sender refused");
            throw new SmtpError("policyRejected", `Message rejected: ${err.message}`);
          }
          throw mapDeliveryError(err);
        }
      },
      abort: async (reason: string) => {
        log.debug({ reason }, "message aborted");
        chunks.length = 0;
      },
    };
  }

  reset(session: SessionInfo): void {
    session.locals.delete(AUTHORITY_KEY);
  }

  async #guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw mapDeliveryError(err);
    }
  }
}
