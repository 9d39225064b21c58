// Web login sessions, held server-side in memory (a restart logs everyone out; docs/web.md).
// The cookie carries a random 32-byte id; the table is keyed by its SHA-256, so even a memory
// dump of the table does not yield usable cookies. Each session has its own CSRF token
// (synchronizer token pattern, OWASP CSRF cheat sheet), an idle timeout and an absolute one.
// Login always makes a new id (no session fixation); logout deletes the row.
import { createHash, randomBytes } from "node:crypto";
import type { Clock } from "../clock.ts";

export interface SessionOptions {
  idleMs: number;
  absoluteMs: number;
  /** Oldest sessions are dropped beyond this many. */
  maxSessions?: number;
}

export const DEFAULT_SESSION_OPTIONS: SessionOptions = { idleMs: 30 * 60_000, absoluteMs: 12 * 3600_000, maxSessions: 10_000 };

export interface Session {
  userId: number;
  /** SHA-256 of the password hash at login: a password change anywhere (CLI too) ends the session. */
  credential: string;
  csrf: string;
  createdAt: number;
  lastSeenAt: number;
}

const digest = (id: string): string => createHash("sha256").update(id).digest("hex");
export const credentialOf = (passwordHash: string): string => createHash("sha256").update(passwordHash).digest("hex");

export class SessionStore {
  #clock: Clock;
  #opts: SessionOptions;
  #byHash = new Map<string, Session>();
  constructor(clock: Clock, opts: Partial<SessionOptions> = {}) {
    this.#clock = clock;
    this.#opts = { ...DEFAULT_SESSION_OPTIONS, ...opts };
  }

  /** A new session; returns the cookie value (shown to the browser only). */
  create(userId: number, passwordHash: string): { id: string; session: Session } {
    const now = this.#clock.now();
    const id = randomBytes(32).toString("base64url");
    const session: Session = { userId, credential: credentialOf(passwordHash), csrf: randomBytes(32).toString("base64url"), createdAt: now, lastSeenAt: now };
    this.#byHash.set(digest(id), session);
    const max = this.#opts.maxSessions ?? Infinity;
    while (this.#byHash.size > max) this.#byHash.delete(this.#byHash.keys().next().value!);
    return { id, session };
  }

  /** The live session for a cookie value (and it counts as activity), or null when expired or unknown. */
  get(id: string): Session | null {
    if (id.length > 100) return null;
    const h = digest(id);
    const s = this.#byHash.get(h);
    if (!s) return null;
    const now = this.#clock.now();
    if (now - s.lastSeenAt > this.#opts.idleMs || now - s.createdAt > this.#opts.absoluteMs) {
      this.#byHash.delete(h);
      return null;
    }
    s.lastSeenAt = now;
    return s;
  }

  delete(id: string): void {
    this.#byHash.delete(digest(id));
  }

  /** Every session of a user ends (password change, disable, removal). */
  deleteUser(userId: number): void {
    for (const [h, s] of this.#byHash) if (s.userId === userId) this.#byHash.delete(h);
  }
}
