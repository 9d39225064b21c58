// mboxrd quoting and reading: any message, cut into any chunks, comes back byte for byte
// (fast-check), and the pieces the export and Takeout import rely on.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { FromQuoter, leadingStatusBlock, readMbox } from "./mbox.ts";
import { asctime, flagsFromMboxStatus, maildirInfo, mboxStatus, parseFromLineDate, parseMaildirInfo } from "./flags.ts";
import { gmailImapPlacement, gmailPlacement, parseGmailLabels } from "./import.ts";

const line = fc.oneof(
  fc.constantFrom("From ", ">From ", ">>From x", "From", " From ", "", ">", ">>", "From me\r", "body"),
  fc.string({ maxLength: 12 }),
);
const message = fc
  .tuple(fc.array(line, { minLength: 1, maxLength: 12 }), fc.constantFrom("\r\n", "\n"))
  .map(([lines, eol]) => Buffer.from("Subject: t" + eol + eol + lines.map((l) => l.replace(/[\r\n]/g, "") + eol).join(""), "utf8"));

async function* chunked(buf: Buffer, cuts: number[]): AsyncGenerator<Buffer> {
  let at = 0;
  for (const c of cuts) {
    const end = Math.min(buf.length, at + c);
    yield buf.subarray(at, end);
    at = end;
  }
  if (at < buf.length) yield buf.subarray(at);
}

test("quote then read: every message back byte for byte, whatever the chunking", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(message, { minLength: 1, maxLength: 5 }), fc.array(fc.integer({ min: 1, max: 9 }), { maxLength: 60 }), async (msgs, cuts) => {
      const parts: Buffer[] = [];
      for (const m of msgs) {
        parts.push(Buffer.from(`From MAILER-DAEMON ${asctime(0)}\n`));
        const q = new FromQuoter();
        // The quoter sees the message in the same arbitrary chunks.
        for await (const c of chunked(m, cuts)) parts.push(...q.push(c));
        parts.push(...q.end(), Buffer.from("\n"));
      }
      const file = Buffer.concat(parts);
      const got: Buffer[] = [];
      for await (const r of readMbox(chunked(file, [...cuts].reverse()))) got.push(r.bytes);
      assert.deepEqual(got.map((b) => b.toString("latin1")), msgs.map((b) => b.toString("latin1")));
    }),
    { numRuns: 300 },
  );
});

test("the quoter adds one > to /^>*From / lines only", () => {
  const q = new FromQuoter();
  const out = Buffer.concat([...q.push(Buffer.from("From a\r\n>From b\r\nX From c\r\nFro")), ...q.push(Buffer.from("m d\r\n")), ...q.end()]).toString();
  assert.equal(out, ">From a\r\n>>From b\r\nX From c\r\n>From d\r\n");
});

test("flags: mbox Status/X-Status/X-Keywords and Maildir info round-trip", () => {
  const flags = ["\\Seen", "\\Answered", "\\Flagged", "\\Draft", "\\Deleted", "$Work", "Junk"];
  const s = mboxStatus(flags);
  assert.deepEqual(s, { status: "RO", xStatus: "AFTD", keywords: ["$Work", "Junk"] });
  assert.deepEqual(flagsFromMboxStatus(s.status, s.xStatus, s.keywords.join(" ")).sort(), [...flags].sort());
  const kws = ["$Work", "Junk"];
  const info = maildirInfo(flags, (k) => kws.indexOf(k));
  assert.equal(info, "2,DFRSTab");
  assert.deepEqual(parseMaildirInfo(`1.M1.h,S=3:${info}`, new Map(kws.map((k, i) => [i, k]))).sort(), [...flags].sort());
  const block = leadingStatusBlock(Buffer.from("Status: RO\r\nX-Status: F\r\nX-Keywords: a b\r\nSubject: x\r\n\r\n"));
  assert.deepEqual(block && { ...block }, { length: 42, status: "RO", xStatus: "F", keywords: "a b" });
  assert.equal(leadingStatusBlock(Buffer.from("Subject: x\r\nStatus: RO\r\n\r\n")), null);
});

test("From_ line dates: asctime and Takeout's zone form", () => {
  const t = Date.UTC(2026, 11, 7, 11, 1, 2);
  assert.equal(asctime(t), "Mon Dec  7 11:01:02 2026");
  assert.equal(parseFromLineDate(`From MAILER-DAEMON ${asctime(t)}`), t);
  assert.equal(parseFromLineDate("From 1234@xxx Mon Dec 07 12:01:02 +0100 2026"), t);
  assert.equal(parseFromLineDate("From nobody"), null);
});

test("Gmail labels: quoted labels, folders and keywords modes", () => {
  assert.deepEqual(parseGmailLabels('Inbox,"A, B",Opened, Work/Sub '), ["Inbox", "A, B", "Opened", "Work/Sub"]);
  assert.deepEqual(gmailPlacement(["Inbox", "Opened", "Work"], "folders"), { flags: ["\\Seen"], folders: [{ name: "INBOX", specialUse: null }, { name: "Work", specialUse: null }] });
  assert.deepEqual(gmailPlacement(["Inbox", "Opened", "Work"], "keywords"), { flags: ["\\Seen", "Work"], folders: [{ name: "INBOX", specialUse: null }] });
  assert.deepEqual(gmailPlacement(["Archived", "Starred"], "folders").folders, [{ name: "Archive", specialUse: "\\Archive" }]);
});

test("Gmail X-GM-LABELS (IMAP): backslash atoms are system labels, anything else is the user's", () => {
  const none = { name: "Archive", specialUse: "\\Archive" };
  assert.deepEqual(gmailImapPlacement(["\\Inbox", "\\Important", "Work/Q1"], "folders"), { flags: ["$Important"], folders: [{ name: "INBOX", specialUse: null }, { name: "Work/Q1", specialUse: null }] });
  assert.deepEqual(gmailImapPlacement(["\\Inbox", "\\Important", "Work/Q1"], "keywords"), { flags: ["$Important", "Work/Q1"], folders: [{ name: "INBOX", specialUse: null }] });
  assert.deepEqual(gmailImapPlacement(["\\Sent", "\\Starred"], "folders"), { flags: ["\\Flagged"], folders: [{ name: "Sent", specialUse: "\\Sent" }] });
  assert.deepEqual(gmailImapPlacement(["\\Draft"], "keywords"), { flags: ["\\Draft"], folders: [{ name: "Drafts", specialUse: "\\Drafts" }] });
  // No label at all: archived, which lands in Archive.
  assert.deepEqual(gmailImapPlacement([], "folders"), { flags: [], folders: [none] });
  assert.deepEqual(gmailImapPlacement(new Set(["\\Chat", "\\Opened"]), "folders"), { flags: [], folders: [none] });
  // A user label named like a system one stays a user label (Takeout cannot tell them apart).
  assert.deepEqual(gmailImapPlacement(["Sent", "Opened", "Starred"], "folders").folders.map((f) => f.name), ["Sent", "Opened", "Starred"]);
  assert.deepEqual(gmailImapPlacement(["Sent"], "folders").folders[0].specialUse, null);
  assert.deepEqual(gmailImapPlacement(["Sent", "Opened"], "keywords"), { flags: ["Sent", "Opened"], folders: [none] });
  // Sent and Inbox at once: a copy in each with folders, the first system folder with keywords.
  assert.deepEqual(gmailImapPlacement(["\\Sent", "\\Inbox", "Work"], "folders").folders.map((f) => f.name), ["Sent", "INBOX", "Work"]);
  assert.deepEqual(gmailImapPlacement(["\\Sent", "\\Inbox", "Work"], "keywords").folders.map((f) => f.name), ["Sent"]);
});
