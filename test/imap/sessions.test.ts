// Session invariants on the wire (see the top of src/imap/session.ts): EXPUNGE timing across
// sessions, CONDSTORE/QRESYNC answers, quota, AUTHENTICATE, TLS roles, limits, autologout.
import { test } from "node:test";
import assert from "node:assert/strict";
import tls from "node:tls";
import { ManualClock, systemClock } from "../../src/clock.ts";
import { createSelfSigned } from "../../src/tls/selfsigned.ts";
import { PASSWORD, USER, sampleMessage, startHarness } from "./harness.ts";
import { RawClient } from "./raw-client.ts";

const plain = (s: string): string => Buffer.from(s).toString("base64");

test("another session's EXPUNGE is held back during FETCH, STORE and SEARCH", async () => {
  const h = await startHarness();
  try {
    for (let i = 1; i <= 3; i++) await h.deliver("INBOX", sampleMessage(i));
    const a = await RawClient.connect(h.port);
    const b = await RawClient.connect(h.port);
    await a.login(USER, PASSWORD);
    await b.login(USER, PASSWORD);
    await a.cmd("SELECT INBOX");
    await b.cmd("SELECT INBOX");
    await b.cmd("STORE 2 +FLAGS (\\Deleted)");
    const ex = await b.cmd("EXPUNGE");
    assert.deepEqual(ex.untagged, ["* 2 EXPUNGE"]);
    // RFC 3501 §7.4.1: no EXPUNGE while answering FETCH; the message numbers stay put.
    const f = await a.cmd("FETCH 1:3 (UID FLAGS)");
    assert.equal(f.status, "OK");
    assert.ok(!f.untagged.some((l) => /EXPUNGE/.test(l)), f.untagged.join("\n"));
    assert.ok(f.untagged.some((l) => l.startsWith("* 3 FETCH (UID 3 ")), f.untagged.join("\n"));
    const st = await a.cmd("STORE 3 +FLAGS (\\Seen)");
    assert.ok(!st.untagged.some((l) => /EXPUNGE/.test(l)));
    const se = await a.cmd("SEARCH ALL");
    assert.ok(!se.untagged.some((l) => /EXPUNGE/.test(l)));
    assert.ok(se.untagged.includes("* SEARCH 1 3"), se.untagged.join("\n"));
    // The body of the expunged message: OK [EXPUNGEISSUED] with NIL for the content (RFC 2180
    // §4.1.3, as Dovecot answers), never NO; the session goes on.
    const body = await a.cmd("FETCH 2 BODY.PEEK[]");
    assert.equal(body.status, "OK");
    assert.match(body.text, /^OK \[EXPUNGEISSUED\]/);
    assert.deepEqual(body.untagged, ["* 2 FETCH (BODY[] NIL)"]);
    // NOOP is an allowed point: now the EXPUNGE arrives.
    // a selected first, so the three messages were \Recent in a: RECENT follows the count down
    // (RFC 3501 §7.3.2, as Dovecot).
    const n = await a.cmd("NOOP");
    assert.deepEqual(n.untagged, ["* 2 EXPUNGE", "* 2 RECENT"]);
    const after = await a.cmd("FETCH 2 (UID)");
    assert.deepEqual(after.untagged, ["* 2 FETCH (UID 3)"]);
    // New mail shows as EXISTS at the next command (here a FETCH may carry EXISTS).
    await h.deliver("INBOX", sampleMessage(4));
    const n2 = await a.cmd("NOOP");
    assert.deepEqual(n2.untagged, ["* 3 EXISTS", "* 3 RECENT"]);
    // A message delivered and expunged before this session heard of it leaves no trace.
    const uid = await h.deliver("INBOX", sampleMessage(5));
    await b.cmd("NOOP");
    await b.cmd(`UID STORE ${uid} +FLAGS (\\Deleted)`);
    await b.cmd(`UID EXPUNGE ${uid}`);
    const n3 = await a.cmd("NOOP");
    assert.deepEqual(n3.untagged, []);
    // A UID learnt elsewhere (APPENDUID in another session) can be used at once, and a flag
    // change made elsewhere is reported at the end of the command that caught up with it.
    const lit = "Subject: x\r\n\r\nx\r\n";
    b.send(`ap APPEND INBOX {${lit.length}+}\r\n${lit}\r\n`);
    const newUid = /APPENDUID \d+ (\d+)/.exec((await b.until("ap")).text)![1];
    await b.cmd("STORE 1 +FLAGS (\\Answered)");
    const us = await a.cmd(`UID STORE ${newUid} +FLAGS (\\Flagged)`);
    assert.equal(us.status, "OK");
    assert.equal(us.untagged[0], "* 4 EXISTS", us.untagged.join("\n"));
    assert.ok(us.untagged.includes(`* 4 FETCH (UID ${newUid} FLAGS (\\Flagged))`), us.untagged.join("\n"));
    assert.ok(us.untagged.some((l) => /^\* 1 FETCH \(UID 1 FLAGS \(.*\\Answered.*\)\)$/.test(l)), us.untagged.join("\n"));
    a.close();
    b.close();
  } finally {
    await h.close();
  }
});

test("CONDSTORE/QRESYNC: ENABLE, SELECT (QRESYNC), VANISHED (EARLIER), UNCHANGEDSINCE [MODIFIED]", async () => {
  const h = await startHarness();
  try {
    for (let i = 1; i <= 4; i++) await h.deliver("INBOX", sampleMessage(i));
    const a = await RawClient.connect(h.port);
    await a.login(USER, PASSWORD);
    const en = await a.cmd("ENABLE QRESYNC");
    assert.deepEqual(en.untagged, ["* ENABLED QRESYNC"]);
    const sel = await a.cmd("SELECT INBOX");
    const hm = sel.untagged.map((l) => /HIGHESTMODSEQ (\d+)/.exec(l)).find(Boolean);
    assert.ok(hm, sel.untagged.join("\n"));
    const uidv = /UIDVALIDITY (\d+)/.exec(sel.untagged.join("\n"))![1];
    const modseq = Number(hm[1]);
    // Another session changes one flag and expunges one message.
    const b = await RawClient.connect(h.port);
    await b.login(USER, PASSWORD);
    await b.cmd("SELECT INBOX");
    await b.cmd("UID STORE 1 +FLAGS (\\Answered)");
    await b.cmd("UID STORE 3 +FLAGS (\\Deleted)");
    await b.cmd("UID EXPUNGE 3");
    // RFC 7162 §3.1.3: UNCHANGEDSINCE older than the change fails with [MODIFIED].
    const cs = await a.cmd(`UID STORE 1,2 (UNCHANGEDSINCE ${modseq}) +FLAGS (\\Flagged)`);
    assert.match(cs.text, /^OK \[MODIFIED 1\]/);
    // a's SELECT claimed the four messages as \Recent (RFC 3501 §2.3.2; ENABLE QRESYNC is not IMAP4rev2).
    assert.ok(cs.untagged.some((l) => /UID 2 FLAGS \(\\Flagged \\Recent\)/.test(l)), cs.untagged.join("\n"));
    await a.cmd("UNSELECT");
    // RFC 7162 §3.2.5: resynchronise from the old MODSEQ.
    const q = await a.cmd(`SELECT INBOX (QRESYNC (${uidv} ${modseq} 1:4))`);
    assert.equal(q.status, "OK");
    assert.ok(q.untagged.includes("* VANISHED (EARLIER) 3"), q.untagged.join("\n"));
    assert.ok(q.untagged.some((l) => /^\* 1 FETCH \(UID 1 FLAGS \(\\Answered\) MODSEQ \(\d+\)\)$/.test(l)), q.untagged.join("\n"));
    assert.ok(q.untagged.some((l) => /^\* 2 FETCH \(UID 2 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)$/.test(l)), q.untagged.join("\n"));
    const v = await a.cmd(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${modseq} VANISHED)`);
    assert.ok(v.untagged.includes("* VANISHED (EARLIER) 3"), v.untagged.join("\n"));
    // With QRESYNC an expunge is announced as VANISHED, not EXPUNGE.
    await b.cmd("UID STORE 4 +FLAGS (\\Deleted)");
    await b.cmd("EXPUNGE");
    const n = await a.cmd("NOOP");
    assert.ok(n.untagged.includes("* VANISHED 4"), n.untagged.join("\n"));
    a.close();
    b.close();
  } finally {
    await h.close();
  }
});

test("STATUS counts follow every change (cached per HIGHESTMODSEQ)", async () => {
  const h = await startHarness();
  try {
    await h.deliver("INBOX", sampleMessage(1));
    const a = await RawClient.connect(h.port);
    await a.login(USER, PASSWORD);
    const st = async (): Promise<string> => (await a.cmd("STATUS INBOX (MESSAGES UNSEEN DELETED SIZE)")).untagged[0];
    const size = sampleMessage(1).length;
    assert.equal(await st(), `* STATUS INBOX (MESSAGES 1 UNSEEN 1 DELETED 0 SIZE ${size})`);
    assert.equal(await st(), `* STATUS INBOX (MESSAGES 1 UNSEEN 1 DELETED 0 SIZE ${size})`);
    await h.deliver("INBOX", sampleMessage(2));
    assert.equal(await st(), `* STATUS INBOX (MESSAGES 2 UNSEEN 2 DELETED 0 SIZE ${size * 2})`);
    const b = await RawClient.connect(h.port);
    await b.login(USER, PASSWORD);
    await b.cmd("SELECT INBOX");
    await b.cmd("STORE 1 +FLAGS (\\Seen \\Deleted)");
    assert.equal(await st(), `* STATUS INBOX (MESSAGES 2 UNSEEN 1 DELETED 1 SIZE ${size * 2})`);
    await b.cmd("EXPUNGE");
    assert.equal(await st(), `* STATUS INBOX (MESSAGES 1 UNSEEN 1 DELETED 0 SIZE ${size})`);
    a.close();
    b.close();
  } finally {
    await h.close();
  }
});

test("quota: APPEND and COPY over quota answer NO [OVERQUOTA]", async () => {
  const h = await startHarness({ defaultQuotaBytes: 2000 });
  try {
    await h.deliver("INBOX", sampleMessage(1));
    const a = await RawClient.connect(h.port);
    await a.login(USER, PASSWORD);
    const q = await a.cmd("GETQUOTAROOT INBOX");
    assert.deepEqual(q.untagged, ['* QUOTAROOT INBOX ""', '* QUOTA "" (STORAGE 1 1)']);
    const big = "Subject: big\r\n\r\n" + "x".repeat(1900) + "\r\n";
    a.send(`a1 APPEND INBOX {${big.length}+}\r\n${big}\r\n`);
    const r = await a.until("a1");
    assert.equal(r.status, "NO");
    assert.match(r.text, /\[OVERQUOTA\]/);
    const small = "Subject: s\r\n\r\nx\r\n";
    a.send(`a2 APPEND INBOX {${small.length}+}\r\n${small}\r\n`);
    assert.equal((await a.until("a2")).status, "OK");
    await a.cmd("SELECT INBOX");
    for (let i = 0; i < 9; i++) await a.cmd("COPY 1 Archive");
    const c = await a.cmd("COPY 1:* Archive");
    assert.equal(c.status, "NO");
    assert.match(c.text, /\[OVERQUOTA\]/);
    a.close();
  } finally {
    await h.close();
  }
});

test("AUTHENTICATE PLAIN with and without SASL-IR; rate limit; per-user [LIMIT]", async () => {
  const h = await startHarness({ limits: { maxConnectionsPerUser: 2 } });
  try {
    const a = await RawClient.connect(h.port);
    const ok = await a.cmd(`AUTHENTICATE PLAIN ${plain(`\0${USER}\0${PASSWORD}`)}`);
    assert.match(ok.text, /^OK \[CAPABILITY [^\]]*IDLE/);
    const b = await RawClient.connect(h.port);
    b.send("x1 AUTHENTICATE PLAIN\r\n");
    assert.equal(await b.line(), "+ ");
    b.send(plain(`${USER}\0${USER}\0${PASSWORD}`) + "\r\n");
    assert.equal((await b.until("x1")).status, "OK");
    // A third login of the same user is over the cap.
    const c = await RawClient.connect(h.port);
    const lim = await c.cmd(`LOGIN "${USER}" "${PASSWORD}"`);
    assert.match(lim.text, /^NO \[LIMIT\]/);
    // RFC 9051 §6.2.2: "*" cancels the exchange with BAD.
    c.send("x2 AUTHENTICATE PLAIN\r\n");
    assert.equal(await c.line(), "+ ");
    c.send("*\r\n");
    assert.match((await c.until("x2")).text, /^BAD/);
    // Guessing: after the per-account limit even the right password is refused for a while.
    for (let i = 0; i < 10; i++) {
      const r = await c.cmd(`LOGIN "${USER}" "wrong${i}"`);
      assert.match(r.text, /^NO \[AUTHENTICATIONFAILED\]/);
    }
    const limited = await c.cmd(`LOGIN "${USER}" "wrong again"`);
    assert.match(limited.text, /^NO \[UNAVAILABLE\]/);
    a.close();
    b.close();
    c.close();
  } finally {
    await h.close();
  }
});

test("per-IP connection cap answers BYE [LIMIT]; a freed slot can be reused", async () => {
  const h = await startHarness({ limits: { maxConnectionsPerIp: 2 } });
  try {
    const a = await RawClient.connect(h.port);
    const b = await RawClient.connect(h.port);
    const sock = net.connect(h.port, "127.0.0.1");
    const greeting = await new Promise<string>((r) => sock.once("data", (d: Buffer) => r(d.toString("latin1"))));
    assert.match(greeting, /^\* BYE \[LIMIT\]/);
    sock.destroy();
    a.close();
    await new Promise((r) => setTimeout(r, 100));
    const c = await RawClient.connect(h.port);
    assert.equal((await c.cmd("NOOP")).status, "OK");
    b.close();
    c.close();
  } finally {
    await h.close();
  }
});

test("role imap without TLS: LOGINDISABLED, STARTTLS, then AUTH=PLAIN; imaps implicit TLS", async () => {
  const pem = await createSelfSigned({ hostname: "localhost", altNames: ["127.0.0.1"], clock: systemClock });
  const secureContext = tls.createSecureContext({ cert: pem.cert, key: pem.key });
  // A remote client as seen from here: the loopback exemption off (the wire test for it on is in
  // behaviours-b.test.ts).
  const h = await startHarness({ allowPlaintextAuth: false, allowPlaintextOnLoopback: false, listener: { tls: "starttls", secureContext } });
  try {
    const a = await RawClient.connect(h.port);
    const cap = await a.cmd("CAPABILITY");
    assert.match(cap.untagged[0], /STARTTLS/);
    assert.match(cap.untagged[0], /LOGINDISABLED/);
    assert.doesNotMatch(cap.untagged[0], /AUTH=PLAIN/);
    const refused = await a.cmd(`LOGIN "${USER}" "${PASSWORD}"`);
    assert.match(refused.text, /^NO \[PRIVACYREQUIRED\]/);
    assert.match((await a.cmd("AUTHENTICATE PLAIN")).text, /^NO \[PRIVACYREQUIRED\]/);
    a.close();
    // STARTTLS, then the capabilities change and login works.
    const sock = await new Promise<import("node:net").Socket>((resolve, reject) => {
      const s = require_net().connect(h.port, "127.0.0.1");
      s.once("connect", () => resolve(s)).once("error", reject);
    });
    const lines = lineReader(sock);
    await lines.next();
    sock.write("s1 STARTTLS\r\n");
    assert.match(await lines.next(), /^s1 OK/);
    const sec = tls.connect({ socket: sock, rejectUnauthorized: false });
    await new Promise<void>((r) => sec.once("secureConnect", () => r()));
    const tl = lineReader(sec);
    sec.write("s2 CAPABILITY\r\n");
    const caps = await tl.next();
    assert.match(caps, /AUTH=PLAIN/);
    assert.doesNotMatch(caps, /STARTTLS|LOGINDISABLED/);
    await tl.next();
    sec.write(`s3 LOGIN "${USER}" "${PASSWORD}"\r\n`);
    assert.match(await tl.next(), /^s3 OK/);
    sec.destroy();
  } finally {
    await h.close();
  }
  const h2 = await startHarness({ allowPlaintextAuth: false, listener: { role: "imaps", tls: "implicit", secureContext } });
  try {
    const sec = tls.connect({ host: "127.0.0.1", port: h2.port, rejectUnauthorized: false });
    const tl = lineReader(sec);
    assert.match(await tl.next(), /^\* OK \[CAPABILITY [^\]]*AUTH=PLAIN/);
    sec.write(`i1 LOGIN "${USER}" "${PASSWORD}"\r\n`);
    assert.match(await tl.next(), /^i1 OK/);
    sec.destroy();
  } finally {
    await h2.close();
  }
});

test("server sweep: keepalive during IDLE, autologout after 30 minutes", async () => {
  const clock = new ManualClock(Date.now());
  const h = await startHarness({ clock, limits: { sweepMs: 3_600_000 } });
  try {
    const a = await RawClient.connect(h.port);
    await a.login(USER, PASSWORD);
    await a.cmd("SELECT INBOX");
    a.send("i1 IDLE\r\n");
    assert.match(await a.line(), /^\+ /);
    clock.advance(2 * 60_000 + 1);
    await h.server.sweep();
    assert.match(await a.line(), /^\* OK Still here/);
    // A delivery during IDLE is pushed at once.
    await h.deliver("INBOX", sampleMessage(1));
    assert.equal(await a.line(), "* 1 EXISTS");
    // RFC 3501 §7.3.2: the IMAP4rev1 session is the first to hear of it, so it is \Recent here.
    assert.equal(await a.line(), "* 1 RECENT");
    clock.advance(30 * 60_000);
    await h.server.sweep();
    assert.match(await a.line(), /^\* BYE/);
    const b = await RawClient.connect(h.port);
    clock.advance(61_000);
    await h.server.sweep();
    assert.match(await b.line(), /^\* BYE/);
  } finally {
    await h.close();
  }
});

test("server sweep: imap.commandTimeoutMs ends a command trickling in, not the wait between commands nor IDLE", async () => {
  const clock = new ManualClock(Date.now());
  const h = await startHarness({ clock, limits: { sweepMs: 3_600_000, commandTimeoutMs: 60_000 } });
  try {
    // Waiting between commands: no deadline (autologout, RFC 9051 §5.4, is 30 minutes).
    const a = await RawClient.connect(h.port);
    await a.login(USER, PASSWORD);
    clock.advance(10 * 60_000);
    await h.server.sweep();
    assert.match((await a.cmd("NOOP")).text, /^OK/);
    // IDLE for longer than the deadline is not cut.
    await a.cmd("SELECT INBOX");
    a.send("i1 IDLE\r\n");
    assert.match(await a.line(), /^\+ /);
    clock.advance(90_000);
    await h.server.sweep();
    a.send("DONE\r\n");
    assert.match((await a.until("i1")).text, /^OK/);
    // Part of a command, then nothing more: at the deadline, BYE.
    a.send("t1 NOOP xxxx");
    await new Promise((r) => setTimeout(r, 50));
    clock.advance(59_000);
    await h.server.sweep();
    a.send("x");
    await new Promise((r) => setTimeout(r, 50));
    clock.advance(2_000);
    await h.server.sweep();
    assert.match(await a.line(), /^\* BYE .*Command timeout/);
    // An inline literal accepted extends the deadline by its announced size (2 ms an octet).
    const b = await RawClient.connect(h.port);
    await b.login(USER, PASSWORD);
    b.send("t2 NOOP {30000}\r\n");
    assert.match(await b.line(), /^\+ /);
    clock.advance(61_000);
    await h.server.sweep();
    b.send(`${"y".repeat(30000)}\r\n`);
    assert.match((await b.until("t2")).text, /^BAD/);
    assert.match((await b.cmd("NOOP")).text, /^OK/);
  } finally {
    await h.close();
  }
});

test("APPEND of a large message streams to a blob; BODY[] is byte-identical", async () => {
  const h = await startHarness();
  try {
    const a = await RawClient.connect(h.port);
    await a.login(USER, PASSWORD);
    const body = Buffer.alloc(300_000);
    for (let i = 0; i < body.length; i++) body[i] = i % 79 === 78 ? 0x0a : 0x41 + (i % 26);
    const msg = Buffer.concat([Buffer.from("Subject: large\r\n\r\n"), body]);
    a.send(`L1 APPEND INBOX {${msg.length}}\r\n`);
    assert.match(await a.line(), /^\+ /);
    a.send(Buffer.concat([msg, Buffer.from("\r\n")]));
    const r = await a.until("L1");
    assert.match(r.text, /^OK \[APPENDUID \d+ 1\]/);
    await a.cmd("SELECT INBOX");
    const f = await a.cmd("FETCH 1 BODY.PEEK[]");
    const line = f.untagged[0];
    const start = line.indexOf("}") + 1;
    const got = Buffer.from(line.slice(start, line.length - 1), "latin1");
    assert.equal(got.length, msg.length);
    assert.ok(got.equals(msg));
    a.close();
  } finally {
    await h.close();
  }
});

test("a client that stops reading stalls its own session, not server memory", async () => {
  const h = await startHarness();
  try {
    const big = "Subject: big\r\n\r\n" + ("y".repeat(998) + "\r\n").repeat(1000); // ~1 MB
    await h.deliver("INBOX", big);
    const sock = net.connect(h.port, "127.0.0.1");
    await new Promise<void>((r) => sock.once("connect", () => r()));
    sock.write(`a LOGIN "${USER}" "${PASSWORD}"\r\nb SELECT INBOX\r\n`);
    await new Promise((r) => setTimeout(r, 200));
    sock.pause(); // stop reading: the kernel buffers fill, then the server must wait
    let cmds = "";
    for (let i = 0; i < 50; i++) cmds += `f${i} FETCH 1 BODY.PEEK[]\r\n`; // ~50 MB of answers
    sock.write(cmds);
    await new Promise((r) => setTimeout(r, 1000));
    const backlog = h.server.maxWriteBuffered();
    assert.ok(backlog > 0, "the client really stalled the server's output");
    assert.ok(backlog < 1024 * 1024, `server holds ${backlog} octets for a stalled client`);
    // The session is only paused: reading again lets it finish every command.
    let got = "";
    sock.on("data", (d: Buffer) => (got = (got + d.toString("latin1")).slice(-200)));
    sock.resume();
    const deadline = Date.now() + 20_000;
    while (!/f49 OK/.test(got) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.match(got, /f49 OK/);
    sock.destroy();
  } finally {
    await h.close();
  }
});

import net from "node:net";
function require_net(): typeof net {
  return net;
}

function lineReader(sock: net.Socket | tls.TLSSocket): { next(): Promise<string> } {
  let buf = "";
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  sock.on("data", (d: Buffer) => {
    buf += d.toString("latin1");
    let i;
    while ((i = buf.indexOf("\r\n")) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 2);
    }
    waiters.splice(0).forEach((w) => w());
  });
  return {
    async next() {
      while (!lines.length) await new Promise<void>((r) => waiters.push(r));
      return lines.shift()!;
    },
  };
}
