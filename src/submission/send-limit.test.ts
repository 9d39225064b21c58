import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { HOUR_MS, HourlySendLimit } from "./send-limit.ts";

test("a sliding hour per user, case-insensitive, with per-user overrides and 0 = unlimited", () => {
  const clock = new ManualClock();
  const l = new HourlySendLimit({ clock, perHour: 10, perUser: new Map([["vip@x.test", 0], ["slow@x.test", 2]]) });
  l.record("a@x.test", 6);
  clock.advance(HOUR_MS / 2);
  l.record("A@X.TEST", 4);
  assert.equal(l.used("a@x.test"), 10);
  assert.equal(l.allows("a@x.test", 1), false);
  assert.equal(l.allows("b@x.test", 10), true);
  assert.equal(l.allows("b@x.test", 1, 10), false, "pending recipients of the open transaction count");
  clock.advance(HOUR_MS / 2); // the first 6 are now exactly an hour old
  assert.equal(l.used("a@x.test"), 4);
  assert.equal(l.allows("a@x.test", 6), true);
  assert.equal(l.allows("a@x.test", 7), false);
  l.record("vip@x.test", 1_000_000);
  assert.equal(l.allows("vip@x.test", 1), true);
  assert.equal(l.allows("slow@x.test", 3), false);
});
