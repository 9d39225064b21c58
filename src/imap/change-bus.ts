// The change bus: who must hear about a change to a mailbox. Sessions subscribe to the mailbox
// they have selected (only that one: a session never hears about mailboxes it does not show),
// and every writer publishes the mailbox ids it touched: deliveries through the DeliveryWriter's
// onBatch hook, and IMAP sessions after STORE, EXPUNGE, COPY, MOVE, APPEND.
//
// A notification carries no data, only "look again": the subscriber re-reads what changed since
// its last HIGHESTMODSEQ (RFC 7162 §3.1), so lost or merged notifications are harmless. This
// keeps IDLE event-driven with no timer or poll per connection. A PostgreSQL backend would feed
// the same bus from LISTEN/NOTIFY.
import type { DeliveryResult, Id } from "../store/types.ts";

export type ChangeListener = (mailboxId: Id) => void;

export class ChangeBus {
  #subs = new Map<Id, Set<ChangeListener>>();

  /** Listen for changes to one mailbox; returns the function that stops listening. */
  subscribe(mailboxId: Id, fn: ChangeListener): () => void {
    let set = this.#subs.get(mailboxId);
    if (!set) {
      set = new Set();
      this.#subs.set(mailboxId, set);
    }
    set.add(fn);
    return () => {
      const s = this.#subs.get(mailboxId);
      if (!s) return;
      s.delete(fn);
      if (s.size === 0) this.#subs.delete(mailboxId);
    };
  }

  /** Tell the sessions that have this mailbox selected. Listeners must not throw. */
  publish(mailboxId: Id, except?: ChangeListener): void {
    const set = this.#subs.get(mailboxId);
    if (!set) return;
    for (const fn of [...set]) {
      if (fn === except) continue;
      try {
        fn(mailboxId);
      } catch {
        // A listener's failure is its own session's problem; the others still hear.
      }
    }
  }

  /** For DeliveryWriter's onBatch option: publish every mailbox a committed batch touched. */
  readonly onBatch = (delivered: DeliveryResult[]): void => {
    const ids = new Set<Id>();
    for (const r of delivered) for (const d of r.delivered) ids.add(d.mailboxId);
    for (const id of ids) this.publish(id);
  };

  /** Number of mailboxes with listeners (tests, metrics). */
  get watchedMailboxes(): number {
    return this.#subs.size;
  }
}
