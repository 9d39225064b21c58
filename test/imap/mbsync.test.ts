// mbsync (Debian isync) syncs an account both ways against our server: a first full sync, then
// flag changes and deletions on both sides and a new local message, then a third run that must
// report zero changes (its progress counters, printed on a terminal, are parsed). UIDVALIDITY
// never changes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import fs from "node:fs/promises";
import path from "node:path";
import { existsSync } from "node:fs";
import { PASSWORD, USER, sampleMessage, startHarness } from "./harness.ts";

const run = promisify(execFile);
const MESSAGES = 1000;

interface Counters {
  far: number[];
  near: number[];
}

/** mbsync prints "C: 1/1  B: 6/6  F: +0/0 *0/0 #0/0  N: +0/0 *0/0 #0/0" on a terminal. */
async function mbsync(rc: string): Promise<Counters> {
  const r = await run("script", ["-qec", `mbsync -c ${rc} -a`, "/dev/null"], { timeout: 120_000 });
  const lines = String(r.stdout).split(/[\r\n]+/).filter((l) => l.startsWith("C: "));
  const last = lines[lines.length - 1];
  assert.ok(last, `no progress counters in:\n${r.stdout}\n${r.stderr}`);
  const m = /F: (.*?)\s+N: (.*)$/.exec(last)!;
  const nums = (s: string): number[] => [...s.matchAll(/[+*#-](\d+)\/(\d+)/g)].map((x) => Number(x[2]));
  return { far: nums(m[1]), near: nums(m[2]) };
}

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const sub of ["cur", "new"]) {
    if (!existsSync(path.join(dir, sub))) continue;
    for (const f of await fs.readdir(path.join(dir, sub))) out.push(path.join(sub, f));
  }
  return out.sort();
}

const uidOf = (f: string): number => Number(/,U=(\d+)/.exec(f)?.[1] ?? 0);

test("mbsync: two-way sync, changes on both sides, third run reports zero changes", { timeout: 240_000 }, async () => {
  const h = await startHarness();
  const work = path.join(h.dir, "mbsync");
  try {
    for (let i = 1; i <= MESSAGES; i++) await h.deliver("INBOX", sampleMessage(i));
    for (let i = 1; i <= 20; i++) await h.deliver("Archive", sampleMessage(1000 + i));
    await fs.mkdir(path.join(work, "mail"), { recursive: true });
    const rc = path.join(work, "rc");
    await fs.writeFile(
      rc,
      `IMAPAccount t\nHost 127.0.0.1\nPort ${h.port}\nUser ${USER}\nPass "${PASSWORD}"\nSSLType None\nAuthMechs LOGIN\n\n` +
        `IMAPStore far\nAccount t\n\nMaildirStore near\nPath ${work}/mail/\nInbox ${work}/mail/INBOX\nSubFolders Verbatim\n\n` +
        `Channel c\nFar :far:\nNear :near:\nPatterns *\nCreate Both\nExpunge Both\nSyncState *\n`,
    );
    const before = new Map((await h.store.mail.listMailboxes(h.user.id)).map((m) => [m.name, m.uidValidity]));

    const r1 = await mbsync(rc);
    assert.equal(r1.near[0], MESSAGES + 20, `first run pulls every message: ${JSON.stringify(r1)}`);
    const inbox = path.join(work, "mail", "INBOX");
    let local = await files(inbox);
    assert.equal(local.length, MESSAGES);

    // Server side: flag 10 messages, expunge 10 others.
    const mb = (await h.store.mail.getMailbox(h.user.id, "INBOX"))!;
    await h.store.mail.setFlags(mb.id, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], ["\\Flagged"], "add");
    await h.store.mail.expunge(mb.id, [11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    // Local side: delete 5 messages, mark 5 seen, add one new message.
    for (const f of local.filter((x) => uidOf(x) >= 21 && uidOf(x) <= 25)) await fs.rm(path.join(inbox, f));
    for (const f of local.filter((x) => uidOf(x) >= 26 && uidOf(x) <= 30)) {
      const to = path.join(inbox, "cur", path.basename(f).replace(/:2,.*$/, "") + ":2,S");
      await fs.rename(path.join(inbox, f), to);
    }
    await fs.writeFile(path.join(inbox, "new", `${Date.now()}.local.host`), sampleMessage(9999).replace(/\r\n/g, "\n"));

    const r2 = await mbsync(rc);
    assert.equal(r2.far[0], 1, `the new local message is pushed: ${JSON.stringify(r2)}`);
    const msgs = await h.store.mail.listMessages(mb.id);
    const uids = new Set(msgs.map((m) => m.uid));
    for (let u = 21; u <= 25; u++) assert.ok(!uids.has(u), `local deletion of ${u} expunged on the server`);
    for (let u = 26; u <= 30; u++) assert.ok(msgs.find((m) => m.uid === u)!.flags.includes("\\Seen"), `\\Seen of ${u} pushed`);
    assert.equal(msgs.length, MESSAGES - 10 - 5 + 1);
    local = await files(inbox);
    assert.equal(local.length, MESSAGES - 10 - 5 + 1);
    assert.ok(!local.some((f) => uidOf(f) >= 11 && uidOf(f) <= 20), "server expunges removed locally");
    assert.ok(local.filter((f) => uidOf(f) >= 1 && uidOf(f) <= 10).every((f) => /:2,[A-Z]*F/.test(f)), "server flags pulled");

    const r3 = await mbsync(rc);
    assert.deepEqual(r3, { far: [0, 0, 0], near: [0, 0, 0] }, "third run: zero changes");
    const after = new Map((await h.store.mail.listMailboxes(h.user.id)).map((m) => [m.name, m.uidValidity]));
    assert.deepEqual(after, before, "UIDVALIDITY never changes");
  } finally {
    await h.close();
  }
});
