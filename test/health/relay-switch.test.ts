// The relay switch (issue 8 §4) end to end: knot serves the MX of remote.test and a DNSBL zone;
// the MX and the relay are scripted aiosmtpd peers on loopback; the watcher runs on a
// ManualClock and the queue runner sends real SMTP.
import { test } from "node:test";
import assert from "node:assert/strict";
import { queueFixture, message, remoteZone, SENDER } from "../queue/fixture.ts";
import type { QueueFixture } from "../queue/fixture.ts";
import { startScriptedPeer } from "../delivery/peers.ts";
import type { ScriptedPeerOptions } from "../delivery/peers.ts";
import { SYSTEM } from "../../src/accounts/authz.ts";
import type { RouteSwitchPort } from "../../src/queue/runner.ts";
import { dnsblZone, watchOver } from "./watch-support.ts";

const IP = "127.0.24.5";
const ADMIN = "admin@local.test";

async function setup(t: import("node:test").TestContext, mxHost: string, relayHost: string, mxOpts: Partial<ScriptedPeerOptions> = {}, listed = false) {
  const mx = await startScriptedPeer({ host: mxHost, ...mxOpts });
  t.after(() => mx.stop());
  const relay = await startScriptedPeer({ host: relayHost });
  t.after(() => relay.stop());
  const zones = (l: boolean) => remoteZone(mxHost, { "bl.test": dnsblZone("bl.test", l ? { [IP]: "127.0.0.2" } : {}) });
  // The runner is built by the fixture, the switch afterwards over the fixture's data folder.
  let port: RouteSwitchPort | undefined;
  const f: QueueFixture = await queueFixture({
    zones: zones(listed),
    transport: { mxPort: mx.port },
    routing: { relays: [{ name: "backup", host: relayHost, port: relay.port, tls: "none" }] },
    runner: {
      routeSwitch: {
        routeFor: () => port?.routeFor() ?? null,
        retryRelay: () => port?.retryRelay() ?? null,
        receiverReply: (h, s, r) => port?.receiverReply(h, s, r) ?? Promise.resolve(),
      },
    },
  });
  t.after(() => f.close());
  await f.accounts.addUser(SYSTEM, { address: ADMIN, password: "pw-admin-123456" });
  const w = watchOver(f, { ips: [IP], lists: [{ zone: "bl.test", kind: "ip" }], admin: ADMIN, routing: { onBlocklisted: "relay", blocklistRelay: "backup", revertAfterCleanRuns: 3 } });
  t.after(() => w.close());
  port = w.routeSwitch;
  const send = async (subject: string) => {
    const id = await f.enqueue({ mailFrom: SENDER, recipients: [{ recipient: "bob@remote.test" }], body: message(subject) });
    await f.runner.runOnce();
    return id;
  };
  return { f, w, mx, relay, send, setListed: (l: boolean) => f.knot.update(zones(l)) };
}

const subjects = async (p: { received(): Promise<Array<{ data: string }>> }) => (await p.received()).map((m) => /^Subject: (.*)$/m.exec(m.data)?.[1]);

test("listed for N runs: new mail goes through the relay, not the MX; after M clean runs direct again; every switch audited and alerted", async (t) => {
  const { f, w, mx, relay, send, setListed } = await setup(t, "127.0.24.10", "127.0.24.11");
  await w.watcher.tick();
  await send("before");
  assert.deepEqual(await subjects(mx), ["before"]);

  await setListed(true);
  await w.hour();
  assert.equal(w.routeSwitch!.state().mode, "direct", "one listed run is not confirmed");
  await send("one run listed");
  await w.hour();
  assert.equal(w.routeSwitch!.state().mode, "relay");
  await send("while listed");
  assert.deepEqual(await subjects(mx), ["before", "one run listed"]);
  assert.deepEqual(await subjects(relay), ["while listed"]);

  // A restart keeps the state (one database row).
  assert.equal(w.store.route().mode, "relay");

  await setListed(false);
  await w.hour();
  await w.hour();
  await send("two clean runs");
  assert.deepEqual(await subjects(relay), ["while listed", "two clean runs"], "still on the relay before M = 3 clean runs");
  await w.hour();
  assert.equal(w.routeSwitch!.state().mode, "direct");
  await send("after");
  assert.deepEqual(await subjects(mx), ["before", "one run listed", "after"]);
  assert.equal((await relay.received()).length, 2);

  const audit = (await f.storage.store.audit.list()).filter((a) => a.action === "route.switch");
  assert.deepEqual(audit.map((a) => a.target).reverse(), ["relay", "direct"]);
  const inbox = await f.inbox(ADMIN);
  const subjectsOf = inbox.map((m) => /^Subject: (.*)$/m.exec(m)?.[1]);
  assert.deepEqual(subjectsOf, [
    "[Freehold mail.local.test] fail: blocklist.bl.test.127.0.24.5",
    "[Freehold mail.local.test] outbound route now relay",
    "[Freehold mail.local.test] ok again: blocklist.bl.test.127.0.24.5",
    "[Freehold mail.local.test] outbound route now direct",
  ]);
});

test("a receiver's 'blocked using Spamhaus' 5xx is retried through the relay at once, not bounced, and counts toward the listed state", async (t) => {
  const refusal = "554 5.7.1 Service unavailable; Client host [127.0.24.5] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/127.0.24.5";
  const { f, w, mx, relay, send } = await setup(t, "127.0.24.12", "127.0.24.13", { rcptReplies: { "bob@remote.test": refusal } });
  await w.watcher.tick();
  const id = await send("refused by reputation");
  assert.equal(await f.storage.store.queue.get(id), null, "delivered in the same pass");
  assert.deepEqual(await subjects(relay), ["refused by reputation"]);
  assert.equal((await mx.received()).length, 0);
  assert.deepEqual(await f.inbox(SENDER), [], "no bounce");
  assert.equal(w.routeSwitch!.state().listedRuns, 1);
  assert.equal(w.routeSwitch!.state().mode, "direct", "one reply is not yet N");
  assert.match(w.routeSwitch!.state().lastRefusal ?? "", /^mx\.remote\.test refused us \(Spamhaus\): 554 5\.7\.1 Service unavailable; Client host \[127\.0\.24\.5\] blocked using zen\.spamhaus\.org/);
  await send("refused again");
  assert.equal(w.routeSwitch!.state().mode, "relay", "a second refusal confirms the listing");
  assert.equal((await relay.received()).length, 2);
  assert.equal((await mx.received()).length, 0);
});

test("two recipients refused in one delivery count once toward the listed state; both reach the relay", async (t) => {
  const refusal = "550 5.7.1 Service unavailable; Client host [127.0.24.5] blocked using bl.spamcop.net";
  const { f, w, mx, relay } = await setup(t, "127.0.24.15", "127.0.24.16", { rcptReplies: { "bob@remote.test": refusal, "carol@remote.test": refusal } });
  await w.watcher.tick();
  const id = await f.enqueue({ mailFrom: SENDER, recipients: [{ recipient: "bob@remote.test" }, { recipient: "carol@remote.test" }], body: message("two refused") });
  await f.runner.runOnce();
  assert.equal(await f.storage.store.queue.get(id), null);
  const got = await relay.received();
  assert.equal(got.length, 1);
  assert.deepEqual(got[0].rcpt_tos.sort(), ["bob@remote.test", "carol@remote.test"]);
  assert.equal((await mx.received()).length, 0);
  assert.equal(w.routeSwitch!.state().listedRuns, 1);
  assert.equal(w.routeSwitch!.state().mode, "direct");
});

test("without the switch configured, the same refusal bounces as before", async (t) => {
  const refusal = "554 5.7.1 Service unavailable; Client host [127.0.24.5] blocked using zen.spamhaus.org";
  const mx = await startScriptedPeer({ host: "127.0.24.14", rcptReplies: { "bob@remote.test": refusal } });
  t.after(() => mx.stop());
  const f = await queueFixture({ zones: remoteZone("127.0.24.14"), transport: { mxPort: mx.port } });
  t.after(() => f.close());
  const id = await f.enqueue({ mailFrom: SENDER, recipients: [{ recipient: "bob@remote.test" }], body: message("plain bounce") });
  await f.runner.runOnce();
  assert.equal(await f.storage.store.queue.get(id), null);
  const inbox = await f.inbox(SENDER);
  assert.equal(inbox.length, 1);
  assert.match(inbox[0], /^Action: failed$/m);
});
