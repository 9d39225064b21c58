// When a delivery status notification is due, and to whom: pure decisions over the envelope
// parameters of RFC 3461 and the kind of event. Composition is in dsn.ts.

export type DsnAction = "failed" | "delayed" | "delivered" | "relayed" | "expanded";

/** RFC 3461 §4.1 NOTIFY keywords. */
export type NotifyKeyword = "NEVER" | "SUCCESS" | "FAILURE" | "DELAY";

export interface DsnDecisionInput {
  /** The envelope sender of the message the event is about; "" is the null sender <>. */
  mailFrom: string;
  /** NOTIFY as given on RCPT TO (upper-cased keywords), or undefined when absent. */
  notify?: readonly string[];
  action: DsnAction;
  /**
   * The message's Auto-Submitted header value (RFC 3834 §5), if any. "no" or absent means a
   * person sent it.
   */
  autoSubmitted?: string | null;
  /**
   * True when the message is itself a notification we sent to the postmaster about an
   * undeliverable bounce: its failure is dropped (and logged), never reported again.
   */
  isPostmasterNotice?: boolean;
}

export type DsnDecision =
  | { send: false; reason: string }
  | {
      send: true;
      /** "sender": to the envelope sender; "postmaster": a double bounce. */
      to: "sender" | "postmaster";
    };

function upper(list: readonly string[] | undefined): Set<string> | undefined {
  return list ? new Set(list.map((k) => k.trim().toUpperCase())) : undefined;
}

/**
 * Whether a DSN goes out for one recipient's event.
 *
 * - RFC 5321 §4.5.5: a message with the null reverse-path is never answered
 *   with a notification (that is how bounce loops are prevented). A *failed* one is a double
 *   bounce: the postmaster hears of it (Postfix's "2bounce" class), so a broken bounce path is
 *   noticed; a failed postmaster notice is dropped.
 * - RFC 3461 §4.1: NOTIFY=NEVER: nothing, ever. NOTIFY absent: the MTA behaves as if
 *   FAILURE,DELAY had been given (one of the two defaults §4.1 allows; Postfix does the same).
 * - "delivered", "relayed" and "expanded" DSNs only when SUCCESS was asked for (§4.1):
 *   a "relayed" DSN is the one we owe when the next hop does not take DSN parameters, so
 *   nobody further on can honour SUCCESS (§5.2.2); see successAction.
 * - Auto-Submitted (RFC 3834): a message sent by a program gets no *default* delay warning —
 *   such senders (cron, monitoring, auto-responders) cannot act on one and their mailboxes are
 *   often unread. An explicit NOTIFY=DELAY is still honoured, and failures are always reported
 *   (RFC 5321 §6.1: the server "MUST formulate and mail a notification message").
 */
export function shouldSendDsn(input: DsnDecisionInput): DsnDecision {
  const notify = upper(input.notify);
  if (input.mailFrom === "") {
    if (input.action !== "failed") return { send: false, reason: "null sender: no notifications" };
    if (input.isPostmasterNotice) return { send: false, reason: "failed postmaster notice: dropped" };
    return { send: true, to: "postmaster" };
  }
  if (notify?.has("NEVER")) return { send: false, reason: "NOTIFY=NEVER" };
  const explicit = notify !== undefined && notify.size > 0;
  const effective = explicit ? notify : new Set(["FAILURE", "DELAY"]);
  switch (input.action) {
    case "failed":
      return effective.has("FAILURE") ? { send: true, to: "sender" } : { send: false, reason: "NOTIFY lacks FAILURE" };
    case "delayed": {
      if (!effective.has("DELAY")) return { send: false, reason: "NOTIFY lacks DELAY" };
      const auto = (input.autoSubmitted ?? "no").trim().toLowerCase();
      if (!explicit && auto !== "" && !auto.startsWith("no")) {
        return { send: false, reason: "auto-submitted message: no default delay warning" };
      }
      return { send: true, to: "sender" };
    }
    case "delivered":
    case "relayed":
    case "expanded":
      return effective.has("SUCCESS") ? { send: true, to: "sender" } : { send: false, reason: "NOTIFY lacks SUCCESS" };
  }
}

/**
 * The action to report after a successful hand-off, or null when no DSN is ours to send:
 * delivered into a local mailbox → "delivered"; accepted by a next hop that advertised DSN
 * (we passed NOTIFY/ORCPT/RET/ENVID on) → null, the next hop reports; accepted by a next hop
 * without DSN → "relayed" (RFC 3461 §5.2.2).
 */
export function successAction(nextHop: "local" | "remote-with-dsn" | "remote-without-dsn"): DsnAction | null {
  if (nextHop === "local") return "delivered";
  if (nextHop === "remote-without-dsn") return "relayed";
  return null;
}
