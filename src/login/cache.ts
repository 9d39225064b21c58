// Login cache: password hashes are deliberately slow (scrypt), and mail clients reconnect often,
// so a successful login is remembered for a while. The key is HMAC-SHA256(server secret,
// user NUL password): the cache never holds a password or anything that tests one offline
// without the secret. Entries live at most ttlMs (≤ 10 minutes) and carry the password hash
// they were checked against: the authenticator compares it with the stored one on every hit,
// so a password change, a disabled account or a disabled domain takes effect at once even if
// nobody calls flushUser() (which exists for app-password revocation and explicit flushes).
import { createHmac } from "node:crypto";
import type { Clock } from "../clock.ts";
import type { Id } from "../store/types.ts";

export const MAX_LOGIN_CACHE_TTL_MS = 10 * 60_000;

export interface CachedLogin {
  userId: Id;
  /** The stored hash the password was verified against (the app password's, for one). */
  passwordHash: string;
  /** Set when the login used an app password: the hit is good only while that row is unchanged. */
  appPasswordId?: Id;
  expires: number;
}

export interface LoginCacheOptions {
  secret: Buffer | string;
  clock: Clock;
  ttlMs?: number;
  maxEntries?: number;
}

export class LoginCache {
  #secret: Buffer | string;
  #clock: Clock;
  #ttl: number;
  #max: number;
  #entries = new Map<string, CachedLogin>();

  constructor(opts: LoginCacheOptions) {
    this.#secret = opts.secret;
    this.#clock = opts.clock;
    this.#ttl = Math.min(opts.ttlMs ?? MAX_LOGIN_CACHE_TTL_MS, MAX_LOGIN_CACHE_TTL_MS);
    this.#max = opts.maxEntries ?? 50_000;
  }

  #key(user: string, password: string): string {
    return createHmac("sha256", this.#secret).update(user.trim().toLowerCase()).update("\0").update(password).digest("base64");
  }

  get(user: string, password: string): CachedLogin | null {
    const k = this.#key(user, password);
    const e = this.#entries.get(k);
    if (!e) return null;
    if (this.#clock.now() >= e.expires) {
      this.#entries.delete(k);
      return null;
    }
    return e;
  }

  put(user: string, password: string, userId: Id, passwordHash: string, appPasswordId?: Id): void {
    if (this.#ttl <= 0) return;
    if (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    const e: CachedLogin = { userId, passwordHash, expires: this.#clock.now() + this.#ttl };
    if (appPasswordId !== undefined) e.appPasswordId = appPasswordId;
    this.#entries.set(this.#key(user, password), e);
  }

  drop(user: string, password: string): void {
    this.#entries.delete(this.#key(user, password));
  }

  /** Forget every cached login of a user (password change, disable, app-password revoke). */
  flushUser(userId: Id): void {
    for (const [k, e] of this.#entries) if (e.userId === userId) this.#entries.delete(k);
  }

  flushAll(): void {
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }
}
