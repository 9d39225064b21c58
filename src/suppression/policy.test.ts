// The hard-bounce rule and the counting, expiry and per-domain scope of the suppression list,
// on a real suppression.sqlite in a temp folder with an injected clock.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isHardBounce } from "./policy.ts";
import { DAY_MS, openSuppressionDb, SuppressionService } from "./service.ts";

test("hard bounces are the address failures only, never a full mailbox, policy or blocklisting", () => {
  for (const s of ["5.1.1", "5.1.2", "5.1.3", "5.1.6", "5.1.10", "5.2.1"]) assert.ok(isHardBounce(s), s);
  for (const s of ["5.2.2", "5.7.1", "5.7.26", "4.1.1", "5.4.7", "5.3.4", "", null]) assert.ok(!isHardBounce(s), String(s));
});

test("suppression: counted per sending domain, suppresses at the threshold, expires, restarts counting after expiry; manual add/remove", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "fh-supp-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let now = Date.UTC(2026, 0, 1);
  const clock = { now: () => now };
  const db = openSuppressionDb(dir, { clock });
  t.after(() => db.close());
  const s = new SuppressionService(db, clock, { enabled: true, hardBounces: 2, days: 10, complaintRateWarn: 0.003, complaintRateFail: 0.01, complaintWindowDays: 30, complaintMinSent: 100 });
  assert.equal(await s.recordFailure("a@x.test", "R@remote.test", "5.2.2", "552 full"), null, "a full mailbox does not count");
  const one = await s.recordFailure("a@x.test", "R@remote.test", "5.1.1", "550 5.1.1 unknown");
  assert.equal(one?.bounces, 1);
  assert.equal(await s.check("b@x.test", "r@remote.test"), null, "one bounce: not yet");
  await s.recordFailure("b@X.test", "r@remote.test", "5.1.1", "550 5.1.1 unknown");
  const hit = await s.check("c@x.test", "r@REMOTE.test");
  assert.ok(hit, "the second bounce from the same domain suppresses, any sender of that domain, any case");
  assert.equal(hit.suppressedAt, now);
  assert.equal(hit.expiresAt, now + 10 * DAY_MS);
  assert.equal(await s.check("a@y.test", "r@remote.test"), null, "another sending domain is not affected");
  assert.equal(await s.check("", "r@remote.test"), null, "the null sender is never checked");
  now += 11 * DAY_MS;
  assert.equal(await s.check("a@x.test", "r@remote.test"), null, "expired");
  const fresh = await s.recordFailure("a@x.test", "r@remote.test", "5.1.1", "550 again");
  assert.equal(fresh?.bounces, 1, "after expiry counting starts again");
  assert.equal(fresh?.suppressedAt, null);
  const manual = await s.add("x.test", "m@remote.test", "asked to stop");
  assert.equal(manual.expiresAt, null);
  assert.ok(await s.check("z@x.test", "m@remote.test"));
  assert.equal(await s.remove("x.test", "m@remote.test"), true);
  assert.equal(await s.remove("x.test", "m@remote.test"), false);
  assert.equal(await s.check("z@x.test", "m@remote.test"), null);
  const off = new SuppressionService(db, clock, { enabled: false, hardBounces: 1, days: 10, complaintRateWarn: 0.003, complaintRateFail: 0.01, complaintWindowDays: 30, complaintMinSent: 100 });
  assert.equal(await off.recordFailure("a@x.test", "q@remote.test", "5.1.1", "x"), null, "disabled: nothing recorded");
});
