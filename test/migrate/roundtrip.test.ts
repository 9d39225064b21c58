// Export an account to each format with the real CLI and import it back into an empty account:
// same folders, byte-identical messages (what IMAP BODY[] serves: trace headers + blob), same
// flags and internal dates; a second import adds nothing; Python's mailbox module and mutt read
// the mbox and Maildir exports; peak RSS of the export stays flat with a large message.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { createDataDir, ROOT } from "../support/freehold.ts";
import type { DataDir } from "../support/freehold.ts";
import { openStorage } from "../../src/store/open.ts";
import type { Storage } from "../../src/store/open.ts";

const run = promisify(execFile);
const MAIN = path.join(ROOT, "src/cli/main.ts");
const LARGE = 10 * 1024 * 1024;
/** The message of the flat-memory check: far larger than the RSS difference allowed. */
const HUGE = 128 * 1024 * 1024;

let data: DataDir;
let tmp: string;

interface Fixture {
  folder: string;
  specialUse?: string;
  trace: string;
  body: Buffer;
  flags: string[];
  date: number;
}

function msg(i: number, extra = ""): Buffer {
  return Buffer.from(
    `Message-ID: <m${i}@example.test>\r\nFrom: Ann <ann@example.test>\r\nTo: alice@example.test\r\nSubject: message ${i}\r\nDate: Mon, 7 Dec 2026 10:00:00 +0000\r\n\r\nHello ${i}\r\n${extra}`,
  );
}

function fixtures(): Fixture[] {
  const out: Fixture[] = [];
  const folders = ["INBOX", "Sent", "Work", "Work/Projects", "Work/Projects/2026", "Caf\u00e9 \u00e9t\u00e9"];
  const flagSets = [[], ["\\Seen"], ["\\Seen", "\\Flagged"], ["\\Answered", "\\Seen", "$Work"], ["\\Draft"], ["\\Deleted", "Junk", "$Label1"]];
  for (let i = 0; i < 200; i++) {
    const tricky =
      i % 7 === 0
        ? "From the start of a line\r\n>From quoted once\r\n>>From twice\r\nFrom \r\n\r\nFrom end\r\n"
        : i % 11 === 0
          ? "x".repeat(3000) + "\r\n"
          : "";
    out.push({
      folder: folders[i % folders.length],
      trace: i % 3 === 0 ? `Received: from mx.example.test by mx.freehold.test; Mon, 7 Dec 2026 10:00:0${i % 10} +0000\r\n` : "",
      body: msg(i, tricky),
      flags: flagSets[i % flagSets.length],
      date: Date.UTC(2020, 0, 1) + i * 86_400_123 + 456,
    });
  }
  // An exact duplicate in the same folder: imported twice, both times.
  out.push({ ...out[4], flags: ["\\Seen"] });
  // LF-only message, and one without a final line end (mbox adds one: documented).
  out.push({ folder: "INBOX", trace: "", body: Buffer.from("Subject: lf only\n\nFrom here\nbody\n"), flags: ["\\Seen"], date: Date.UTC(2021, 5, 5, 5, 5, 5) });
  // A large message (attachment-like base64 lines).
  const big = Buffer.alloc(LARGE);
  for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
  const b64 = big.toString("base64").replace(/.{76}/g, "$&\r\n");
  out.push({ folder: "Work", trace: "", body: Buffer.concat([msg(9999, ""), Buffer.from(`Content-Type: application/octet-stream\r\n\r\n${b64}\r\n`)]), flags: ["\\Flagged"], date: Date.UTC(2022, 2, 3) });
  return out;
}

async function storage(): Promise<Storage> {
  return openStorage(data.dir);
}

interface Seen {
  folder: string;
  sha: string;
  flags: string;
  date: number;
}

/** Every message of an account as folder, SHA-256 of the BODY[] bytes, sorted flags, date. */
async function snapshot(address: string): Promise<Seen[]> {
  const s = await storage();
  try {
    const u = (await s.store.accounts.getUserByAddress(address))!;
    const out: Seen[] = [];
    for (const mb of await s.store.mail.listMailboxes(u.id)) {
      for (const m of await s.store.mail.listMessages(mb.id)) {
        const h = createHash("sha256").update(Buffer.from(m.traceHeaders, "utf8")).update(await s.blobs.readAll(m.blobId));
        out.push({ folder: mb.name, sha: h.digest("hex"), flags: [...m.flags].sort().join(" "), date: m.internalDate });
      }
    }
    return out.sort((a, b) => (a.folder + a.sha + a.flags + a.date < b.folder + b.sha + b.flags + b.date ? -1 : 1));
  } finally {
    await s.close();
  }
}

/** Runs the CLI under Python's getrusage to get the child's peak RSS (KiB on Linux). */
async function cliRss(args: string[]): Promise<{ stdout: string; stderr: string; maxRssKiB: number }> {
  const py = "import resource,subprocess,sys\nr=subprocess.run(sys.argv[1:])\nsys.stderr.write('\\nMAXRSS %d\\n' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\nsys.exit(r.returncode)";
  const r = await run("python3", ["-c", py, process.execPath, MAIN, "--data", data.dir, ...args], { maxBuffer: 64 * 1024 * 1024 });
  const m = /MAXRSS (\d+)/.exec(r.stderr);
  return { stdout: r.stdout, stderr: r.stderr, maxRssKiB: Number(m?.[1]) };
}

let expected: Seen[];

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "freehold-migrate-"));
  data = await createDataDir({
    domains: ["example.test"],
    users: ["alice", "mbox", "maildir", "eml", "takeout", "kw", "huge"].map((l) => ({ address: `${l}@example.test` })),
  });
  const s = await storage();
  try {
    const u = (await s.store.accounts.getUserByAddress("alice@example.test"))!;
    const boxes = new Map((await s.store.mail.listMailboxes(u.id)).map((m) => [m.name, m.id]));
    for (const f of fixtures()) {
      if (!boxes.has(f.folder)) boxes.set(f.folder, (await s.store.mail.createMailbox(u.id, f.folder)).id);
      const w = s.blobs.create();
      for (let i = 0; i < f.body.length; i += 1 << 20) await w.write(f.body.subarray(i, i + (1 << 20)));
      await s.writer.deliver({ blob: await w.finish(), targets: [{ mailboxId: boxes.get(f.folder)!, traceHeaders: f.trace, flags: f.flags, internalDate: f.date }], queue: [] });
    }
    // One huge message alone in an account: exporting it must not need memory in proportion.
    const h = (await s.store.accounts.getUserByAddress("huge@example.test"))!;
    const hInbox = (await s.store.mail.getMailbox(h.id, "INBOX"))!;
    const w = s.blobs.create();
    await w.write(Buffer.from("Subject: huge\r\nContent-Type: text/plain\r\n\r\n"));
    const line = Buffer.from("From here on, a long body line that repeats itself to fill the message up.\r\n");
    const chunk = Buffer.concat(Array.from({ length: Math.floor((1 << 20) / line.length) }, () => line));
    for (let n = 0; n < HUGE; n += chunk.length) await w.write(chunk);
    await s.writer.deliver({ blob: await w.finish(), targets: [{ mailboxId: hInbox.id, traceHeaders: "", flags: ["\\Seen"], internalDate: Date.UTC(2023, 0, 1) }], queue: [] });
  } finally {
    await s.close();
  }
  expected = await snapshot("alice@example.test");
  assert.equal(expected.length, 203);
});

after(async () => {
  await data?.remove();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const secs = (xs: Seen[]) => xs.map((x) => ({ ...x, date: Math.floor(x.date / 1000) }));
/** The message without a final line end gains one in mbox (the only change the format forces). */
const noFinalEol = createHash("sha256").update("Subject: lf only\n\nFrom here\nbody\n").digest("hex");

const exportRss = new Map<string, number>();

for (const format of ["mbox", "maildir", "eml-zip"] as const) {
  test(`export ${format} and import it back: same bytes, flags and dates; a re-run adds nothing`, async () => {
    const out = path.join(tmp, format === "eml-zip" ? "export.zip" : `export-${format}`);
    const ex = await cliRss(["export", "alice@example.test", "--format", format, "--out", out]);
    assert.match(ex.stdout, /Exported 203 messages/);
    console.log(`export ${format}: peak RSS ${(ex.maxRssKiB / 1024).toFixed(1)} MiB (203 messages, the largest ${LARGE >> 20} MiB before base64)`);
    exportRss.set(format, ex.maxRssKiB);

    const target = format === "eml-zip" ? "eml" : format;
    let args: string[];
    if (format === "mbox") args = ["--from-mbox", out];
    else if (format === "maildir") args = ["--from-maildir", out];
    else {
      const dir = path.join(tmp, "unzipped");
      // Python's zipfile checks every CRC-32 while extracting.
      await run("python3", ["-c", "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; z.extractall(sys.argv[2])", out, dir]);
      args = ["--from-eml", dir];
    }
    const im = await cliRss(["import", `${target}@example.test`, ...args]);
    assert.match(im.stdout, /Imported 203 new messages/);
    console.log(`import ${format}: peak RSS ${(im.maxRssKiB / 1024).toFixed(1)} MiB`);
    const got = await snapshot(`${target}@example.test`);
    if (format === "mbox") {
      const fix = (xs: Seen[]) => secs(xs).map((x) => ({ ...x, sha: x.sha === noFinalEol ? "no-final-eol" : x.sha }));
      const gotFixed = fix(got).map((x) => (x.sha === createHash("sha256").update("Subject: lf only\n\nFrom here\nbody\n\n").digest("hex") ? { ...x, sha: "no-final-eol" } : x));
      assert.deepEqual(gotFixed.sort(cmp), fix(expected).sort(cmp));
    } else assert.deepEqual(got, expected);

    const again = await cliRss(["import", `${target}@example.test`, ...args]);
    assert.match(again.stdout, /Imported 0 new messages .*; 203 already there/);
    assert.equal((await snapshot(`${target}@example.test`)).length, 203);
  });
}

test("export memory is flat: one 128 MiB message costs far less than its size more than 203 small ones", async () => {
  for (const format of ["mbox", "maildir", "eml-zip"] as const) {
    const out = path.join(tmp, format === "eml-zip" ? "huge.zip" : `huge-${format}`);
    const ex = await cliRss(["export", "huge@example.test", "--format", format, "--out", out]);
    assert.match(ex.stdout, /Exported 1 message /);
    const small = exportRss.get(format)!;
    console.log(`export ${format}: peak RSS ${(ex.maxRssKiB / 1024).toFixed(1)} MiB for one ${HUGE >> 20} MiB message vs ${(small / 1024).toFixed(1)} MiB`);
    // Garbage read chunks are bounded by V8's external-memory GC trigger (~64 MiB; measured
    // +60..90 MiB whatever the size from 32 to 160 MiB), not by message size: buffering the
    // message whole would add at least its 128 MiB on top.
    assert.ok(ex.maxRssKiB < small + 100 * 1024, `${format}: ${ex.maxRssKiB} KiB vs ${small} KiB`);
    await rm(out, { recursive: true, force: true });
  }
});

test("export --since: only messages on or after the date (incremental export)", async () => {
  const since = Date.UTC(2020, 5, 1);
  const want = expected.filter((x) => x.date >= since).length;
  assert.ok(want > 0 && want < expected.length);
  const out = path.join(tmp, "since.zip");
  const r = await cliRss(["export", "alice@example.test", "--format", "eml-zip", "--out", out, "--since", "2020-06-01"]);
  assert.match(r.stdout, new RegExp(`Exported ${want} messages`));
  const bad = await run(process.execPath, [MAIN, "--data", data.dir, "export", "alice@example.test", "--format", "eml-zip", "--out", out + "2", "--since", "yesterday-ish"]).then(() => null, (e: { code: number; stderr: string }) => e);
  assert.equal(bad?.code, 2);
  assert.match(bad!.stderr, /--since: expected a date/);
});

function cmp(a: Seen, b: Seen): number {
  const ka = `${a.folder}\0${a.sha}\0${a.flags}\0${a.date}`;
  const kb = `${b.folder}\0${b.sha}\0${b.flags}\0${b.date}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

test("Python's mailbox module reads the mbox and Maildir exports with their flags", async () => {
  const py = `
import mailbox, json, sys, os
res = {}
root = sys.argv[1]
for dp, dn, fn in os.walk(root):
    for f in fn:
        if f.endswith('.mbox'):
            box = mailbox.mbox(os.path.join(dp, f), create=False)
            res['mbox:' + os.path.relpath(os.path.join(dp, f), root)] = sorted([m['Subject'] or '', m.get_flags()] for m in box)
md = mailbox.Maildir(sys.argv[2], factory=None, create=False)
res['maildir:INBOX'] = sorted([m['Subject'] or '', m.get_flags()] for m in md)
for name in md.list_folders():
    sub = md.get_folder(name)
    res['maildir:' + name] = sorted([m['Subject'] or '', m.get_flags()] for m in sub)
print(json.dumps(res))
`;
  const r = await run("python3", ["-c", py, path.join(tmp, "export-mbox"), path.join(tmp, "export-maildir")], { maxBuffer: 64 * 1024 * 1024 });
  const res = JSON.parse(r.stdout) as Record<string, Array<[string, string]>>;
  const count = (prefix: string) => Object.entries(res).filter(([k]) => k.startsWith(prefix)).reduce((n, [, v]) => n + v.length, 0);
  assert.equal(count("mbox:"), 203);
  assert.equal(count("maildir:"), 203);
  // message 2: \Seen \Flagged (INBOX is folder 0 of 6, so 2 is in Work/Projects/2026? no: 2 % 6 = 2 → "Work").
  const work = res["mbox:Work.mbox"];
  const m2 = work.find(([s]) => s === "message 2")!;
  assert.deepEqual([...m2[1]].sort(), ["F", "O", "R"]);
  const md2 = res["maildir:Work"].find(([s]) => s === "message 2")!;
  assert.equal(md2[1], "FS");
  assert.ok(res["maildir:Work.Projects.2026"], `nested Maildir++ folder: ${Object.keys(res).join(", ")}`);
  assert.ok(res["mbox:Work.sbd/Projects.sbd/2026.mbox"]);
  // Dovecot's keyword letters: message 3 has $Work → a letter listed in dovecot-keywords.
  const kw = await readFile(path.join(tmp, "export-maildir", ".Work.Projects", "dovecot-keywords"), "utf8");
  assert.match(kw, /^\d+ \$Work$/m);
});

test("mutt opens the mbox export read-only in batch mode", { skip: !(await run("sh", ["-c", "command -v mutt"]).then(() => true, () => false)) && "mutt not installed (scripts/install-peers.sh)" }, async () => {
  // -R read-only, -F /dev/null no user config; the pushed keys tag every message and quit, and
  // mutt reports the folder's message count on exit via the status format it prints.
  const out = path.join(tmp, "mutt-out.txt");
  const mbox = path.join(tmp, "export-mbox", "INBOX.mbox");
  // mutt wants a terminal even in batch mode: script(1) gives it a pty; HOME and folder point
  // into the test's directory so it asks nothing ("~/Mail does not exist. Create it?").
  const cmd = `script -qec "mutt -n -F /dev/null -R -e 'set folder=${tmp} spoolfile=${mbox}' -f '${mbox}' -e 'set status_format=\\"COUNT=%m FLAGGED=%F\\"' -e 'push <quit>'" /dev/null > '${out}'`;
  await run("sh", ["-c", cmd], { timeout: 60_000, env: { ...process.env, HOME: tmp, TERM: "xterm" } });
  const text = (await readFile(out, "latin1")).replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
  const expectInbox = expected.filter((x) => x.folder === "INBOX");
  const flagged = expectInbox.filter((x) => x.flags.split(" ").includes("\\Flagged")).length;
  assert.match(text, new RegExp(`COUNT=${expectInbox.length} FLAGGED=${flagged}`), text.slice(0, 500));
});

test("Google Takeout mbox: X-Gmail-Labels become folders (or keywords), Opened/Starred become flags", async () => {
  const mk = (i: number, labels: string) =>
    `From 1700000000000${i}@xxx Mon Dec 07 10:00:0${i} +0000 2026\nX-GM-THRID: 17${i}\nX-Gmail-Labels: ${labels}\nSubject: takeout ${i}\nMessage-ID: <t${i}@gmail.test>\n\nbody ${i}\n>From here\n\n`;
  const file = path.join(tmp, "takeout.mbox");
  await writeFile(file, mk(1, "Inbox,Opened,Work/Clients") + mk(2, "Archived,Starred,Unread") + mk(3, 'Sent,Opened,"Label, with comma"') + mk(4, "Spam,Category Promotions"));
  const r = await cliRss(["import", "takeout@example.test", "--from-mbox", file]);
  assert.match(r.stdout, /Imported 6 new messages/);
  const got = await snapshot("takeout@example.test");
  assert.deepEqual(
    got.map((g) => [g.folder, g.flags, new Date(g.date).toISOString()]).sort(),
    [
      ["Archive", "\\Flagged", "2026-12-07T10:00:02.000Z"],
      ["INBOX", "\\Seen", "2026-12-07T10:00:01.000Z"],
      ["Junk", "$Category_Promotions", "2026-12-07T10:00:04.000Z"],
      ["Label, with comma", "\\Seen", "2026-12-07T10:00:03.000Z"],
      ["Sent", "\\Seen", "2026-12-07T10:00:03.000Z"],
      ["Work/Clients", "\\Seen", "2026-12-07T10:00:01.000Z"],
    ],
  );
  const k = await cliRss(["import", "kw@example.test", "--from-mbox", file, "--gmail-labels", "keywords"]);
  assert.match(k.stdout, /Imported 4 new messages/);
  const kw = await snapshot("kw@example.test");
  assert.deepEqual(kw.map((g) => [g.folder, g.flags]).sort(), [
    ["Archive", "\\Flagged"],
    ["INBOX", "Work/Clients \\Seen"],
    ["Junk", "$Category_Promotions"],
    ["Sent", "Label,_with_comma \\Seen"],
  ]);
  // The Takeout bytes are kept as they were (From_ line removed, ">From" unquoted once).
  const again = await cliRss(["import", "takeout@example.test", "--from-mbox", file]);
  assert.match(again.stdout, /Imported 0 new messages/);
});
