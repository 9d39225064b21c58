// The watcher with real peers: knot serves the DNSBL zones, alerts land in a local mailbox and
// at a webhook receiver on loopback. Time is a ManualClock; nothing sleeps.
import { test } from "node:test";
import assert from "node:assert/strict";
import { queueFixture } from "../queue/fixture.ts";
import { SYSTEM } from "../../src/accounts/authz.ts";
import { dnsblZone, startReceiver, watchOver, SECRET, verifySignature } from "./watch-support.ts";

const IP = "127.0.24.5";
const ADMIN = "admin@local.test";
const zones = (listed: boolean, flap: boolean) => ({
  "bl.test": dnsblZone("bl.test", listed ? { [IP]: "127.0.0.4" } : {}),
  "flap.test": dnsblZone("flap.test", flap ? { [IP]: "127.0.0.2" } : {}),
});

test("one mail and one signed POST per real transition (listed, then ok again); a flapping list alerts never", async (t) => {
  const f = await queueFixture({ zones: zones(false, false) });
  t.after(() => f.close());
  await f.accounts.addUser(SYSTEM, { address: ADMIN, password: "pw-admin-123456" });
  const hook = await startReceiver("127.0.24.1", SECRET, () => Math.floor(f.clock.now() / 1000));
  t.after(() => hook.close());
  const w = watchOver(f, { ips: [IP], lists: [{ zone: "bl.test", kind: "ip" }, { zone: "flap.test", kind: "ip" }], hookUrl: hook.url, admin: ADMIN });
  t.after(() => w.close());

  // Clean twice: confirmed ok, which is not news.
  await w.watcher.tick();
  await w.hour();
  assert.equal((await f.inbox(ADMIN)).length, 0);
  assert.equal(hook.received.length, 0);

  // bl.test lists the IP from now on; flap.test lists it every other run.
  let flap = true;
  const run = async (listed: boolean) => {
    await f.knot.update(zones(listed, flap));
    flap = !flap;
    await w.hour();
  };
  await run(true);
  assert.equal(hook.received.length, 0, "one listed run is not yet confirmed");
  await run(true);
  await run(true);
  await run(true);
  let inbox = await f.inbox(ADMIN);
  assert.equal(inbox.length, 1, "one alert mail for the listing, none for the flapping list");
  assert.match(inbox[0], /^Subject: \[Freehold mail\.local\.test\] fail: blocklist\.bl\.test\.127\.0\.24\.5$/m);
  assert.match(inbox[0], /^Auto-Submitted: auto-generated$/m);
  assert.match(inbox[0], /127\.0\.24\.5 is listed on bl\.test \(XBL\)/);
  assert.match(inbox[0], /compromised host/);
  assert.equal(hook.received.length, 1);
  const first = hook.received[0];
  assert.ok(first.verified, "signature checks out");
  assert.ok(!verifySignature("another secret of some length", first.headers["freehold-signature"] as string, first.body, Math.floor(f.clock.now() / 1000)));
  const body = JSON.parse(first.body);
  assert.equal(body.type, "freehold.health.problem");
  assert.equal(body.check, "blocklist.bl.test.127.0.24.5");
  assert.equal(body.status, "fail");
  assert.equal(body.previous, "ok");

  // Removed from the list: after two clean runs, one "ok again".
  await run(false);
  await run(false);
  await run(false);
  inbox = await f.inbox(ADMIN);
  assert.equal(inbox.length, 2);
  assert.match(inbox[1], /^Subject: \[Freehold mail\.local\.test\] ok again: blocklist\.bl\.test\.127\.0\.24\.5$/m);
  assert.equal(hook.received.length, 2);
  assert.equal(JSON.parse(hook.received[1].body).type, "freehold.health.recovery");
  assert.ok(hook.received[1].verified);

  // History in the database: every run of both lists; rows older than 90 days are pruned.
  const hist = w.store.history("blocklist.bl.test.127.0.24.5");
  assert.equal(hist.length, 9);
  assert.deepEqual(hist.map((h) => h.status).reverse(), ["ok", "ok", "fail", "fail", "fail", "fail", "ok", "ok", "ok"]);
  assert.equal(w.store.history("blocklist.flap.test.127.0.24.5").filter((h) => h.status === "fail").length, 4);
  f.clock.advance(91 * 86_400_000);
  await w.watcher.tick();
  assert.equal(w.store.history("blocklist.bl.test.127.0.24.5").length, 1, "only the run just made is younger than 90 days");
});

test("a webhook receiver that fails twice gets the alert on a retry with back-off; a signature older than 5 minutes is refused", async (t) => {
  const f = await queueFixture({ zones: zones(true, false) });
  t.after(() => f.close());
  await f.accounts.addUser(SYSTEM, { address: ADMIN, password: "pw-admin-123456" });
  const hook = await startReceiver("127.0.24.2", SECRET, () => Math.floor(f.clock.now() / 1000));
  t.after(() => hook.close());
  const w = watchOver(f, { ips: [IP], lists: [{ zone: "bl.test", kind: "ip" }], hookUrl: hook.url, admin: ADMIN });
  t.after(() => w.close());
  hook.failNext = [500, 503];

  await w.watcher.tick();
  await w.hour(); // confirmed listed: the alert is posted, and refused
  assert.equal(hook.received.length, 1);
  assert.equal(w.webhooks.pending, 1);
  f.clock.advance(10_000);
  await w.watcher.tick();
  assert.equal(hook.received.length, 1, "not before the back-off (30 s)");
  f.clock.advance(20_000);
  await w.watcher.tick();
  assert.equal(hook.received.length, 2, "second attempt after 30 s, refused again");
  f.clock.advance(59_000);
  await w.watcher.tick();
  assert.equal(hook.received.length, 2, "third attempt waits 60 s");
  f.clock.advance(1_000);
  await w.watcher.tick();
  assert.equal(hook.received.length, 3);
  assert.equal(w.webhooks.pending, 0);
  assert.equal(new Set(hook.received.map((r) => r.body)).size, 1, "the same alert every time");
  assert.ok(hook.received.every((r) => r.verified), "each attempt signed with its own fresh timestamp");
  const deliveries = new Set(hook.received.map((r) => r.headers["freehold-delivery"]));
  assert.equal(deliveries.size, 1, "one delivery id across retries (receivers can deduplicate)");
  assert.equal((await f.inbox(ADMIN)).length, 1, "the mail alert went out at once regardless");

  // The docs' receiver rejects a replay more than 5 minutes later.
  const last = hook.received[2];
  assert.equal(verifySignature(SECRET, last.headers["freehold-signature"] as string, last.body, Math.floor(f.clock.now() / 1000) + 301), false);
});
