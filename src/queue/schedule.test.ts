import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import {
  DEFAULT_RETRY_POLICY,
  DEFAULT_THROTTLE_POLICY,
  afterTemporaryFailure,
  dueForDelayWarning,
  expiresAt,
  initialThrottleState,
  isThrottleReply,
  mayConnect,
  planAfterTemporaryFailure,
  retryDelayMs,
  retryPolicy,
  throttleAfterReply,
  throttleAfterSuccess,
} from "./schedule.ts";
import type { RetryState, ThrottleState } from "./schedule.ts";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

test("delays grow exponentially from the initial delay and stop at the cap", () => {
  const p = retryPolicy();
  const delays = [1, 2, 3, 4, 5, 6, 7, 50, 1e9].map((n) => retryDelayMs(p, n));
  assert.deepEqual(delays.slice(0, 5), [5 * MIN, 10 * MIN, 20 * MIN, 40 * MIN, 60 * MIN]);
  for (const d of delays.slice(4)) assert.equal(d, p.maxDelayMs);
  for (let i = 1; i < delays.length; i++) assert.ok(delays[i] >= delays[i - 1]);
});

test("jitter only shortens the delay, within the configured fraction", () => {
  const p = retryPolicy({ jitter: 0.2 });
  assert.equal(retryDelayMs(p, 3, () => 0), 20 * MIN);
  assert.equal(retryDelayMs(p, 3, () => 0.5), Math.round(20 * MIN * 0.9));
  assert.ok(retryDelayMs(p, 3, () => 0.999999) >= 20 * MIN * 0.8);
});

test("a configuration that makes no sense is refused", () => {
  assert.throws(() => retryPolicy({ initialDelayMs: 0 }), RangeError);
  assert.throws(() => retryPolicy({ factor: 0.5 }), RangeError);
  assert.throws(() => retryPolicy({ maxDelayMs: 1, initialDelayMs: 2 }), RangeError);
  assert.throws(() => retryPolicy({ jitter: 2 }), RangeError);
});

test("walking the whole default schedule: one delay warning at 4 h, last try at expiry, then bounce", () => {
  const p = retryPolicy();
  const clock = new ManualClock(Date.UTC(2026, 10, 23, 12, 0, 0));
  const queuedAt = clock.now();
  let state: RetryState = { queuedAt, failedAttempts: 0, delayWarned: false };
  const attemptTimes: number[] = [];
  const warnings: number[] = [];
  let expiredAt: number | null = null;
  for (let guard = 0; guard < 10_000; guard++) {
    attemptTimes.push(clock.now());
    const d = planAfterTemporaryFailure(p, state, clock);
    state = d.state;
    if (d.kind === "expire") {
      expiredAt = clock.now();
      break;
    }
    if (d.warnDelay) warnings.push(clock.now());
    assert.ok(d.at > clock.now(), "the next attempt is in the future");
    clock.set(d.at);
  }
  assert.ok(expiredAt !== null, "the schedule ends");
  assert.equal(expiredAt, queuedAt + 5 * DAY, "gives up exactly at the 5-day lifetime");
  assert.equal(warnings.length, 1, "exactly one delay warning");
  assert.ok(warnings[0] - queuedAt >= 4 * HOUR && warnings[0] - queuedAt < 5 * HOUR, "warning soon after 4 h");
  // Attempt gaps: doubling up to the cap, never more than the cap.
  const gaps = attemptTimes.slice(1).map((t, i) => t - attemptTimes[i]);
  assert.deepEqual(gaps.slice(0, 4), [5 * MIN, 10 * MIN, 20 * MIN, 40 * MIN]);
  for (const g of gaps) assert.ok(g <= HOUR);
  // About one attempt an hour for five days.
  assert.ok(attemptTimes.length > 110 && attemptTimes.length < 130, `attempts: ${attemptTimes.length}`);
  assert.equal(state.failedAttempts, attemptTimes.length);
});

test("a short configured lifetime clamps the next attempt to the expiry", () => {
  const p = retryPolicy({ maxLifetimeMs: 12 * MIN, delayWarningMs: 0 });
  const s0: RetryState = { queuedAt: 0, failedAttempts: 0, delayWarned: false };
  const d1 = afterTemporaryFailure(p, s0, 0);
  assert.equal(d1.kind, "retry");
  if (d1.kind !== "retry") return;
  assert.equal(d1.at, 5 * MIN);
  const d2 = afterTemporaryFailure(p, d1.state, 5 * MIN);
  assert.equal(d2.kind === "retry" && d2.at, 12 * MIN, "10 min would pass expiry; clamped to 12");
  assert.equal(d2.kind === "retry" && d2.warnDelay, false, "warnings disabled");
  assert.equal(afterTemporaryFailure(p, d2.state, 12 * MIN).kind, "expire");
});

test("the delay warning is due once, not after expiry, and not when the lifetime is shorter", () => {
  const p = retryPolicy();
  const s: RetryState = { queuedAt: 0, failedAttempts: 3, delayWarned: false };
  assert.equal(dueForDelayWarning(p, s, 4 * HOUR - 1), false);
  assert.equal(dueForDelayWarning(p, s, 4 * HOUR), true);
  assert.equal(dueForDelayWarning(p, { ...s, delayWarned: true }, 5 * HOUR), false);
  assert.equal(dueForDelayWarning(p, s, expiresAt(p, 0)), false);
  assert.equal(dueForDelayWarning(retryPolicy({ maxLifetimeMs: 3 * HOUR }), s, 2.9 * HOUR), false);
  assert.equal(DEFAULT_RETRY_POLICY.delayWarningMs, 4 * HOUR);
});

test("throttling replies are told apart from other temporary failures", () => {
  assert.equal(isThrottleReply(421, "4.7.0"), true);
  assert.equal(isThrottleReply(421, "4.7.28"), true);
  assert.equal(isThrottleReply(451, "4.7.1"), true);
  assert.equal(isThrottleReply(421, "4.3.2"), false, "shutting down is not throttling");
  assert.equal(isThrottleReply(452, "4.7.1"), false);
  assert.equal(isThrottleReply(550, "5.7.1"), false);
  assert.equal(isThrottleReply(421, null, "Too many connections from your IP"), true);
  assert.equal(isThrottleReply(421, null, "Service not available, closing channel"), false);
});

test("throttling pauses the destination, halves concurrency, and successes earn it back", () => {
  const p = DEFAULT_THROTTLE_POLICY;
  const clock = new ManualClock(0);
  let s: ThrottleState = initialThrottleState(p);
  assert.equal(mayConnect(s, 19, clock.now()), true);
  assert.equal(mayConnect(s, 20, clock.now()), false);

  const pauses: number[] = [];
  for (let i = 0; i < 10; i++) {
    s = throttleAfterReply(p, s, clock.now());
    pauses.push(s.pausedUntil - clock.now());
    assert.equal(mayConnect(s, 0, clock.now()), false, "paused right after the reply");
    clock.set(s.pausedUntil);
    assert.equal(mayConnect(s, 0, clock.now()), true, "open again when the pause ends");
  }
  assert.deepEqual(pauses.slice(0, 4), [MIN, 2 * MIN, 4 * MIN, 8 * MIN]);
  assert.equal(Math.max(...pauses), p.maxPauseMs);
  assert.equal(s.concurrency, 1, "never below one connection");

  let successes = 0;
  while (s.concurrency < p.maxConcurrency) {
    s = throttleAfterSuccess(p, s);
    successes++;
    assert.ok(successes < 1000);
  }
  assert.equal(successes, (p.maxConcurrency - 1) * p.successesPerStep);
  assert.equal(s.strikes, 0);
  assert.equal(throttleAfterSuccess(p, s).concurrency, p.maxConcurrency, "capped");
});

test("a throttle reply during a longer pause does not shorten it", () => {
  const p = DEFAULT_THROTTLE_POLICY;
  const s = { ...initialThrottleState(p), pausedUntil: 10 * HOUR };
  assert.equal(throttleAfterReply(p, s, 0).pausedUntil, 10 * HOUR);
});
