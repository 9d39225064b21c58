// `freehold queue ...` and `freehold relay ...` through the real CLI (child processes).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { runCli, withTmpDir } from "../cli/run.ts";
import { openStorage } from "../../src/store/open.ts";
import { makeTestCa, startScriptedPeer } from "../delivery/peers.ts";

async function initDir(dir: string): Promise<(args: string[], stdin?: string) => ReturnType<typeof runCli>> {
  const cli = (args: string[], stdin?: string) => runCli([...args, "--data", dir], { stdin });
  assert.equal((await cli(["init", "--hostname", "mail.example.com"])).code, 0);
  return cli;
}

test("queue list/show/retry/remove: DSN parameters and recipients shown; remove releases the blob", async () => {
  await withTmpDir(async (dir) => {
    const cli = await initDir(dir);
    let storage = await openStorage(dir);
    const w = storage.blobs.create();
    await w.write(Buffer.from("Subject: queued\r\n\r\nbody\r\n"));
    const r = await storage.writer.deliver({
      blob: await w.finish(),
      targets: [],
      queue: [{ mailFrom: "a@example.com", recipients: [{ recipient: "x@remote.test", notify: ["SUCCESS", "FAILURE"], orcpt: "rfc822;x@remote.test" }], ret: "HDRS", envid: "QID-7", traceHeaders: "", origin: "submission" }],
    });
    await storage.close();
    const id = r.queueIds[0];

    const list = await cli(["queue", "list"]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`^${id}\\s+a@example\\.com\\s+1/1`, "m"));
    const show = await cli(["queue", "show", String(id)]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /RET: HDRS\s+ENVID: QID-7/);
    assert.match(show.stdout, /x@remote\.test\s+pending\s+0\s+\S+\s+SUCCESS,FAILURE\s+rfc822;x@remote\.test/);
    assert.match(show.stdout, /No attempts yet/);
    assert.match((await cli(["queue", "retry", String(id)])).stdout, /1 recipient\(s\) due now/);
    assert.equal((await cli(["queue", "show", "999"])).code, 1);
    assert.equal((await cli(["queue", "remove", String(id)])).code, 0);
    assert.match((await cli(["queue", "list"])).stdout, /The queue is empty/);
    storage = await openStorage(dir);
    assert.equal((await storage.store.blobs.get(r.blobId))?.refcount, 0);
    await storage.close();
  });
});

test("queue list shows each recipient and its state, as mailq does", async () => {
  await withTmpDir(async (dir) => {
    const cli = await initDir(dir);
    const storage = await openStorage(dir);
    const w = storage.blobs.create();
    await w.write(Buffer.from("Subject: queued\r\n\r\nbody\r\n"));
    const r = await storage.writer.deliver({
      blob: await w.finish(),
      targets: [],
      queue: [{ mailFrom: "a@example.com", recipients: [{ recipient: "x@remote.test" }, { recipient: "y@other.test" }], traceHeaders: "", origin: "submission" }],
    });
    const id = r.queueIds[0];
    // y@other.test was tried once and deferred.
    const y = (await storage.store.queue.get(id))!.recipients.find((x) => x.recipient === "y@other.test")!;
    await storage.store.queue.recordOutcome(id, [{ id: y.id, state: "pending", attempts: 1, nextAttemptAt: Date.now() + 600_000, lastReply: "451 4.7.1 greylisted, try again", status: "4.7.1", remoteMta: "mx.other.test", route: "direct", delayWarned: false }], [{ recipientId: y.id, route: "direct", outcome: "deferred", reply: "451 4.7.1 greylisted, try again" }]);
    await storage.close();
    const list = await cli(["queue", "list"]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^ID\s+FROM\s+PENDING\s+QUEUED\s+NEXT ATTEMPT\s+RECIPIENT\s+STATE\s+LAST REPLY$/m);
    assert.match(list.stdout, new RegExp(`^${id}\\s+a@example\\.com\\s+2/2\\s+\\S+\\s+\\S+\\s+x@remote\\.test\\s+queued\\s+-$`, "m"));
    assert.match(list.stdout, /^\s+y@other\.test\s+deferred \(1 tries\)\s+451 4\.7\.1 greylisted, try again$/m);
  });
});

test("relay add/list/remove and routes: secrets in a 0600 file, never in relays.yaml; unsafe settings refused", async () => {
  await withTmpDir(async (dir) => {
    const cli = await initDir(dir);
    const add = await cli(["relay", "add", "smtp2go", "--host", "mail.smtp2go.com", "--port", "2525", "--tls", "starttls", "--user", "fh-user"], "s3cret-pass\n");
    assert.equal(add.code, 0, add.stderr);
    const secretsFile = path.join(dir, "secrets", "relays.yaml");
    assert.equal((await fs.stat(secretsFile)).mode & 0o777, 0o600);
    assert.equal((await fs.stat(path.dirname(secretsFile))).mode & 0o777, 0o700);
    assert.match(await fs.readFile(secretsFile, "utf8"), /s3cret-pass/);
    assert.doesNotMatch(await fs.readFile(path.join(dir, "relays.yaml"), "utf8"), /s3cret/);
    assert.match((await cli(["relay", "list"])).stdout, /smtp2go\s+mail\.smtp2go\.com\s+2525\s+starttls\s+fh-user\s+10/);
    assert.doesNotMatch((await cli(["relay", "list", "--json"])).stdout, /s3cret/);

    const bad = await cli(["relay", "add", "plain", "--host", "relay.example.net", "--port", "25", "--tls", "none"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /only for a relay on loopback/);
    assert.equal((await cli(["relay", "route", "set", "default", "nosuch"])).code, 2, "unknown route refused");

    assert.equal((await cli(["relay", "route", "set", "default", "direct", "smtp2go"])).code, 0);
    assert.equal((await cli(["relay", "route", "set", "recipient-domain", "BigCorp.example", "direct"])).code, 0);
    const routes = await cli(["relay", "route", "list"]);
    assert.match(routes.stdout, /recipient-domain\s+bigcorp\.example\s+direct/);
    assert.match(routes.stdout, /default\s+\*\s+direct → smtp2go/);
    const busy = await cli(["relay", "remove", "smtp2go"]);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /used by routes: default/);
    assert.equal((await cli(["relay", "route", "set", "default", "direct"])).code, 0);
    assert.equal((await cli(["relay", "remove", "smtp2go"])).code, 0);
    assert.doesNotMatch(await fs.readFile(secretsFile, "utf8"), /s3cret/);
  });
});

test("relay test reports each step: connect, TLS with the certificate verified, AUTH accepted or refused", async (t) => {
  const ca = await makeTestCa(["127.0.0.41"]);
  t.after(() => fs.rm(ca.dir, { recursive: true, force: true }));
  const peer = await startScriptedPeer({ host: "127.0.0.41", tls: { cert: ca.certFile, key: ca.keyFile }, requireTls: true, users: { fh: "good-pass" } });
  t.after(() => peer.stop());
  await withTmpDir(async (dir) => {
    const cli = await initDir(dir);
    const caFile = path.join(dir, "ca.pem");
    await fs.writeFile(caFile, ca.caCert);
    assert.equal((await cli(["relay", "add", "r1", "--host", "127.0.0.41", "--port", String(peer.port), "--user", "fh"], "good-pass\n")).code, 0);
    const ok = await cli(["relay", "test", "r1", "--ca-file", caFile]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^ok\s+connect/m);
    assert.match(ok.stdout, /^ok\s+tls\s+starttls, certificate valid/m);
    assert.match(ok.stdout, /^ok\s+auth\s+accepted for fh/m);

    const noCa = await cli(["relay", "test", "r1"]);
    assert.equal(noCa.code, 1);
    assert.match(noCa.stdout, /^FAIL\s+tls/m, "an unknown CA fails at TLS, before any password is sent");

    assert.equal((await cli(["relay", "add", "r1", "--host", "127.0.0.41", "--port", String(peer.port), "--user", "fh"], "wrong-pass\n")).code, 0);
    const refused = await cli(["relay", "test", "r1", "--ca-file", caFile]);
    assert.equal(refused.code, 1);
    assert.match(refused.stdout, /^FAIL\s+auth\s+535/m);
  });
});
