// The Postfix and smtp-sink harness itself: a message sent with swaks through a test Postfix
// reaches smtp-sink; two instances run side by side; AUTH over STARTTLS gates relaying; stop
// leaves no process behind.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import nodemailer from "nodemailer";
import { postfixUnavailable, startPostfix, type PostfixInstance } from "./postfix.ts";
import { startSmtpSink, parseSinkCounters, type SmtpSink } from "./smtp-sink.ts";
import { makePeerDir, run } from "./peer-util.ts";

function swaks(args: string[], transcript = false) {
  const quiet = transcript ? ["--suppress-data"] : ["--hide-all"];
  return run("swaks", [...quiet, "--timeout", "20", ...args], { timeoutMs: 30_000 });
}

/** One message over STARTTLS (required), optionally with AUTH; rejects with the server's reply. */
async function sendTls(port: number, auth?: { user: string; pass: string }) {
  const transport = nodemailer.createTransport({
    host: "127.0.0.1",
    port,
    secure: false,
    requireTLS: true,
    name: "client.test",
    tls: { rejectUnauthorized: false },
    auth,
  });
  try {
    return await transport.sendMail({
      envelope: { from: "a@client.test", to: ["r@sink.test"] },
      raw: "From: a@client.test\r\nTo: r@sink.test\r\nSubject: relay test\r\n\r\nhello\r\n",
    });
  } finally {
    transport.close();
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test("parseSinkCounters reads the newest counter record", () => {
  assert.deepEqual(parseSinkCounters("sess=0 quit=0 mesg=1\rsess=1 quit=1 mesg=1\rsess=2 quit=2 mesg=7\r"), {
    sessions: 2,
    quits: 2,
    messages: 7,
  });
  assert.deepEqual(parseSinkCounters(""), { sessions: 0, quits: 0, messages: 0 });
});

const skip = postfixUnavailable();

test("a message sent through Postfix arrives at smtp-sink; two instances side by side", { skip }, async (t) => {
  const sink: SmtpSink = await startSmtpSink();
  t.after(() => sink.stop());
  const instances: PostfixInstance[] = [];
  t.after(() => Promise.all(instances.map((p) => p.stop())));
  const route = { relayDomains: ["sink.test"], transports: { "sink.test": `smtp:[127.0.0.1]:${sink.port}` } };
  // Started concurrently: distinct queue/data dirs and syslog names must keep them apart.
  instances.push(...(await Promise.all([startPostfix(route), startPostfix(route)])));
  const [a, b] = instances;
  assert.notEqual(a.port, b.port);
  assert.notEqual(a.queueDir, b.queueDir);

  const before = sink.messages();
  for (const p of instances) {
    const r = await swaks(["--server", `127.0.0.1:${p.port}`, "--from", "sender@client.test", "--to", "rcpt@sink.test"]);
    assert.equal(r.code, 0, r.stderr);
  }
  assert.ok(await sink.waitForMessages(before + 2, 20_000), `sink saw ${sink.messages() - before} of 2`);
  for (const p of instances) {
    assert.ok(await p.waitQueueEmpty(10_000), "queue drained");
    assert.match(await p.log(), /to=<rcpt@sink\.test>.*status=sent/);
  }

  // Anything not routed is refused at RCPT: nothing can leave the machine.
  const refused = await swaks(["--server", `127.0.0.1:${a.port}`, "--from", "s@client.test", "--to", "x@elsewhere.example"]);
  assert.notEqual(refused.code, 0);

  const pids = instances.map((p) => p.pid);
  const dirs = instances.map((p) => p.dir);
  await Promise.all(instances.map((p) => p.stop()));
  for (const pid of pids) assert.equal(pidAlive(pid), false, `master ${pid} still running`);
  for (const dir of dirs) await assert.rejects(fs.stat(dir), "state dir removed");
});

test("with auth, Postfix relays only after STARTTLS and AUTH", { skip }, async (t) => {
  const certDir = await makePeerDir("cert");
  t.after(() => fs.rm(certDir, { recursive: true, force: true }));
  const certFile = path.join(certDir, "cert.pem");
  const keyFile = path.join(certDir, "key.pem");
  const gen = await run("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
    "-subj", "/CN=relay.postfix.test", "-keyout", keyFile, "-out", certFile,
  ]);
  assert.equal(gen.code, 0, gen.stderr);

  const sink = await startSmtpSink();
  t.after(() => sink.stop());
  const relay = await startPostfix({
    hostname: "relay.postfix.test",
    // Not in relay_domains: only authenticated clients may send there (a smarthost, not an MX).
    transports: { "sink.test": `smtp:[127.0.0.1]:${sink.port}` },
    tls: { certFile, keyFile },
    auth: { users: { relayuser: "s3cret pass" } },
  });
  t.after(() => relay.stop());
  const server = ["--server", `127.0.0.1:${relay.port}`, "--from", "a@client.test", "--to", "r@sink.test"];

  // Each refusal is checked by its reply, so a broken TLS setup cannot pass as a refusal.
  const noTls = await swaks([...server, "--auth", "PLAIN", "--auth-user", "relayuser", "--auth-password", "s3cret pass"], true);
  assert.notEqual(noTls.code, 0, "AUTH without TLS must fail");
  assert.match(noTls.stdout, /250[- ]STARTTLS/);
  assert.doesNotMatch(noTls.stdout, /250[- ]AUTH/, "AUTH is not offered before STARTTLS");
  // With TLS: nodemailer (Debian's swaks needs libnet-ssleay-perl for --tls).
  const reply = (code: number, text: RegExp) => (err: unknown) => {
    const e = err as { responseCode?: number; response?: string };
    assert.equal(e.responseCode, code, e.response);
    assert.match(e.response ?? "", text);
    return true;
  };
  await assert.rejects(sendTls(relay.port, { user: "relayuser", pass: "wrong" }), reply(535, /5\.7\.8/));
  await assert.rejects(sendTls(relay.port), reply(554, /5\.7\.1 .*Relay access denied/));

  const before = sink.messages();
  const info = await sendTls(relay.port, { user: "relayuser", pass: "s3cret pass" });
  assert.match(info.response, /^250 /);
  assert.ok(await sink.waitForMessages(before + 1, 20_000));
  assert.equal(sink.messages(), before + 1, "only the authenticated message was relayed");
  assert.match(await relay.log(), /sasl_method=PLAIN, sasl_username=relayuser/);

  // The benchmark's load generator takes the same path: STARTTLS, AUTH PLAIN, pipelined mail.
  const { runLoad } = await import("../../bench/support/smtp-load.ts");
  const load = await runLoad({
    host: "127.0.0.1",
    port: relay.port,
    messages: 6,
    connections: 2,
    reuse: true,
    messageBytes: 2048,
    from: "load@client.test",
    rcpt: () => "r@sink.test",
    starttls: true,
    auth: { user: "relayuser", pass: "s3cret pass" },
  });
  assert.equal(load.errors, 0, load.errorSamples.join(" | "));
  assert.equal(load.acked, 6);
  assert.ok(await sink.waitForMessages(before + 7, 20_000), `sink counted ${sink.messages() - before - 1} of 6`);
});

test("the benchmark load generator's count matches what smtp-sink received, in both modes", { skip }, async (t) => {
  const { runLoad } = await import("../../bench/support/smtp-load.ts");
  const sink = await startSmtpSink();
  t.after(() => sink.stop());
  for (const reuse of [false, true]) {
    const before = sink.messages();
    const r = await runLoad({
      host: sink.host,
      port: sink.port,
      messages: 40,
      connections: 4,
      reuse,
      messageBytes: 4096,
      from: "load@client.test",
      rcpt: (i) => `r${i}@sink.test`,
      deadlineMs: 30_000,
    });
    assert.equal(r.errors, 0, r.errorSamples.join(" | "));
    assert.equal(r.acked, 40);
    assert.equal(r.latenciesMs.length, 40);
    assert.ok(await sink.waitForMessages(before + 40, 10_000), `sink counted ${sink.messages() - before}`);
    assert.equal(sink.messages(), before + 40);
  }
});

test("Postfix as a remote MX on 127.0.0.2 delivers over LMTP to smtp-sink, captured to files", { skip }, async (t) => {
  const dumpDir = await makePeerDir("sink-dump");
  t.after(() => fs.rm(dumpDir, { recursive: true, force: true }));
  const sink = await startSmtpSink({ lmtp: true, dumpDir });
  t.after(() => sink.stop());
  const mx = await startPostfix({
    host: "127.0.0.2",
    hostname: "mx.remote.test",
    virtualDomains: ["remote.test"],
    lmtp: { host: sink.host, port: sink.port },
  });
  t.after(() => mx.stop());
  const r = await swaks([
    "--server", `127.0.0.2:${mx.port}`, "--from", "a@client.test", "--to", "bob@remote.test",
    "--header", "Subject: over lmtp",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(await sink.waitForMessages(1, 20_000));
  const dumps = await sink.dumps();
  assert.equal(dumps.length, 1);
  const text = await fs.readFile(dumps[0], "latin1");
  assert.match(text, /bob@remote\.test/);
  assert.match(text, /^Subject: over lmtp/m);
  assert.match(text, /by mx\.remote\.test \(Postfix\)/);
});
