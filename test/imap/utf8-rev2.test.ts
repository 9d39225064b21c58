// ENABLE UTF8=ACCEPT (RFC 6855) and ENABLE IMAP4rev2 (RFC 9051 Appendix E) change what the
// server sends: UTF-8 mailbox names instead of modified UTF-7, ESEARCH for SEARCH, no RECENT,
// a LIST line in SELECT, [CLOSED] when switching mailboxes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PASSWORD, USER, sampleMessage, startHarness } from "./harness.ts";
import { RawClient } from "./raw-client.ts";

const utf8 = (s: string): string => Buffer.from(s, "utf8").toString("latin1"); // RawClient lines are latin1

test("UTF8=ACCEPT: UTF-8 names on the wire, modified UTF-7 for other sessions", async () => {
  const h = await startHarness();
  try {
    const a = await RawClient.connect(h.port);
    await a.login(USER, PASSWORD);
    const cap = await a.cmd("CAPABILITY");
    assert.match(cap.untagged[0], / UTF8=ACCEPT/);
    assert.deepEqual((await a.cmd("ENABLE UTF8=ACCEPT")).untagged, ["* ENABLED UTF8=ACCEPT"]);
    a.send(Buffer.concat([Buffer.from('c1 CREATE "'), Buffer.from("Büro/Café", "utf8"), Buffer.from('"\r\n')]));
    assert.equal((await a.until("c1")).status, "OK");
    // Names are NFC (RFC 9051 §5.1): the decomposed spelling names the same mailbox.
    a.send(Buffer.concat([Buffer.from('c2 CREATE "'), Buffer.from("Büro/Cafe\u0301", "utf8"), Buffer.from('"\r\n')]));
    assert.match((await a.until("c2")).text, /^NO \[ALREADYEXISTS\]/);
    const l = await a.cmd('LIST "" "B*"');
    assert.deepEqual(l.untagged, [utf8('* LIST (\\HasChildren) "/" "Büro"'), utf8('* LIST (\\HasNoChildren) "/" "Büro/Café"')]);
    // RFC 6855 §4: APPEND UTF8 (~{n}) with an internationalized message.
    const msg = Buffer.from("Subject: Grüße\r\nFrom: jörg@exämple.test\r\n\r\nHallo\r\n", "utf8");
    a.send(Buffer.concat([Buffer.from(`u1 APPEND INBOX UTF8 (~{${msg.length}+}\r\n`), msg, Buffer.from(")\r\n")]));
    assert.equal((await a.until("u1")).status, "OK");
    const b = await RawClient.connect(h.port);
    await b.login(USER, PASSWORD);
    const lb = await b.cmd('LIST "" "B*"');
    assert.deepEqual(lb.untagged, ['* LIST (\\HasChildren) "/" B&APw-ro', '* LIST (\\HasNoChildren) "/" B&APw-ro/Caf&AOk-']);
    // The UTF8 APPEND form is refused without UTF8=ACCEPT.
    b.send(Buffer.concat([Buffer.from(`u2 APPEND INBOX UTF8 (~{${msg.length}+}\r\n`), msg, Buffer.from(")\r\n")]));
    assert.equal((await b.until("u2")).status, "BAD");
    a.close();
    b.close();
  } finally {
    await h.close();
  }
});

test("IMAP4rev2: ESEARCH, no RECENT, LIST in SELECT, [CLOSED]", async () => {
  const h = await startHarness();
  try {
    for (let i = 1; i <= 3; i++) await h.deliver("INBOX", sampleMessage(i));
    const a = await RawClient.connect(h.port);
    await a.login(USER, PASSWORD);
    assert.match((await a.cmd("CAPABILITY")).untagged[0], / IMAP4rev2/);
    assert.deepEqual((await a.cmd("ENABLE IMAP4rev2")).untagged, ["* ENABLED IMAP4rev2"]);
    const sel = await a.cmd("SELECT INBOX");
    assert.ok(!sel.untagged.some((l) => / RECENT$/.test(l)), sel.untagged.join("\n"));
    assert.ok(!sel.untagged.some((l) => /\[UNSEEN /.test(l)), sel.untagged.join("\n"));
    assert.ok(sel.untagged.includes('* LIST () "/" INBOX'), sel.untagged.join("\n"));
    assert.ok(sel.untagged.includes("* 3 EXISTS"));
    const s = await a.cmd("SEARCH SUBJECT number");
    assert.deepEqual(s.untagged, ['* ESEARCH (TAG "t5") ALL 1:3']);
    const u = await a.cmd("UID SEARCH 2:3");
    assert.deepEqual(u.untagged, ['* ESEARCH (TAG "t6") UID ALL 2:3']);
    const e = await a.cmd("EXAMINE Archive");
    assert.equal(e.untagged[0], "* OK [CLOSED] Previous mailbox closed");
    a.close();
  } finally {
    await h.close();
  }
});
