// Retry schedule for the outbound queue, as pure functions of the queue entry and the time.
//
// The queue worker reads `now` from an injected Clock and asks these functions what to do; no
// state lives here, so tests walk the whole five-day schedule with a ManualClock in a blink.
//
// Defaults follow Postfix, the reference most operators know:
//   minimal_backoff_time 300s, maximal_backoff_time 4000s  → first retry after 5 min, doubling,
//     capped (we cap at 1 h: fewer attempts against a host that is down for days)
//   delay_warning_time 4h                                   → one "delayed" DSN after 4 h
//   maximal_queue_lifetime 5d                               → give up and bounce after 5 days
// RFC 5321 §4.5.4.1: "the retry interval SHOULD be at least 30 minutes" for a retry of the
// same destination; a first retry after 5 minutes is the common practice of every MTA that
// keeps per-destination state (greylisting is usually cleared within 5 minutes), and the
// interval then grows well past 30 minutes. "Retries continue until the message is
// transmitted or the sender gives up; the give-up time generally needs to be at least 4-5
// days" — hence the 5-day lifetime.
import type { Clock } from "../clock.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export interface RetryPolicy {
  /** Delay after the first failed attempt. */
  initialDelayMs: number;
  /** Each further delay is the previous one times this factor. */
  factor: number;
  /** No delay is longer than this. */
  maxDelayMs: number;
  /** Give up (final DSN) once the entry is this old. */
  maxLifetimeMs: number;
  /** Send one "delayed" DSN once the entry is this old and still undelivered; 0 disables. */
  delayWarningMs: number;
  /**
   * Spread retries by up to this fraction of the delay (0..1), so entries that failed
   * together do not all return together. Needs `random` in the call; 0 by default.
   */
  jitter: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  initialDelayMs: 5 * MINUTE,
  factor: 2,
  maxDelayMs: HOUR,
  maxLifetimeMs: 5 * DAY,
  delayWarningMs: 4 * HOUR,
  jitter: 0,
});

/** Fills in defaults and refuses nonsense, so a bad config fails at load, not at 3 a.m. */
export function retryPolicy(partial: Partial<RetryPolicy> = {}): RetryPolicy {
  const p: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...partial };
  if (!(p.initialDelayMs > 0)) throw new RangeError("initialDelayMs must be > 0");
  if (!(p.factor >= 1)) throw new RangeError("factor must be >= 1");
  if (!(p.maxDelayMs >= p.initialDelayMs)) throw new RangeError("maxDelayMs must be >= initialDelayMs");
  if (!(p.maxLifetimeMs > 0)) throw new RangeError("maxLifetimeMs must be > 0");
  if (!(p.delayWarningMs >= 0)) throw new RangeError("delayWarningMs must be >= 0");
  if (!(p.jitter >= 0 && p.jitter <= 1)) throw new RangeError("jitter must be within 0..1");
  return p;
}

/**
 * The wait after the `failedAttempts`-th failed attempt (1 = the first attempt failed):
 * initialDelay · factor^(n-1), capped at maxDelay. `random` (0 ≤ r < 1) applies the jitter.
 */
export function retryDelayMs(policy: RetryPolicy, failedAttempts: number, random?: () => number): number {
  const n = Math.max(1, Math.floor(failedAttempts));
  // Computed in log space so a huge attempt count cannot overflow to Infinity·0 = NaN.
  const exp = Math.min(n - 1, 1000);
  const raw = policy.initialDelayMs * Math.pow(policy.factor, exp);
  const base = Math.min(policy.maxDelayMs, Number.isFinite(raw) ? raw : policy.maxDelayMs);
  if (policy.jitter > 0 && random) {
    // Jitter only shortens: the cap and the lifetime stay upper bounds.
    return Math.round(base * (1 - policy.jitter * random()));
  }
  return base;
}

/** The state of one queued recipient that the schedule depends on. */
export interface RetryState {
  /** When the message entered the queue (ms since epoch). */
  queuedAt: number;
  /** Attempts made so far that ended in a temporary failure. */
  failedAttempts: number;
  /** Whether the "delayed" DSN has already gone out. */
  delayWarned: boolean;
}

/** When the queue gives up on the entry (RFC 3464 §2.3.9 Will-Retry-Until). */
export function expiresAt(policy: RetryPolicy, queuedAt: number): number {
  return queuedAt + policy.maxLifetimeMs;
}

export function isExpired(policy: RetryPolicy, queuedAt: number, now: number): boolean {
  return now >= expiresAt(policy, queuedAt);
}

/** True once, when the entry has waited delayWarningMs and no warning went out yet. */
export function dueForDelayWarning(policy: RetryPolicy, state: RetryState, now: number): boolean {
  if (policy.delayWarningMs <= 0 || state.delayWarned) return false;
  // A warning that would arrive with or after the final bounce says nothing new.
  if (policy.delayWarningMs >= policy.maxLifetimeMs) return false;
  return now - state.queuedAt >= policy.delayWarningMs && !isExpired(policy, state.queuedAt, now);
}

export type TempFailureDecision =
  | {
      kind: "retry";
      /** When to try again (ms since epoch). */
      at: number;
      /** Send the "delayed" DSN now (RFC 3464 Action: delayed) and mark delayWarned. */
      warnDelay: boolean;
      /** The state to store. */
      state: RetryState;
    }
  | {
      /** The lifetime is over: bounce with a final "failed" DSN (4.4.7, RFC 3463). */
      kind: "expire";
      state: RetryState;
    };

/**
 * What to do after an attempt that ended in a temporary failure (4xx, connection or TLS
 * failure). The next attempt never lands past the expiry: one last try is made at expiry time
 * so that a destination that comes back on day five still gets its mail.
 */
export function afterTemporaryFailure(
  policy: RetryPolicy,
  prev: RetryState,
  now: number,
  random?: () => number,
): TempFailureDecision {
  const state: RetryState = { ...prev, failedAttempts: prev.failedAttempts + 1 };
  const expiry = expiresAt(policy, prev.queuedAt);
  if (now >= expiry) return { kind: "expire", state };
  const warnDelay = dueForDelayWarning(policy, state, now);
  if (warnDelay) state.delayWarned = true;
  const at = Math.min(now + retryDelayMs(policy, state.failedAttempts, random), expiry);
  return { kind: "retry", at, warnDelay, state };
}

/** The same decision, reading the time from the injected clock. */
export function planAfterTemporaryFailure(
  policy: RetryPolicy,
  prev: RetryState,
  clock: Clock,
  random?: () => number,
): TempFailureDecision {
  return afterTemporaryFailure(policy, prev, clock.now(), random);
}

// ---------------------------------------------------------------------------------------------
// Per-destination throttling.
//
// Large receivers answer "421 4.7.0 Try again later" / "421 4.7.28 ... rate limited" (Gmail) or
// "451 4.7.1" when we send too fast. Retrying each message on its own schedule would keep
// hammering; instead the whole destination (MX host or relay route) pauses and its concurrency
// shrinks, and successes slowly earn the concurrency back (additive increase, multiplicative
// decrease, as TCP does for the same reason).

export interface ThrottlePolicy {
  /** First pause after a throttling reply. */
  initialPauseMs: number;
  /** Longest pause. */
  maxPauseMs: number;
  /** Concurrency when unthrottled (issue 4: 20 per destination). */
  maxConcurrency: number;
  /** Successful deliveries needed to regain one connection. */
  successesPerStep: number;
}

export const DEFAULT_THROTTLE_POLICY: Readonly<ThrottlePolicy> = Object.freeze({
  initialPauseMs: MINUTE,
  maxPauseMs: HOUR,
  maxConcurrency: 20,
  successesPerStep: 10,
});

export interface ThrottleState {
  /** Consecutive throttling replies without a success between them. */
  strikes: number;
  /** No new connection to the destination before this time. */
  pausedUntil: number;
  /** Connections currently allowed. */
  concurrency: number;
  /** Successes counted towards the next concurrency step. */
  successes: number;
}

export function initialThrottleState(policy: ThrottlePolicy = DEFAULT_THROTTLE_POLICY): ThrottleState {
  return { strikes: 0, pausedUntil: 0, concurrency: policy.maxConcurrency, successes: 0 };
}

/**
 * Whether an SMTP reply means "you are sending too fast" rather than a problem with this
 * message: RFC 3463 class 4 with subject 7 (security/policy) on a 421 or 451, or a 421 that
 * says so without an enhanced code. A plain 421 (service shutting down) is not throttling.
 */
export function isThrottleReply(code: number, enhanced?: string | null, text = ""): boolean {
  if (code !== 421 && code !== 450 && code !== 451) return false;
  if (enhanced) return /^4\.7\.\d{1,3}$/.test(enhanced);
  return code === 421 && /\b(rate|too (many|fast)|throttl|try again later)/i.test(text);
}

/** The state after a throttling reply: pause 1, 2, 4 … minutes (capped) and halve concurrency. */
export function throttleAfterReply(policy: ThrottlePolicy, prev: ThrottleState, now: number): ThrottleState {
  const strikes = prev.strikes + 1;
  const pause = Math.min(policy.maxPauseMs, policy.initialPauseMs * Math.pow(2, Math.min(strikes - 1, 50)));
  return {
    strikes,
    pausedUntil: Math.max(prev.pausedUntil, now + pause),
    concurrency: Math.max(1, Math.floor(prev.concurrency / 2)),
    successes: 0,
  };
}

/** The state after a successful delivery: strikes reset, concurrency grows by one per step. */
export function throttleAfterSuccess(policy: ThrottlePolicy, prev: ThrottleState): ThrottleState {
  if (prev.concurrency >= policy.maxConcurrency) return { ...prev, strikes: 0, successes: 0 };
  const successes = prev.successes + 1;
  if (successes >= policy.successesPerStep) {
    return { ...prev, strikes: 0, concurrency: prev.concurrency + 1, successes: 0 };
  }
  return { ...prev, strikes: 0, successes };
}

/** Whether one more connection may be opened now, given how many are open. */
export function mayConnect(state: ThrottleState, openConnections: number, now: number): boolean {
  return now >= state.pausedUntil && openConnections < state.concurrency;
}
