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
