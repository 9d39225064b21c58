// Isolation between users and between a mailbox and the one created after it (issue 16 §1): a
// mailbox, user or message id that anything outside one transaction may hold (the server's
// mailbox index, the change bus, a selected view, the login cache) never names a different one
// later. Replays the outside suite's exchange: user A fills and deletes a mailbox, user B
// creates one and must see an empty mailbox, never A's UIDs, sizes or dates.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SYSTEM } from "../../src/accounts/authz.ts";
import { PASSWORD, USER, startHarness } from "./harness.ts";
import type { Harness } from "./harness.ts";
import { RawClient } from "./raw-client.ts";

export const BOB = "bob@example.test";
export const BOB_PASSWORD = "another horse battery";

async function login(h: Harness, user: string, password: string): Promise<RawClient> {
  const c = await RawClient.connect(h.port);
  await c.login(user, password);
  return c;
}

export async function append(c: RawClient, mailbox: string, body: string, flags = ""): Promise<{ status: string; text: string }> {
  const tag = `ap${Math.random().toString(36).slice(2, 8)}`;
  c.send(`${tag} APPEND ${mailbox} ${flags ? `(${flags}) ` : ""}{${Buffer.byteLength(body)}+}\r\n${body}\r\n`);
  return c.until(tag);
}

const msg = (who: string, i: number): string =>
  `From: ${who}@example.test\r\nSubject: ${who} secret ${i}\r\nDate: Mon, 23 Nov 2026 10:00:0${i} +0000\r\n\r\n${who} body ${i} ${"x".repeat(i * 37)}\r\n`;

/** A fills a1 with three messages (and reads it, so the server's index holds it), then deletes it. */
async function aliceFillsAndDeletes(a: RawClient, name = "a1"): Promise<void> {
  assert.equal((await a.cmd(`CREATE ${name}`)).status, "OK");
  for (let i = 1; i <= 3; i++) assert.equal((await append(a, name, msg("alice", i), "\\Seen $Secret")).status, "OK");
  const sel = await a.cmd(`SELECT ${name}`);
  assert.ok(sel.untagged.includes("* 3 EXISTS"), sel.untagged.join("\n"));
  assert.equal((await a.cmd("STATUS INBOX (MESSAGES)")).status, "OK");
  assert.equal((await a.cmd("CLOSE")).status, "OK");
  assert.equal((await a.cmd(`DELETE ${name}`)).status, "OK");
}

/** B's new mailbox is empty on every path that reads it: SELECT, FETCH, SEARCH, STATUS, LIST-STATUS. */
async function assertEmpty(b: RawClient, name: string): Promise<void> {
  const st = await b.cmd(`STATUS ${name} (MESSAGES UIDNEXT UNSEEN SIZE)`);
  assert.equal(st.status, "OK", st.text);
  assert.ok(st.untagged.some((l) => /MESSAGES 0 UIDNEXT 1 UNSEEN 0 SIZE 0/.test(l)), st.untagged.join("\n"));
  const sel = await b.cmd(`SELECT ${name}`);
  assert.equal(sel.status, "OK", sel.text);
  assert.ok(sel.untagged.includes("* 0 EXISTS"), sel.untagged.join("\n"));
  assert.ok(!sel.untagged.some((l) => /\$Secret/.test(l)), `another user's keyword in FLAGS: ${sel.untagged.join("\n")}`);
  const f = await b.cmd("FETCH 1:* (UID RFC822.SIZE INTERNALDATE FLAGS)");
  assert.deepEqual(f.untagged.filter((l) => / FETCH /.test(l)), [], "FETCH shows messages B never put there");
  const uf = await b.cmd("UID FETCH 1:* (UID)");
  assert.deepEqual(uf.untagged.filter((l) => / FETCH /.test(l)), []);
  const se = await b.cmd("SEARCH ALL");
  assert.ok(se.untagged.includes("* SEARCH"), se.untagged.join("\n"));
  const body = await b.cmd("SEARCH BODY secret");
  assert.ok(body.untagged.includes("* SEARCH"), body.untagged.join("\n"));
  assert.equal((await b.cmd("CLOSE")).status, "OK");
}

test("a mailbox deleted by one user does not leak into the next one another user creates", async () => {
  const h = await startHarness();
  try {
    await h.accounts.addUser(SYSTEM, { address: BOB, password: BOB_PASSWORD });
    const a = await login(h, USER, PASSWORD);
    await aliceFillsAndDeletes(a);
    const b = await login(h, BOB, BOB_PASSWORD);
    assert.equal((await b.cmd("CREATE b1")).status, "OK");
    await assertEmpty(b, "b1");
    // And B's own mail in it shows as B's alone.
    assert.equal((await append(b, "b1", msg("bob", 1))).status, "OK");
    const sel = await b.cmd("SELECT b1");
    assert.ok(sel.untagged.includes("* 1 EXISTS"), sel.untagged.join("\n"));
    const f = await b.cmd("FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
    assert.equal(f.untagged.length, 1, f.untagged.join("\n"));
    // An IMAP4rev1 session that selected the mailbox first sees bob's new message as \Recent
    // (RFC 3501 §2.3.2); no other flag of anyone's may be there.
    assert.match(f.untagged[0], /^\* 1 FETCH \(UID 1 FLAGS \((\\Recent)?\) .*bob secret 1/);
    a.close();
    b.close();
  } finally {
    await h.close();
  }
});

test("the same user's DELETE then CREATE of the same name starts empty, with a new UIDVALIDITY", async () => {
  const h = await startHarness();
  try {
    const a = await login(h, USER, PASSWORD);
    assert.equal((await a.cmd("CREATE a1")).status, "OK");
    const v1 = /UIDVALIDITY (\d+)/.exec((await a.cmd("STATUS a1 (UIDVALIDITY)")).untagged.join("\n"))![1];
    await a.cmd("DELETE a1");
    await aliceFillsAndDeletes(a, "a2");
    assert.equal((await a.cmd("CREATE a1")).status, "OK");
    const v2 = /UIDVALIDITY (\d+)/.exec((await a.cmd("STATUS a1 (UIDVALIDITY)")).untagged.join("\n"))![1];
    assert.notEqual(v1, v2);
    await assertEmpty(a, "a1");
    a.close();
  } finally {
    await h.close();
  }
});

test("a session that still has a deleted mailbox selected never sees the next user's mailbox", async () => {
  const h = await startHarness();
  try {
    await h.accounts.addUser(SYSTEM, { address: BOB, password: BOB_PASSWORD });
    const a = await login(h, USER, PASSWORD);
    const a2 = await login(h, USER, PASSWORD);
    assert.equal((await a.cmd("CREATE a1")).status, "OK");
    assert.equal((await append(a, "a1", msg("alice", 1))).status, "OK");
    // a2 keeps a1 selected while a deletes it.
    assert.ok((await a2.cmd("SELECT a1")).untagged.includes("* 1 EXISTS"));
    assert.equal((await a.cmd("DELETE a1")).status, "OK");
    const b = await login(h, BOB, BOB_PASSWORD);
    assert.equal((await b.cmd("CREATE b1")).status, "OK");
    for (let i = 1; i <= 3; i++) assert.equal((await append(b, "b1", msg("bob", i), "$BobOnly")).status, "OK");
    const n = await a2.cmd("NOOP");
    assert.ok(!n.untagged.some((l) => /EXISTS/.test(l) && !/^\* 0 EXISTS/.test(l)), `B's mail announced to A: ${n.untagged.join("\n")}`);
    const f = await a2.cmd("UID FETCH 1:* (UID FLAGS RFC822.SIZE)");
    assert.ok(!f.untagged.some((l) => /\$BobOnly|UID [23]\b/.test(l)), `A's session sees B's messages: ${f.untagged.join("\n")}`);
    const body = await a2.cmd("UID FETCH 1:* (BODY.PEEK[])");
    assert.ok(!body.untagged.some((l) => /bob body/.test(l)), body.untagged.join("\n"));
    for (const c of [a, a2, b]) c.close();
  } finally {
    await h.close();
  }
});

test("a removed user's mailboxes and login do not carry over to the next user", async () => {
  const h = await startHarness();
  try {
    const carol = "carol@example.test";
    await h.accounts.addUser(SYSTEM, { address: carol, password: PASSWORD });
    const c = await login(h, carol, PASSWORD);
    assert.equal((await c.cmd("CREATE c1")).status, "OK");
    for (let i = 1; i <= 3; i++) assert.equal((await append(c, "c1", msg("carol", i), "\\Seen $Secret")).status, "OK");
    assert.ok((await c.cmd("SELECT c1")).untagged.includes("* 3 EXISTS"));
    assert.equal((await c.cmd("SUBSCRIBE c1/ghost")).status, "OK"); // an orphan subscription
    assert.equal((await c.cmd("STATUS INBOX (MESSAGES)")).status, "OK");
    c.close();
    await h.accounts.removeUser(SYSTEM, carol);
    // The next user (same password, other name), and a user re-created under the old name; each
    // made just before use, so with reused ids their mailboxes would take the removed ones' ids.
    for (const [who, pw] of [[BOB, PASSWORD], [carol, BOB_PASSWORD]] as const) {
      await h.accounts.addUser(SYSTEM, { address: who, password: pw });
      const b = await login(h, who, pw);
      assert.equal((await b.cmd("CREATE b1")).status, "OK");
      await assertEmpty(b, "b1");
      const st = await b.cmd("STATUS INBOX (MESSAGES UNSEEN)");
      assert.ok(st.untagged.some((l) => /MESSAGES 0 UNSEEN 0/.test(l)), st.untagged.join("\n"));
      const lsub = await b.cmd('LSUB "" "*"');
      assert.ok(!lsub.untagged.some((l) => /ghost|c1/.test(l)), `a removed user's subscriptions: ${lsub.untagged.join("\n")}`);
      const list = await b.cmd('LIST "" "*"');
      assert.ok(!list.untagged.some((l) => /c1/.test(l)), list.untagged.join("\n"));
      b.close();
    }
    // The removed user's old password no longer logs in (the login cache does not outlive the user).
    const again = await RawClient.connect(h.port);
    const r = await again.cmd(`LOGIN "${carol}" "${PASSWORD}"`);
    assert.equal(r.status, "NO", r.text);
    again.close();
  } finally {
    await h.close();
  }
});

test("RENAME away and CREATE of the old name: the new mailbox is empty, the renamed one keeps its mail", async () => {
  const h = await startHarness();
  try {
    await h.accounts.addUser(SYSTEM, { address: BOB, password: BOB_PASSWORD });
    const a = await login(h, USER, PASSWORD);
    assert.equal((await a.cmd("CREATE a1")).status, "OK");
    for (let i = 1; i <= 3; i++) assert.equal((await append(a, "a1", msg("alice", i), "$Secret")).status, "OK");
    assert.ok((await a.cmd("SELECT a1")).untagged.includes("* 3 EXISTS"));
    await a.cmd("CLOSE");
    assert.equal((await a.cmd("RENAME a1 a2")).status, "OK");
    assert.equal((await a.cmd("CREATE a1")).status, "OK");
    await assertEmpty(a, "a1");
    const sel = await a.cmd("SELECT a2");
    assert.ok(sel.untagged.includes("* 3 EXISTS"), sel.untagged.join("\n"));
    await a.cmd("CLOSE");
    // Rename then delete the renamed mailbox: another user's new mailbox is still empty.
    assert.equal((await a.cmd("RENAME a2 a3")).status, "OK");
    assert.equal((await a.cmd("DELETE a3")).status, "OK");
    const b = await login(h, BOB, BOB_PASSWORD);
    assert.equal((await b.cmd("CREATE b1")).status, "OK");
    await assertEmpty(b, "b1");
    a.close();
    b.close();
  } finally {
    await h.close();
  }
});

test("a delivery to a mailbox id resolved before DELETE fails; it never lands in the next user's new mailbox", async () => {
  const h = await startHarness();
  try {
    await h.accounts.addUser(SYSTEM, { address: BOB, password: BOB_PASSWORD });
    const a = await login(h, USER, PASSWORD);
    assert.equal((await a.cmd("CREATE a1")).status, "OK");
    const stale = (await h.store.mail.getMailbox(h.user.id, "a1"))!.id; // as RCPT resolved it
    assert.equal((await a.cmd("DELETE a1")).status, "OK");
    const b = await login(h, BOB, BOB_PASSWORD);
    assert.equal((await b.cmd("CREATE b1")).status, "OK");
    const w = h.blobs.create();
    await w.write(Buffer.from(msg("alice", 1)));
    await assert.rejects(h.writer.deliver({ blob: await w.finish(), targets: [{ mailboxId: stale, traceHeaders: "" }], queue: [] }), /no mailbox/);
    await assertEmpty(b, "b1");
    a.close();
    b.close();
  } finally {
    await h.close();
  }
});
