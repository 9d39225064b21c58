// Login limits and cache: per-IP and per-account limits, HMAC-keyed cache with TTL, and that a
// password change or disable takes effect at once even for a cached login.
import { test } from "node:test";
import assert from "node:assert/strict";
import { accountsFixture } from "../accounts/testing.ts";
import { SYSTEM } from "../accounts/authz.ts";
import { ManualClock } from "../clock.ts";
import { LoginLimiter } from "./limiter.ts";
import { LoginCache, MAX_LOGIN_CACHE_TTL_MS } from "./cache.ts";
import { createAuthenticator } from "./authenticator.ts";

test("limiter: per-account limit, per-IP limit, window expiry, success clears the account", () => {
  const clock = new ManualClock();
  const l = new LoginLimiter({ clock, perIp: { max: 5, windowMs: 60_000 }, perAccount: { max: 3, windowMs: 60_000 } });
  for (let i = 0; i < 3; i++) l.failed("10.0.0.1", "a@x");
  const v = l.check("10.0.0.2", "A@X");
  assert.equal(v.allowed, false);
  assert.equal(!v.allowed && v.by, "account");
  assert.equal(l.check("10.0.0.2", "b@x").allowed, true);
  l.failed("10.0.0.1", "b@x");
  l.failed("10.0.0.1", "c@x");
  const ip = l.check("10.0.0.1", "d@x");
  assert.equal(!ip.allowed && ip.by, "ip");
  clock.advance(60_000);
  assert.equal(l.check("10.0.0.1", "a@x").allowed, true);
  for (let i = 0; i < 3; i++) l.failed("10.0.0.3", "e@x");
  l.succeeded("10.0.0.4", "e@x");
  assert.equal(l.check("10.0.0.3", "e@x").allowed, true);
});

test("cache: HMAC keys, TTL capped at 10 minutes, flushUser", () => {
  const clock = new ManualClock();
  const c = new LoginCache({ secret: "s", clock, ttlMs: 3_600_000 });
  c.put("u@x", "pw", 7, "hash");
  assert.equal(c.get("U@X", "pw")?.userId, 7);
  assert.equal(c.get("u@x", "other"), null);
  clock.advance(MAX_LOGIN_CACHE_TTL_MS);
  assert.equal(c.get("u@x", "pw"), null, "TTL is at most 10 minutes");
  c.put("u@x", "pw", 7, "hash");
  c.put("v@x", "pw", 8, "hash");
  c.flushUser(7);
  assert.equal(c.get("u@x", "pw"), null);
  assert.equal(c.get("v@x", "pw")?.userId, 8);
});

test("authenticator: cache hit, then password change and disable take effect at once", async () => {
  const f = await accountsFixture();
  try {
    await f.accounts.addDomain(SYSTEM, "example.test");
    await f.accounts.addUser(SYSTEM, { address: "u@example.test", password: "first password" });
    const cache = new LoginCache({ secret: "s", clock: f.clock });
    const auth = createAuthenticator({ accounts: f.accounts, store: f.store, limiter: new LoginLimiter({ clock: f.clock }), cache });
    const r1 = await auth("u@example.test", "first password", "127.0.0.1");
    assert.equal(r1.ok && r1.cached, false);
    const r2 = await auth("u@example.test", "first password", "127.0.0.1");
    assert.equal(r2.ok && r2.cached, true);
    await f.accounts.setPassword(SYSTEM, "u@example.test", "second password");
    const r3 = await auth("u@example.test", "first password", "127.0.0.1");
    assert.equal(r3.ok, false, "the old password no longer works, cached or not");
    assert.equal((await auth("u@example.test", "second password", "127.0.0.1")).ok, true);
    assert.equal((await auth("u@example.test", "second password", "127.0.0.1")).ok, true);
    await f.accounts.setDisabled(SYSTEM, "u@example.test", true);
    assert.equal((await auth("u@example.test", "second password", "127.0.0.1")).ok, false, "disabled account refused despite the cache");
    assert.equal(cache.size, 0, "the stale entries were dropped");
  } finally {
    await f.close();
  }
});

test("limiter: an IPv6 /64 is one client for the prefix limit; IPv4 addresses are counted alone", () => {
  const clock = new ManualClock();
  const l = new LoginLimiter({ clock, perIp: { max: 3, windowMs: 60_000 }, perPrefix: { max: 5, windowMs: 60_000 }, perAccount: { max: 0, windowMs: 60_000 } });
  // Five addresses of one /64, one failure each: no address reaches 3, the /64 reaches 5.
  for (let i = 1; i <= 5; i++) l.failed(`2001:db8:1:2::${i}`, `u${i}@x`);
  const v = l.check("2001:db8:1:2:ffff::9", "other@x");
  assert.equal(!v.allowed && v.by, "prefix");
  assert.equal(l.check("2001:db8:1:3::1", "other@x").allowed, true, "the next /64 is another client");
  // IPv4-mapped addresses count as the IPv4 address.
  for (let i = 0; i < 3; i++) l.failed("::ffff:192.0.2.7", `s${i}@x`);
  const m = l.check("192.0.2.7", "t@x");
  assert.equal(!m.allowed && m.by, "ip");
  assert.equal(l.check("192.0.2.8", "t@x").allowed, true);
});

test("limiter: repeated lockouts double up to the maximum; a quiet window forgets", () => {
  const clock = new ManualClock();
  const l = new LoginLimiter({ clock, perIp: { max: 2, windowMs: 60_000 }, perAccount: { max: 0, windowMs: 1 }, lockoutMs: 10_000, maxLockoutMs: 35_000 });
  const lockFor = (): number => {
    l.failed("10.1.1.1", "a@x");
    l.failed("10.1.1.1", "a@x");
    const v = l.check("10.1.1.1", "a@x");
    assert.equal(v.allowed, false);
    const ms = v.allowed ? 0 : v.retryAfterMs;
    clock.advance(ms);
    assert.equal(l.check("10.1.1.1", "a@x").allowed, true);
    return ms;
  };
  assert.deepEqual([lockFor(), lockFor(), lockFor(), lockFor()], [10_000, 20_000, 35_000, 35_000]);
  clock.advance(60_000);
  assert.equal(lockFor(), 10_000, "after a quiet window the lockout starts over");
});

test("limiter: back-off doubles per recent failure of the address, capped; off by default", () => {
  const clock = new ManualClock();
  const l = new LoginLimiter({ clock, perIp: { max: 100, windowMs: 60_000 }, penaltyMs: 100, maxPenaltyMs: 1000 });
  assert.equal(l.penaltyMs("10.2.2.2"), 0);
  const seen: number[] = [];
  for (let i = 0; i < 6; i++) {
    l.failed("10.2.2.2", `u${i}@x`);
    seen.push(l.penaltyMs("10.2.2.2"));
  }
  assert.deepEqual(seen, [100, 200, 400, 800, 1000, 1000]);
  assert.equal(l.penaltyMs("10.2.2.3"), 0, "other addresses are not slowed");
  clock.advance(60_000);
  assert.equal(l.penaltyMs("10.2.2.2"), 0, "forgotten after a quiet window");
  const off = new LoginLimiter({ clock });
  off.failed("10.2.2.2", "a@x");
  assert.equal(off.penaltyMs("10.2.2.2"), 0);
});

test("limiter: an address that logged in before is exempt from that account's lockout, not from its own", () => {
  const clock = new ManualClock();
  const l = new LoginLimiter({ clock, perIp: { max: 20, windowMs: 60_000 }, perAccount: { max: 3, windowMs: 60_000 }, trustedMs: 3_600_000 });
  l.succeeded("10.3.3.3", "owner@x");
  for (let i = 0; i < 3; i++) l.failed("203.0.113.9", "owner@x");
  const attacker = l.check("203.0.113.9", "owner@x");
  assert.equal(!attacker.allowed && attacker.by, "account");
  assert.equal(l.check("10.3.3.3", "owner@x").allowed, true, "the owner's usual address still gets in");
  clock.advance(3_600_000);
  for (let i = 0; i < 3; i++) l.failed("203.0.113.9", "owner@x");
  assert.equal(l.check("10.3.3.3", "owner@x").allowed, false, "the exemption expires");
});

test("limiter: password spraying (one guess per account) is stopped by the address limit", () => {
  const clock = new ManualClock();
  const l = new LoginLimiter({ clock, perIp: { max: 10, windowMs: 60_000 }, perAccount: { max: 10, windowMs: 60_000 } });
  let tried = 0;
  for (let i = 0; i < 100; i++) {
    if (!l.check("198.51.100.1", `user${i}@x`).allowed) break;
    l.failed("198.51.100.1", `user${i}@x`);
    tried++;
  }
  assert.equal(tried, 10);
});

test("authenticator: unknown user and wrong password both 'failed', both delayed by the back-off", async () => {
  const f = await accountsFixture();
  try {
    await f.accounts.addDomain(SYSTEM, "example.test");
    await f.accounts.addUser(SYSTEM, { address: "u@example.test", password: "right password" });
    const delays: number[] = [];
    const limiter = new LoginLimiter({ clock: f.clock, perIp: { max: 3, windowMs: 60_000 }, penaltyMs: 50, maxPenaltyMs: 1000 });
    const auth = createAuthenticator({ accounts: f.accounts, store: f.store, limiter, cache: null, delay: async (ms) => void delays.push(ms) });
    assert.deepEqual(await auth("u@example.test", "wrong", "10.9.9.9"), { ok: false, reason: "failed" });
    assert.deepEqual(await auth("nobody@example.test", "wrong", "10.9.9.9"), { ok: false, reason: "failed" });
    assert.deepEqual(await auth("nobody@nowhere.test", "wrong", "10.9.9.9"), { ok: false, reason: "failed" });
    const locked = await auth("u@example.test", "right password", "10.9.9.9");
    assert.equal(locked.ok === false && locked.reason, "limited");
    assert.deepEqual(delays, [50, 100, 200, 200]);
    assert.equal((await auth("u@example.test", "right password", "10.9.9.8")).ok, true);
  } finally {
    await f.close();
  }
});
