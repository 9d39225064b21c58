import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { ConnectionCounter, PregreetCache } from "./pregreet.ts";
import { clientGroup } from "./ip.ts";

test("untested clients wait; a pass is cached until its TTL", () => {
  const clock = new ManualClock();
  const p = new PregreetCache({ delayMs: 2000, passTtlMs: 60_000 }, clock);
  assert.equal(p.delayFor("192.0.2.1"), 2000);
  p.recordPass("192.0.2.1");
  assert.equal(p.delayFor("192.0.2.1"), 0);
  assert.equal(p.delayFor("::ffff:192.0.2.1"), 0);
  assert.equal(p.delayFor("192.0.2.2"), 2000);
  clock.advance(60_001);
  assert.equal(p.delayFor("192.0.2.1"), 2000);
});

test("loopback is exempt unless switched off; a failure drops the pass", () => {
  const clock = new ManualClock();
  assert.equal(new PregreetCache({}, clock).delayFor("127.0.0.1"), 0);
  const p = new PregreetCache({ exemptLoopback: false, delayMs: 100 }, clock);
  assert.equal(p.delayFor("127.0.0.1"), 100);
  p.recordPass("127.0.0.1");
  assert.equal(p.delayFor("127.0.0.1"), 0);
  p.recordFail("127.0.0.1");
  assert.equal(p.delayFor("127.0.0.1"), 100);
  assert.equal(new PregreetCache({ enabled: false }, clock).delayFor("192.0.2.1"), 0);
});

test("the cache is bounded", () => {
  const clock = new ManualClock();
  const p = new PregreetCache({ maxEntries: 3 }, clock);
  for (let i = 1; i <= 5; i++) p.recordPass(`192.0.2.${i}`);
  assert.equal(p.size, 3);
  assert.equal(p.delayFor("192.0.2.5"), 0);
  assert.notEqual(p.delayFor("192.0.2.1"), 0);
});

test("IPv6 clients are grouped by /64", () => {
  assert.equal(clientGroup("2001:db8:1:2:aaaa::1"), clientGroup("2001:db8:1:2:bbbb::2"));
  assert.notEqual(clientGroup("2001:db8:1:2::1"), clientGroup("2001:db8:1:3::1"));
  assert.equal(clientGroup("::ffff:192.0.2.1"), "192.0.2.1");
  const c = new ConnectionCounter(2, clientGroup);
  const r1 = c.acquire("2001:db8::1");
  const r2 = c.acquire("2001:db8::2");
  assert.ok(r1 && r2);
  assert.equal(c.acquire("2001:db8::3"), null);
  assert.ok(c.acquire("2001:db9::1"));
  r1();
  r1();
  assert.equal(c.count("2001:db8::5"), 1);
  assert.ok(c.acquire("2001:db8::3"));
});
