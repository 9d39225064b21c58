// Outbound SMTP sessions kept open between messages to the same host, so a burst of mail to one
// relay or MX runs many transactions over a few sessions instead of connect, greeting, EHLO,
// STARTTLS, AUTH and QUIT for every message (Postfix's connection cache does the same:
// smtp_connection_cache_on_demand, 2 s idle, reuse limits).
//
// Invariants:
// - A session is lent to one delivery at a time; only a session whose every transaction
//   succeeded and whose connection is still open comes back (anything else is closed, so a
//   session is never reused in an unknown state: no RSET games after errors).
// - Sessions are keyed by everything that shapes them (address, port, name, TLS policy, login,
//   EHLO name): a session made for one relay's credentials never carries another's mail.
// - An idle session is closed after `idleMs` (the server may drop it sooner: RFC 5321 §4.5.3.2.7
//   gives it 5 minutes, many use less), after `maxMessages` transactions or at `maxAgeMs`.
//   A server that closed an idle session is noticed by its "end" event; the one race left (it
//   closes as we start) fails before the final dot, and the caller retries once on a new session.
// - The pool never opens more sessions than deliveries asked for at once: one is opened only when
//   no idle one fits, so per-destination connection limits (the runner's) still bound it.
import type { Clock } from "../clock.ts";
import type { Logger } from "../log/logger.ts";
import { openSession } from "./smtp-client.ts";
import type { SessionTarget, SmtpSession } from "./smtp-client.ts";

export interface SessionPoolOptions {
  clock: Clock;
  /** Close a session idle this long (ms, default 2000). */
  idleMs?: number;
  /** Transactions per session before it is closed (default 100). */
  maxMessages?: number;
  /** Close a session this old when it comes back (ms, default 300 000). */
  maxAgeMs?: number;
  /** Idle sessions kept per target (default 20). */
  maxIdlePerTarget?: number;
  /** How a new session is opened (tests). */
  open?: (target: SessionTarget, log: Logger) => Promise<SmtpSession>;
}

/** A session lent to one delivery. */
export interface SessionLease {
  readonly session: SmtpSession;
  /** True when the session carried mail before (it may have been closed by the server meanwhile). */
  readonly reused: boolean;
  readonly key: string;
  readonly openedAt: number;
  uses: number;
}

interface IdleSession {
  lease: SessionLease;
  timer: NodeJS.Timeout;
}

export function targetKey(t: SessionTarget): string {
  return JSON.stringify([t.address, t.port, t.servername.toLowerCase(), t.tls, t.auth?.user ?? null, t.auth?.pass ?? null, t.localName, t.tlsOptions ? 1 : 0]);
}

export class SessionPool {
  #o: Required<Omit<SessionPoolOptions, "open">> & Pick<SessionPoolOptions, "open">;
  #idle = new Map<string, IdleSession[]>();
  #closed = false;
  /** Sessions opened and transactions that reused one (for tests and logs). */
  readonly stats = { opened: 0, reused: 0 };

  constructor(opts: SessionPoolOptions) {
    this.#o = { idleMs: 2000, maxMessages: 100, maxAgeMs: 300_000, maxIdlePerTarget: 20, ...opts };
  }

  /** An idle session for the target if one is open, else a new one (which may throw SessionError). */
  async acquire(target: SessionTarget, log: Logger): Promise<SessionLease> {
    const key = targetKey(target);
    const list = this.#idle.get(key);
    while (list && list.length > 0) {
      // Most recently used first: the warmest session, and the others age out.
      const idle = list.pop()!;
      clearTimeout(idle.timer);
      if (list.length === 0) this.#idle.delete(key);
      if (!idle.lease.session.open) continue;
      this.stats.reused++;
      return { ...idle.lease, reused: true };
    }
    const session = await (this.#o.open ?? openSession)(target, log);
    this.stats.opened++;
    return { session, reused: false, key, openedAt: this.#o.clock.now(), uses: 0 };
  }

  /** Returns a lease: kept for the next message when `reusable` and within limits, else closed. */
  release(lease: SessionLease, reusable: boolean): void {
    lease.uses++;
    const keep =
      reusable &&
      !this.#closed &&
      lease.session.open &&
      lease.uses < this.#o.maxMessages &&
      this.#o.clock.now() - lease.openedAt < this.#o.maxAgeMs &&
      (this.#idle.get(lease.key)?.length ?? 0) < this.#o.maxIdlePerTarget;
    if (!keep) {
      lease.session.close();
      return;
    }
    const list = this.#idle.get(lease.key) ?? [];
    const idle: IdleSession = {
      lease,
      timer: setTimeout(() => {
        const l = this.#idle.get(lease.key);
        const i = l?.indexOf(idle) ?? -1;
        if (l && i >= 0) {
          l.splice(i, 1);
          if (l.length === 0) this.#idle.delete(lease.key);
        }
        lease.session.close();
      }, this.#o.idleMs),
    };
    idle.timer.unref?.();
    list.push(idle);
    this.#idle.set(lease.key, list);
  }

  /** Idle sessions now. */
  idleCount(): number {
    let n = 0;
    for (const l of this.#idle.values()) n += l.length;
    return n;
  }

  /** Closes every idle session (QUIT); sessions returned later are closed too. */
  closeAll(): void {
    this.#closed = true;
    for (const list of this.#idle.values()) {
      for (const idle of list) {
        clearTimeout(idle.timer);
        idle.lease.session.close();
      }
    }
    this.#idle.clear();
  }
}
