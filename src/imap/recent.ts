// \Recent for IMAP4rev1 sessions (RFC 3501 §2.3.2): a message is recent in exactly one session,
// the first one to be told about it with the mailbox selected read-write (SELECT, or new mail
// announced later). EXAMINE shows what no session has claimed yet and claims nothing (RFC 3501
// §6.3.2). IMAP4rev2 has no \Recent (RFC 9051 Appendix E) and claims nothing either.
//
// Per mailbox the server keeps one number, the highest UID some session has claimed: UIDs above
// it are recent for whoever claims them first. Claims are decided in memory (one process, so
// two sessions can never both win a UID) and written behind to the settings table, so a
// restart does not make old mail recent again (a claim not yet written when the process dies
// is recent once more after the restart: \Recent is advisory). A mailbox never tracked (before
// this existed) starts at 0: its first SELECT sees every message as recent, as with a new
// Dovecot index. The key carries UIDVALIDITY (a mailbox that comes back under its name after
// DELETE then CREATE starts from nothing) and is a per-user settings key (userSettingKey), so
// removing the user removes every horizon of theirs with them.
import type { Id, MetadataStore } from "../store/types.ts";
import { userSettingKey } from "../store/types.ts";
import type { Logger } from "../log/logger.ts";

/** UIDs lo..hi (inclusive) were claimed as recent. */
export type UidRange = readonly [number, number];

const key = (userId: Id, mailboxId: Id, uidValidity: number): string =>
  userSettingKey(userId, `imap.recent.${mailboxId}.${uidValidity}`);

export class RecentClaims {
  readonly #store: MetadataStore;
  readonly #claimed = new Map<string, number>();
  readonly #loading = new Map<string, Promise<number>>();

  constructor(store: MetadataStore) {
    this.#store = store;
  }

  /** Highest UID claimed so far in the mailbox (0: none). */
  async horizon(userId: Id, mailboxId: Id, uidValidity: number): Promise<number> {
    const k = key(userId, mailboxId, uidValidity);
    const known = this.#claimed.get(k);
    if (known !== undefined) return known;
    let p = this.#loading.get(k);
    if (!p) {
      p = this.#store.settings.get(k).then(
        (v) => Number(v ?? 0) || 0,
        () => 0,
      );
      this.#loading.set(k, p);
    }
    const v = await p;
    this.#loading.delete(k);
    // Another caller may have claimed meanwhile: never move the horizon down.
    const now = Math.max(v, this.#claimed.get(k) ?? 0);
    this.#claimed.set(k, now);
    return now;
  }

  /**
   * Claims the UIDs above the horizon up to `upTo` for the caller: the range it won, or null.
   * The in-memory step is synchronous after the horizon is known, so no UID is won twice. The
   * new horizon is written behind (coalesced per mailbox), so a claim adds no write to the
   * command's latency.
   */
  async claim(userId: Id, mailboxId: Id, uidValidity: number, upTo: number, log?: Logger): Promise<UidRange | null> {
    const h = await this.horizon(userId, mailboxId, uidValidity);
    const k = key(userId, mailboxId, uidValidity);
    const cur = Math.max(h, this.#claimed.get(k) ?? 0);
    if (upTo <= cur) return null;
    this.#claimed.set(k, upTo);
    this.#unsaved.set(k, upTo);
    if (log) this.#log = log;
    this.#flushing ??= this.#flush();
    return [cur + 1, upTo];
  }

  #unsaved = new Map<string, number>();
  #flushing: Promise<void> | null = null;
  #log: Logger | undefined;

  async #flush(): Promise<void> {
    try {
      while (this.#unsaved.size) {
        const batch = [...this.#unsaved];
        this.#unsaved.clear();
        for (const [k, v] of batch) {
          try {
            await this.#store.settings.set(k, String(v));
          } catch (e) {
            // Advisory state: the claim holds in memory; after a restart these may be recent again.
            this.#log?.warn({ err: e }, "imap: could not persist \\Recent horizon");
          }
        }
      }
    } finally {
      this.#flushing = null;
    }
  }

  /** Resolves when every claim so far is written (tests, shutdown). */
  async flushed(): Promise<void> {
    while (this.#flushing) await this.#flushing;
  }

  /** DELETE of a mailbox: its horizon goes with it. */
  async forget(userId: Id, mailboxId: Id, uidValidity: number): Promise<void> {
    const k = key(userId, mailboxId, uidValidity);
    this.#claimed.delete(k);
    this.#unsaved.delete(k);
    await this.flushed();
    await this.#store.settings.delete(k).catch(() => undefined);
  }
}

const byStore = new WeakMap<MetadataStore, RecentClaims>();

/** The one tracker of a store (one per process, like the store). */
export function recentClaims(store: MetadataStore): RecentClaims {
  let r = byStore.get(store);
  if (!r) {
    r = new RecentClaims(store);
    byStore.set(store, r);
  }
  return r;
}
