import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { ManualClock } from "../../clock.ts";
import { silentLogger } from "../../log/logger.ts";
import { openSideDb } from "../../store/sqlite/dkim.ts";
import { WatchStore } from "./history.ts";
import { RouteSwitch } from "./relay-switch.ts";
import type { RouteSwitchConfig } from "./relay-switch.ts";
import type { CheckStatus } from "../identity.ts";
import { routeCheckResult } from "./route-status.ts";

async function fixture(t: import("node:test").TestContext, config: Partial<RouteSwitchConfig> = {}) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "fh-switch-"));
  const db = openSideDb(dir);
  t.after(async () => {
    db.close();
    await fs.rm(dir, { recursive: true, force: true });
  });
  const store = new WatchStore(db);
  const switches: string[] = [];
  const make = () =>
    new RouteSwitch({
      store,
      clock: new ManualClock(),
      logger: silentLogger(),
      config: { onBlocklisted: "relay", blocklistRelay: "backup", revertAfterCleanRuns: 3, confirmRuns: 2, ...config },
      onSwitch: (_from, to) => void switches.push(to.mode),
    });
  return { store, switches, make };
}

const run = (...statuses: Array<[string, CheckStatus]>) => statuses.map(([id, status]) => ({ id, status, message: "" }));

test("unknown lists hold the counts; domain lists and other checks do not move the switch", async (t) => {
  const { make, switches } = await fixture(t);
  const s = make();
  await s.afterBlocklistRun(run(["blocklist.zen.test.192.0.2.1", "fail"]));
  await s.afterBlocklistRun(run(["blocklist.zen.test.192.0.2.1", "unknown"]));
  assert.equal(s.state().listedRuns, 1, "unknown neither resets nor counts");
  await s.afterBlocklistRun(run(["blocklist.dbl.test.example.com", "fail"], ["tls.mx", "fail"]));
  assert.equal(s.state().listedRuns, 1, "a domain listing is not an IP listing");
  await s.afterBlocklistRun(run(["blocklist.zen.test.2001:db8::1", "fail"], ["blocklist.zen.test.192.0.2.1", "ok"]));
  assert.equal(s.routeFor(), "backup", "an IPv6 listing counts, one listed IP is enough");
  assert.deepEqual(switches, ["relay"]);
  for (let i = 0; i < 2; i++) await s.afterBlocklistRun(run(["blocklist.zen.test.2001:db8::1", "ok"]));
  await s.afterBlocklistRun(run(["blocklist.zen.test.2001:db8::1", "unknown"]));
  assert.equal(s.routeFor(), "backup", "two clean runs and an unknown one are not three clean runs");
  await s.afterBlocklistRun(run(["blocklist.zen.test.2001:db8::1", "ok"]));
  assert.equal(s.routeFor(), null);
  assert.deepEqual(switches, ["relay", "direct"]);
});

test("the state survives a restart; without onBlocklisted: relay nothing is routed", async (t) => {
  const f = await fixture(t);
  const a = f.make();
  await a.afterBlocklistRun(run(["blocklist.zen.test.192.0.2.1", "fail"]));
  await a.afterBlocklistRun(run(["blocklist.zen.test.192.0.2.1", "fail"]));
  assert.equal(f.make().routeFor(), "backup", "a new process reads the row");
  const c = routeCheckResult(a.state(), { onBlocklisted: "relay", blocklistRelay: "backup", revertAfterCleanRuns: 3 });
  assert.equal(c.status, "warn");
  assert.match(c.message, /^Outbound route: through relay backup since /);

  const off = await fixture(t, { onBlocklisted: "none" });
  const s = off.make();
  for (let i = 0; i < 3; i++) await s.afterBlocklistRun(run(["blocklist.zen.test.192.0.2.1", "fail"]));
  assert.equal(s.routeFor(), null);
  assert.equal(s.retryRelay(), null);
  assert.deepEqual(off.switches, []);
});
