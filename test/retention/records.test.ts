// Retention of records (issue 19 §3): with an injected clock, the serve retention job deletes
// audit-log entries older than retention.auditDays as whole entries, keeps the newer ones
// unchanged, and writes one audit entry saying what it deleted; complaints and daily sent counts
// older than retention.complaintsDays leave suppression.sqlite. Run in `serve`'s composition
// (startServer) so the wiring is what production uses.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createDataDir } from "../support/freehold.ts";
import { loadConfig } from "../../src/config/load.ts";
import { openServices } from "../../src/server/services.ts";
import { startServer } from "../../src/server/run.ts";
import { protocolStarters } from "../../src/server/starters.ts";
import { silentLogger } from "../../src/log/logger.ts";
import type { Clock } from "../../src/clock.ts";
import { DatabaseSync } from "node:sqlite";
import path from "node:path";

const DAY = 86_400_000;

class OffsetClock implements Clock {
  offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
}

test("retention: audit entries past auditDays go as whole entries and the deletion is audited; old complaint records go", async (t) => {
  const data = await createDataDir({ domains: ["keep.test"], users: [{ address: "ann@keep.test" }], config: { retention: { auditDays: 100, complaintsDays: 50 } } });
  t.after(() => data.remove());
  const clock = new OffsetClock();
  const services = await openServices(await loadConfig(data.dir), { logger: silentLogger(), clock });
  const server = await startServer(services, { starters: protocolStarters() });
  t.after(() => server.stop());
  await server.retention.runOnce(); // the pass started with the server
  const audit = services.storage.store.audit;
  const before = (await audit.list(1000)).length;

  clock.offset = -200 * DAY;
  await audit.append({ actor: "cli", action: "test.old", target: "one" });
  await audit.append({ actor: "cli", action: "test.old", target: "two" });
  await services.suppression.countSent("keep.test", 10);
  await services.suppression.recordComplaint({ senderDomain: "keep.test", complainer: "c@x.test", feedbackType: "abuse", sourceIp: null, messageId: null });
  clock.offset = -10 * DAY;
  const recentId = await audit.append({ actor: "cli", action: "test.recent", target: "three", detail: "kept as it was" });
  await services.suppression.countSent("keep.test", 3);
  clock.offset = 0;
  assert.deepEqual((await services.suppression.complaintStats(365)).map((s) => [s.complaints, s.sent]), [[1, 13]]);

  await server.retention.runOnce();
  assert.deepEqual(server.retention.lastRecords, { auditEntries: 2, complaintRows: 2 });
  const after = await audit.list(1000);
  assert.ok(!after.some((e) => e.action === "test.old"), "the old entries are gone");
  assert.equal(after.length, before + 1 + 1, "the setup's recent entries, the recent one and the expire entry remain");
  const recent = after.find((e) => e.id === recentId)!;
  assert.equal(recent.detail, "kept as it was", "the newer entry is unchanged");
  const expire = after.filter((e) => e.action === "audit.expire");
  assert.equal(expire.length, 1);
  assert.equal(expire[0].actor, "retention");
  assert.equal(JSON.parse(expire[0].detail!).deleted, 2);
  assert.ok(expire[0].id > recentId, "appended, never rewritten");
  assert.deepEqual((await services.suppression.complaintStats(365)).map((s) => [s.complaints, s.sent]), [[0, 3]]);

  // Outside the retention job the log is still append-only, in SQL too.
  const raw = new DatabaseSync(path.join(data.dir, "meta.sqlite"));
  raw.exec("PRAGMA busy_timeout = 10000");
  assert.throws(() => raw.exec(`DELETE FROM audit_log WHERE id = ${recentId}`), /append-only/);
  assert.throws(() => raw.exec("UPDATE audit_log SET actor = 'x'"), /append-only/);
  raw.close();

  // A second pass finds nothing and writes nothing.
  await server.retention.runOnce();
  assert.deepEqual(server.retention.lastRecords, { auditEntries: 0, complaintRows: 0 });
  assert.equal((await audit.list(1000)).filter((e) => e.action === "audit.expire").length, 1);
});
