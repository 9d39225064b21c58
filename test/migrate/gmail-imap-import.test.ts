// `freehold import USER --from imap://…` against a server that offers X-GM-EXT-1 (the scripted
// Gmail peer, test/support/gmail-imap.py, which like Gmail serves every message again in each
// label folder): only All Mail, Trash and Spam are walked, each message is placed by its
// X-GM-LABELS in folders mode (a copy per label) and in keywords mode (one copy, labels as
// keywords), with flags, INTERNALDATE and bytes (SHA-256) kept; a second run copies nothing,
// a message added at the source then is fetched by a third run, and after a UIDVALIDITY change
// X-GM-MSGID keeps every message stored once.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { createDataDir, ROOT } from "../support/freehold.ts";
import type { DataDir } from "../support/freehold.ts";
import { startGmailImap } from "../support/gmail-imap.ts";
import type { GmailMessage, GmailPeer } from "../support/gmail-imap.ts";
import { openStorage } from "../../src/store/open.ts";
import { sortRows, storedRows, type Row } from "../support/import-rows.ts";

const run = promisify(execFile);
const MAIN = path.join(ROOT, "src/cli/main.ts");
const HOST = "127.0.31.1";

function body(i: number, size = 0): Buffer {
  const head = `Message-ID: <gm${i}@gmail.test>\r\nFrom: A <a@gmail.test>\r\nTo: owner@gmail.test\r\nSubject: label test ${i}\r\nDate: Mon, 7 Dec 2026 09:00:00 +0000\r\n\r\n`;
  return Buffer.from(head + `body ${i}\r\n` + "x".repeat(size) + "\r\n");
}

// [labels, flags, box, folders mode: folders, keywords mode: [folder], extra keyword flags].
type Case = { labels: string[]; flags: string[]; box?: "trash" | "spam"; size?: number; folders: string[]; kwFolder: string; kwFlags: string[]; extra?: string[] };
const CASES: Case[] = [
  { labels: ["\\Inbox"], flags: ["\\Seen"], folders: ["INBOX"], kwFolder: "INBOX", kwFlags: [] },
  { labels: ["\\Inbox", "Work"], flags: ["\\Seen"], folders: ["INBOX", "Work"], kwFolder: "INBOX", kwFlags: ["Work"] },
  { labels: ["\\Inbox", "Work", "Work/Q1"], flags: [], folders: ["INBOX", "Work", "Work/Q1"], kwFolder: "INBOX", kwFlags: ["Work", "Work/Q1"] },
  { labels: ["\\Sent"], flags: ["\\Seen"], folders: ["Sent"], kwFolder: "Sent", kwFlags: [] },
  { labels: ["\\Sent", "\\Inbox"], flags: ["\\Seen", "\\Answered"], folders: ["Sent", "INBOX"], kwFolder: "Sent", kwFlags: [] },
  { labels: ["\\Inbox", "\\Starred"], flags: ["\\Seen", "\\Flagged"], folders: ["INBOX"], kwFolder: "INBOX", kwFlags: [] },
  { labels: ["\\Important", "Receipts"], flags: ["\\Seen"], folders: ["Receipts"], kwFolder: "Archive", kwFlags: ["Receipts"], extra: ["$Important"] },
  { labels: [], flags: ["\\Seen"], folders: ["Archive"], kwFolder: "Archive", kwFlags: [] },
  { labels: ["\\Draft"], flags: ["\\Draft"], folders: ["Drafts"], kwFolder: "Drafts", kwFlags: [] },
  { labels: ["Receipts"], flags: [], folders: ["Receipts"], kwFolder: "Archive", kwFlags: ["Receipts"] },
  // Larger than the import's in-memory batch limit (256 KiB): streamed, once per copy.
  { labels: ["\\Inbox", "Work"], flags: ["\\Seen"], size: 300 * 1024, folders: ["INBOX", "Work"], kwFolder: "INBOX", kwFlags: ["Work"] },
  { labels: ["Travel Plans"], flags: ["\\Seen", "$Forwarded"], folders: ["Travel Plans"], kwFolder: "Archive", kwFlags: ["Travel_Plans"] },
  { labels: ["\\Inbox", "\\Important", "\\Starred", "Work/Q1"], flags: ["\\Flagged"], folders: ["INBOX", "Work/Q1"], kwFolder: "INBOX", kwFlags: ["Work/Q1"], extra: ["$Important"] },
  { labels: ["\\Sent", "Travel Plans"], flags: ["\\Seen"], folders: ["Sent", "Travel Plans"], kwFolder: "Sent", kwFlags: ["Travel_Plans"] },
  { labels: ["\\Inbox"], flags: [], folders: ["INBOX"], kwFolder: "INBOX", kwFlags: [] },
  { labels: ["Sent"], flags: ["\\Seen"], folders: ["Sent (label)"], kwFolder: "Archive", kwFlags: ["Sent"] },
  { labels: ["\\Inbox", "Receipts", "Work"], flags: ["\\Seen"], folders: ["INBOX", "Receipts", "Work"], kwFolder: "INBOX", kwFlags: ["Receipts", "Work"] },
  { labels: [], flags: ["\\Seen"], box: "trash", folders: ["Trash"], kwFolder: "Trash", kwFlags: [] },
  { labels: [], flags: [], box: "trash", folders: ["Trash"], kwFolder: "Trash", kwFlags: [] },
  { labels: [], flags: [], box: "spam", folders: ["Junk"], kwFolder: "Junk", kwFlags: [] },
];

function gm(i: number, c: Case): GmailMessage {
  return { msgid: String(1_700_000_000_000_000_000n + BigInt(i)), box: c.box ?? "all", labels: c.labels, flags: c.flags, date: Date.UTC(2021, 0, 1, 0, 0, i * 7) / 1000 + i * 86_400, bytes: body(i, c.size) };
}


/** What each mode must produce, written out from the table (not from the code under test). */
function expected(cases: Case[], mode: "folders" | "keywords"): Row[] {
  const out: Row[] = [];
  cases.forEach((c, i) => {
    const m = gm(i, c);
    const sha = createHash("sha256").update(m.bytes).digest("hex");
    const flags = [...new Set([...c.flags, ...(c.extra ?? []), ...(mode === "keywords" ? c.kwFlags : [])])].sort().join(" ");
    // The user's own label "Sent" is a folder named Sent only by name; see the mapping below.
    const fs = mode === "folders" ? c.folders.map((f) => (f === "Sent (label)" ? "Sent" : f)) : [c.kwFolder];
    for (const folder of fs) out.push({ folder, sha, flags, date: m.date });
  });
  return sortRows(out);
}

let tmp: string;
let peer: GmailPeer;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "freehold-gmailimap-"));
  await writeFile(path.join(tmp, "pw"), "app-password\n", { mode: 0o600 });
  peer = await startGmailImap(HOST, path.join(tmp, "spec.json"), CASES.map((c, i) => gm(i, c)));
});

after(async () => {
  await peer?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function ourRows(data: DataDir): Promise<Row[]> {
  return storedRows(data.dir, "new@example.test");
}

async function specialUses(data: DataDir): Promise<Record<string, string | null>> {
  const s = await openStorage(data.dir);
  try {
    const u = (await s.store.accounts.getUserByAddress("new@example.test"))!;
    return Object.fromEntries((await s.store.mail.listMailboxes(u.id)).map((mb) => [mb.name, mb.specialUse ?? null]));
  } finally {
    await s.close();
  }
}

async function importOnce(data: DataDir, mode: string): Promise<string> {
  const url = `imap://${HOST}:${peer.port}`;
  const r = await run(process.execPath, [MAIN, "--data", data.dir, "import", "new@example.test", "--from", url, "--login", "owner@gmail.test", "--password-file", path.join(tmp, "pw"), "--gmail-labels", mode, "--connections", "2"], { maxBuffer: 16 << 20 });
  return r.stdout;
}

for (const mode of ["folders", "keywords"] as const) {
  test(`Gmail over IMAP (X-GM-EXT-1), --gmail-labels ${mode}: All Mail placed by X-GM-LABELS; re-run copies nothing; a new message is fetched`, async () => {
    await peer.set(CASES.map((c, i) => gm(i, c)), 600);
    const data = await createDataDir({ domains: ["example.test"], users: [{ address: "new@example.test" }] });
    try {
      // A user label called "Sent" and the system \Sent would both be "Sent": in folders mode they
      // share our Sent folder (one copy each: different messages). Keep the table honest about it.
      const want = expected(CASES, mode);
      const out1 = await importOnce(data, mode);
      assert.match(out1, new RegExp(`Imported ${want.length} new messages .* from 3 folders \\(Gmail: All Mail, Trash and Spam`));
      assert.deepEqual(await ourRows(data), want, "folders, bytes, flags and dates as the labels say, nothing twice");
      const su = await specialUses(data);
      assert.equal(su.Sent, "\\Sent");
      assert.equal(su.Trash, "\\Trash");
      assert.equal(su.Junk, "\\Junk");
      assert.equal(su.Archive, "\\Archive");
      if (mode === "folders") assert.equal(su.Drafts, "\\Drafts");
      assert.equal(Object.keys(su).some((n) => /All Mail|Starred|Important|Gmail/.test(n)), false, `no Gmail view copied as a folder: ${Object.keys(su)}`);

      const out2 = await importOnce(data, mode);
      assert.match(out2, /Imported 0 new messages/);
      assert.deepEqual(await ourRows(data), want);

      // A new message at the source, under two labels: the third run fetches just it.
      const more: Case = { labels: ["\\Inbox", "Receipts"], flags: [], folders: ["INBOX", "Receipts"], kwFolder: "INBOX", kwFlags: ["Receipts"] };
      const all = [...CASES, more];
      await peer.set(all.map((c, i) => gm(i, c)));
      const out3 = await importOnce(data, mode);
      assert.match(out3, new RegExp(`Imported ${mode === "folders" ? "2 new messages" : "1 new message "}`));
      assert.deepEqual(await ourRows(data), expected(all, mode));

      // Gmail renumbers (a new UIDVALIDITY for every folder): the UID checkpoints no longer
      // hold, every message is fetched again, and X-GM-MSGID keeps each one stored once.
      await peer.set(all.map((c, i) => gm(i, c)), 900);
      const out4 = await importOnce(data, mode);
      assert.match(out4, /Imported 0 new messages/);
      assert.deepEqual(await ourRows(data), expected(all, mode));
    } finally {
      await data.remove();
    }
  });
}
