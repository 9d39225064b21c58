// `freehold dkim list|rotate|check` and `freehold sendmail` as an operator or a cron job runs
// them: the real CLI in a child process over a data folder; `dkim check` asks a DNS server on
// loopback for the records.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import YAML from "yaml";
import { runCli, hasStackTrace } from "../cli/run.ts";
import { startFaultServer } from "../support/dns-fault.ts";
import type { FaultServer } from "../support/dns-fault.ts";
import { openStorage } from "../../src/store/open.ts";
import { openSideDb, SqliteQueueParams } from "../../src/store/sqlite/dkim.ts";

let parent: string;
let data: string;
let dns: FaultServer;
const txt = new Map<string, string>();
const cli = (args: string[], stdin?: string) => runCli(["--data", data, ...args], { stdin });

before(async () => {
  parent = await mkdtemp(path.join(os.tmpdir(), "freehold-sendmail-"));
  data = path.join(parent, "data");
  dns = await startFaultServer((q) => {
    const rec = q.type === "TXT" ? txt.get(q.name.toLowerCase()) : undefined;
    if (!rec) return { kind: "rcode", rcode: "NXDOMAIN" };
    const strings = rec.match(/.{1,255}/g)!.map((s) => Buffer.from(s));
    return { kind: "answer", answers: [{ type: "TXT", name: q.name, ttl: 60, data: strings }] };
  });
  assert.equal((await cli(["init", "--hostname", "mx.freehold.test"])).code, 0);
  const file = path.join(data, "freehold.yaml");
  const conf = YAML.parse(await readFile(file, "utf8")) as Record<string, unknown>;
  conf.dns = { servers: [dns.address], timeoutMs: 500, tries: 1 };
  await writeFile(file, YAML.stringify(conf));
  assert.equal((await cli(["domain", "add", "example.org"])).code, 0);
  assert.equal((await cli(["user", "add", "bob@example.org", "--password-stdin"], "bob-Passw0rd-1\n")).code, 0);
  assert.equal((await cli(["user", "add", "tiny@example.org", "--password-stdin", "--quota", "1K"], "tiny-Passw0rd-1\n")).code, 0);
});
after(async () => {
  await dns.close();
  await rm(parent, { recursive: true, force: true });
});

interface KeyJson {
  domain: string;
  selector: string;
  type: string;
  state: string;
  name: string;
  txt: string;
}

async function keys(domain: string): Promise<KeyJson[]> {
  const r = await cli(["dkim", "list", domain, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as KeyJson[];
}

async function inbox(address: string): Promise<Buffer[]> {
  const s = await openStorage(data);
  try {
    const u = await s.store.accounts.getUserByAddress(address);
    const mbox = await s.store.mail.getMailbox(u!.id, "INBOX");
    const out: Buffer[] = [];
    for (const m of await s.store.mail.listMessages(mbox!.id)) out.push(Buffer.concat([Buffer.from(m.traceHeaders), await s.blobs.readAll(m.blobId)]));
    return out;
  } finally {
    await s.close();
  }
}

test("dkim: domain add created two keys; list shows the records; check publishes and activates them", async () => {
  const k = await keys("example.org");
  assert.deepEqual(k.map((x) => [x.type, x.state]).sort(), [["ed25519", "new"], ["rsa", "new"]]);
  assert.ok(!JSON.stringify(k).includes("PRIVATE KEY"), "--json never prints private keys");
  const human = await cli(["dkim", "list", "example.org"]);
  for (const x of k) assert.ok(human.stdout.includes(`${x.name}. IN TXT "v=DKIM1; k=${x.type}; p=`), human.stdout);

  // Nothing published yet: check says so and changes nothing.
  const none = await cli(["dkim", "check", "example.org"]);
  assert.equal(none.code, 0, none.stderr);
  assert.match(none.stdout, /not-live/);
  assert.ok((await keys("example.org")).every((x) => x.state === "new"));

  for (const x of k) txt.set(x.name, x.txt);
  const ok = await cli(["dkim", "check", "example.org"]);
  assert.match(ok.stdout, /published/);
  assert.match(ok.stdout, /activated/);
  assert.deepEqual((await keys("example.org")).map((x) => x.state), ["active", "active"]);
  assert.ok(dns.log.some((q) => q.type === "TXT" && q.name.toLowerCase() === k[0].name), "asked the configured DNS server");

  const rot = await cli(["dkim", "rotate", "example.org"]);
  assert.equal(rot.code, 0);
  assert.equal((await keys("example.org")).filter((x) => x.state === "new").length, 2);
  assert.equal((await cli(["dkim", "rotate", "nosuch.example"])).code, 1);
});

test("sendmail -t -oi: delivered locally, signed by the From domain, Bcc stripped, lone dots kept", async () => {
  const msg = "From: Robot <robot@example.org>\nTo: bob@example.org\nBcc: hidden@example.net\nSubject: cron\n\nline\n.\nafter the dot\n";
  const r = await cli(["sendmail", "-t", "-oi", "-f", "robot@example.org"], msg);
  assert.equal(r.code, 0, r.stderr);
  const m = (await inbox("bob@example.org")).at(-1)!.toString();
  assert.match(m, /Subject: cron\r\n/);
  assert.match(m, /\r\n\.\r\nafter the dot\r\n$/);
  assert.doesNotMatch(m, /^Bcc:/im);
  assert.match(m, /^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=example\.org;/m);
  assert.match(m, /^Received: by mx\.freehold\.test \(Freehold sendmail\)/m);
  // The Bcc recipient was taken from the header (-t) and queued.
  const s = await openStorage(data);
  const side = openSideDb(data);
  try {
    const q = (await s.store.queue.list()).at(-1)!;
    assert.equal(q.mailFrom, "robot@example.org");
    assert.deepEqual(q.recipients.map((x) => x.recipient), ["hidden@example.net"]);
    assert.equal(new SqliteQueueParams(side).get(q.id)?.body, "7BIT");
  } finally {
    side.close();
    await s.close();
  }
});

test("sendmail without -i: a lone dot ends the message; no From gets one from -F and the sender", async () => {
  const r = await cli(["sendmail", "-F", "Cron Daemon", "-f", "cron@example.org", "bob@example.org"], "Subject: dots\n\nkept\n.\ndropped\n");
  assert.equal(r.code, 0, r.stderr);
  const m = (await inbox("bob@example.org")).at(-1)!.toString();
  assert.match(m, /From: "Cron Daemon" <cron@example\.org>\r\n/);
  assert.match(m, /kept\r\n$/);
  assert.doesNotMatch(m, /dropped/);
});

test("sendmail exit codes: 64 usage, 65 data, 67 unknown user, 75 temporary, 78 no data folder", async () => {
  const usage = await cli(["sendmail"], "Subject: x\n\nx\n");
  assert.equal(usage.code, 64);
  assert.equal((await cli(["sendmail", "-X", "bob@example.org"], "Subject: x\n\nx\n")).code, 64);
  assert.equal((await cli(["sendmail", "-t"], "Subject: no recipients\n\nx\n")).code, 64);
  assert.equal((await cli(["sendmail", "bob@example.org"], "")).code, 65);
  assert.equal((await cli(["sendmail", "-t"], "From: a@example.org\nTo: <unclosed@example.org\n\nx\n")).code, 65);
  const nouser = await cli(["sendmail", "nobody@example.org"], "Subject: x\n\nx\n");
  assert.equal(nouser.code, 67);
  assert.match(nouser.stderr, /nobody@example\.org: no such user here/);
  // Over quota is a temporary failure: the caller keeps the message and retries.
  const big = `Subject: big\n\n${"x".repeat(70)}\n`.repeat(40);
  assert.equal((await cli(["sendmail", "tiny@example.org"], big)).code, 75);
  const noData = await runCli(["sendmail", "bob@example.org"], { stdin: "Subject: x\n\nx\n" });
  assert.equal(noData.code, 78);
  for (const r of [usage, nouser, noData]) assert.ok(!hasStackTrace(r.stderr), r.stderr);
});
