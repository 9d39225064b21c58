// Complaint rate in domain health (issue 19 §2): feedback-loop complaints / messages sent per
// domain over suppression.complaintWindowDays become the check complaints.<domain> of
// `freehold check` and the watcher; above complaintRateWarn it warns and at complaintRateFail it
// fails, each confirmed change alerts (here through the signed webhook, received over HTTP on
// loopback), and once the window passes without complaints it is ok again. A domain with too few
// messages is not judged. Injected clock; the counts go through SuppressionService as the
// submission listener and the feedback job write them.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { openSuppressionDb, SuppressionService } from "../../src/suppression/service.ts";
import { SuppressionSchema } from "../../src/suppression/config-schema.ts";
import { checkComplaints, runChecks } from "../../src/health/check.ts";
import type { CheckDeps } from "../../src/health/check.ts";
import { openSideDb } from "../../src/store/sqlite/dkim.ts";
import { WatchStore } from "../../src/health/watch/history.ts";
import { Watcher } from "../../src/health/watch/watcher.ts";
import { WebhookSender } from "../../src/health/watch/alerts.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { SECRET, startReceiver } from "../health/watch-support.ts";

const DAY = 86_400_000;

test("the complaint rate per domain warns, fails and recovers through the watcher's alerts; too few messages are not judged", async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "fh-complaints-"));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  let now = Date.UTC(2026, 11, 1, 12);
  const clock = { now: () => now };
  const cfg = SuppressionSchema.parse({ complaintRateWarn: 0.003, complaintRateFail: 0.01, complaintWindowDays: 30, complaintMinSent: 100 });
  const db = openSuppressionDb(dir, { clock });
  t.after(() => db.close());
  const s = new SuppressionService(db, clock, cfg);
  const side = openSideDb(dir, { clock });
  t.after(() => side.close());
  const hook = await startReceiver("127.0.26.1", SECRET, () => Math.floor(now / 1000));
  t.after(() => hook.close());
  const webhooks = new WebhookSender([{ url: hook.url, secret: SECRET }], { clock, logger: silentLogger() });
  const complaints = { stats: (d: number) => s.complaintStats(d), days: cfg.complaintWindowDays, warn: cfg.complaintRateWarn, fail: cfg.complaintRateFail, minSent: cfg.complaintMinSent };
  // runChecks with only what the complaints group needs; the other groups have their own tests.
  const deps = { clock, domains: async () => ["big.test", "small.test"], complaints } as unknown as CheckDeps;
  const watcher = new Watcher({
    runChecks: (o) => runChecks(deps, { ...o, only: ["complaints"] }),
    clock,
    logger: silentLogger(),
    store: new WatchStore(side),
    config: { blocklistIntervalSeconds: 3600, otherIntervalSeconds: 21600, confirmRuns: 2, historyDays: 90 },
    hostname: "mail.local.test",
    sinks: [webhooks],
    flushers: [webhooks],
  });
  const run = async () => {
    now += 21_600_000;
    await watcher.tick();
  };
  const complain = (domain: string, who: string) => s.recordComplaint({ senderDomain: domain, complainer: who, feedbackType: "abuse", sourceIp: null, messageId: null });
  const bodies = () => hook.received.map((r) => JSON.parse(r.body) as { type: string; check: string; status: string; previous: string | null; message: string });

  await s.countSent("big.test", 400);
  await s.countSent("small.test", 5);
  for (const w of ["a", "b", "c"]) await complain("small.test", `${w}@customer.test`);
  await run();
  await run();
  assert.equal(hook.received.length, 0, "ok from the start is not news; 3 complaints in 5 messages are too few to judge");
  const small = (await checkComplaints(complaints, ["small.test"]))[0];
  assert.equal(small.status, "ok");
  assert.match(small.message, /3 complaint\(s\) for 5 message\(s\) sent from small\.test in 30 days: too few messages to judge/);

  // 2 in 400 = 0.5%: above 0.3%, warn once confirmed.
  await complain("big.test", "x@customer.test");
  await complain("big.test", "y@customer.test");
  await run();
  assert.equal(hook.received.length, 0, "one run is not yet confirmed");
  await run();
  assert.deepEqual(bodies().map((b) => [b.type, b.check, b.status, b.previous]), [["freehold.health.problem", "complaints.big.test", "warn", "ok"]]);
  assert.match(bodies()[0].message, /2 complaint\(s\) for 400 message\(s\) sent from big\.test in 30 days: complaint rate 0\.50% is above 0\.30%/);
  assert.ok(hook.received[0].verified);

  // 4 in 400 = 1%: fail.
  await complain("big.test", "z@customer.test");
  await complain("big.test", "w@customer.test");
  await run();
  await run();
  assert.deepEqual(bodies().slice(1).map((b) => [b.check, b.status, b.previous]), [["complaints.big.test", "fail", "warn"]]);

  // A month later with 400 more messages and no complaint: ok again.
  now += 31 * DAY;
  await s.countSent("big.test", 400);
  await run();
  await run();
  assert.deepEqual(bodies().slice(2).map((b) => [b.type, b.check, b.status]), [["freehold.health.recovery", "complaints.big.test", "ok"]]);
  assert.equal(hook.received.length, 3);
});
