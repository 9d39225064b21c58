// Relays (smarthosts) with real peers on loopback: a scripted aiosmtpd requiring AUTH after
// STARTTLS with a certificate from a test CA, its name served by knot.
import { test } from "node:test";
import assert from "node:assert/strict";
import { queueFixture, message, remoteZone, SENDER } from "../queue/fixture.ts";
import { makeTestCa, startScriptedPeer } from "./peers.ts";
import type { ScriptedPeer } from "./peers.ts";
import { RelayFileSchema } from "../../src/delivery/relays.ts";
import fs from "node:fs/promises";

const zones = (good: string, bad: string) =>
  remoteZone("127.0.0.39", {
    "relay.test": {
      "@": { NS: ["ns.relay.test."] },
      ns: { A: ["127.0.0.1"] },
      good: { A: [good] },
      bad: { A: [bad] },
    },
  });

async function relayPeer(t: import("node:test").TestContext, host: string, ca: Awaited<ReturnType<typeof makeTestCa>>): Promise<ScriptedPeer> {
  const p = await startScriptedPeer({ host, tls: { cert: ca.certFile, key: ca.keyFile }, requireTls: true, users: { freehold: "relay-secret-1" } });
  t.after(() => p.stop());
  return p;
}

test("through a relay: STARTTLS with a verified certificate, AUTH, the message arrives; NOTIFY=SUCCESS to a hop without DSN gives a 'relayed' DSN", async (t) => {
  const ca = await makeTestCa(["good.relay.test", "bad.relay.test"]);
  t.after(() => fs.rm(ca.dir, { recursive: true, force: true }));
  const good = await relayPeer(t, "127.0.0.32", ca);
  const f = await queueFixture({
    zones: zones("127.0.0.32", "127.0.0.33"),
    routing: { relays: [{ name: "smarthost", host: "good.relay.test", port: good.port, tls: "starttls" }], routes: { default: ["smarthost"] } },
    secrets: { smarthost: { username: "freehold", password: "relay-secret-1" } },
    transport: { tlsOptions: { ca: ca.caCert } },
  });
  t.after(() => f.close());
  const id = await f.enqueue({ mailFrom: SENDER, recipients: [{ recipient: "bob@remote.test", notify: ["SUCCESS", "FAILURE"] }], body: message("via relay") });
  await f.runner.runOnce();
  assert.equal(await f.storage.store.queue.get(id), null);
  const got = await good.received();
  assert.equal(got.length, 1);
  assert.equal(got[0].tls, true);
  assert.equal(got[0].authenticated, true);
  assert.match(got[0].data, /^Subject: via relay/m);
  const inbox = await f.inbox(SENDER);
  assert.equal(inbox.length, 1, "one 'relayed' DSN: the hop cannot report success itself");
  assert.match(inbox[0], /^Action: relayed$/m);
});

test("a relay refusing AUTH: the queue shows why; with a failover route the message goes through the next relay", async (t) => {
  const ca = await makeTestCa(["good.relay.test", "bad.relay.test"]);
  t.after(() => fs.rm(ca.dir, { recursive: true, force: true }));
  const good = await relayPeer(t, "127.0.0.34", ca);
  const bad = await relayPeer(t, "127.0.0.35", ca);
  const f = await queueFixture({
    zones: zones("127.0.0.34", "127.0.0.35"),
    routing: {
      relays: [
        { name: "bad", host: "bad.relay.test", port: bad.port, tls: "starttls" },
        { name: "good", host: "good.relay.test", port: good.port, tls: "starttls" },
      ],
      routes: { default: ["bad"] },
    },
    secrets: { bad: { username: "freehold", password: "wrong" }, good: { username: "freehold", password: "relay-secret-1" } },
    transport: { tlsOptions: { ca: ca.caCert } },
  });
  t.after(() => f.close());
  const id = await f.enqueue({ mailFrom: SENDER, recipients: [{ recipient: "bob@remote.test" }], body: message("failover") });
  await f.runner.runOnce();
  const q = await f.storage.store.queue.get(id);
  assert.equal(q?.recipients[0].state, "pending");
  assert.equal(q?.recipients[0].route, "bad");
  assert.match(q?.recipients[0].lastReply ?? "", /^auth: .*535/);
  const attempts = await f.storage.store.queue.attempts(id);
  assert.equal(attempts[0].outcome, "route-failed");
  assert.match(attempts[0].reply ?? "", /auth/);

  f.routing.file = RelayFileSchema.parse({ ...f.routing.file, routes: { default: ["bad", "good"] } });
  await f.storage.store.queue.retryNow(id, f.clock.now());
  await f.runner.runOnce();
  assert.equal(await f.storage.store.queue.get(id), null);
  assert.equal((await bad.received()).length, 0);
  assert.equal((await good.received()).length, 1);
});

test("a relay whose certificate does not match its name is not used (no AUTH sent); the message stays queued", async (t) => {
  const ca = await makeTestCa(["other.relay.test"]);
  t.after(() => fs.rm(ca.dir, { recursive: true, force: true }));
  const peer = await relayPeer(t, "127.0.0.36", ca);
  const f = await queueFixture({
    zones: zones("127.0.0.36", "127.0.0.37"),
    routing: { relays: [{ name: "smarthost", host: "good.relay.test", port: peer.port, tls: "starttls" }], routes: { default: ["smarthost"] } },
    secrets: { smarthost: { username: "freehold", password: "relay-secret-1" } },
    transport: { tlsOptions: { ca: ca.caCert } },
  });
  t.after(() => f.close());
  const id = await f.enqueue({ mailFrom: SENDER, recipients: [{ recipient: "bob@remote.test" }], body: message("bad cert") });
  await f.runner.runOnce();
  const q = await f.storage.store.queue.get(id);
  assert.equal(q?.recipients[0].state, "pending");
  assert.match(q?.recipients[0].lastReply ?? "", /^tls: /);
  assert.equal((await peer.received()).length, 0);
});

test("a 4xx from the first route moves the message to the next route at once (plain relays on loopback)", async (t) => {
  const first = await startScriptedPeer({ host: "127.0.0.38", dataReplies: ["451 4.3.0 queue full"] });
  t.after(() => first.stop());
  const second = await startScriptedPeer({ host: "127.0.0.40" });
  t.after(() => second.stop());
  const f = await queueFixture({
    zones: remoteZone("127.0.0.39"),
    routing: {
      relays: [
        { name: "one", host: "127.0.0.38", port: first.port, tls: "none" },
        { name: "two", host: "127.0.0.40", port: second.port, tls: "none" },
      ],
      routes: { default: ["one", "two"] },
    },
  });
  t.after(() => f.close());
  const id = await f.enqueue({ mailFrom: SENDER, recipients: [{ recipient: "bob@remote.test" }], body: message("next route") });
  await f.runner.runOnce();
  assert.equal(await f.storage.store.queue.get(id), null);
  assert.equal((await first.received()).length, 0);
  assert.equal((await second.received()).length, 1);
});
