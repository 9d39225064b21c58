// Writes a large mailbox straight into a Maildir (cur/), as Dovecot would have stored it, instead
// of APPENDing for minutes. Messages are deterministic (seeded), 1–6 KiB, with a few rare words
// so searches have known answers: SUBJECT_TOKEN in every 500th subject, BODY_TOKEN in every
// 1000th body. The same generator can feed Freehold's importer, so both sides hold the same mail.
import fs from "node:fs/promises";
import path from "node:path";
import { chownSync, writeFileSync } from "node:fs";

export const SUBJECT_TOKEN = "kumquat";
export const BODY_TOKEN = "zebracorn";

const WORDS = (
  "the of and to in is for on that with as by this from at be are was it an or have not report meeting " +
  "invoice project schedule budget review update draft quarter team customer order shipping delivery " +
  "server backup account password office holiday lunch contract payment reminder question answer"
).split(" ");

/** Small deterministic PRNG (mulberry32) so runs are comparable. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function subjectHas(i: number): boolean {
  return i % 500 === 3;
}
export function bodyHas(i: number): boolean {
  return i % 1000 === 7;
}

/** Message i (0-based) with LF line ends, as stored in a Maildir. */
export function makeMessage(i: number): string {
  const r = rng(i + 1);
  const pick = () => WORDS[Math.floor(r() * WORDS.length)];
  const date = new Date(Date.UTC(2025, 0, 1) + i * 60_000);
  const subject = `${pick()} ${pick()} ${pick()}${subjectHas(i) ? ` ${SUBJECT_TOKEN}` : ""} #${i}`;
  const lines: string[] = [
    `Return-Path: <sender${i % 97}@example.org>`,
    `From: Sender ${i % 97} <sender${i % 97}@example.org>`,
    `To: Bench <bench@bench.test>`,
    `Subject: ${subject}`,
    `Date: ${date.toUTCString().replace("GMT", "+0000")}`,
    `Message-ID: <msg${i}@example.org>`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=us-ascii",
    "",
  ];
  const bodyLines = 12 + Math.floor(r() * 70);
  for (let l = 0; l < bodyLines; l++) {
    const words: string[] = [];
    for (let w = 0; w < 10; w++) words.push(pick());
    if (l === 3 && bodyHas(i)) words.push(BODY_TOKEN);
    lines.push(words.join(" "));
  }
  return lines.join("\n") + "\n";
}

/** Writes `count` messages into `<maildir>/cur` (creating new/ and tmp/), owned by uid/gid.
 * Roughly a third are \Seen (":2,S"). Returns the bytes written. */
export async function fillMaildir(
  maildir: string,
  count: number,
  owner: { uid: number; gid: number },
  onProgress?: (done: number) => void,
): Promise<number> {
  for (const d of ["", "cur", "new", "tmp"]) {
    await fs.mkdir(path.join(maildir, d), { recursive: true });
    await fs.chown(path.join(maildir, d), owner.uid, owner.gid);
  }
  let bytes = 0;
  const base = Math.floor(Date.UTC(2025, 0, 1) / 1000);
  // Synchronous writes: for 100,000 small files the thread-pool round trips of fs/promises cost
  // more than the writes; yield now and then so progress logs and timers still run.
  for (let i = 0; i < count; i++) {
    const text = makeMessage(i);
    const size = Buffer.byteLength(text);
    const vsize = size + (text.match(/\n/g)?.length ?? 0); // CRLF size, Dovecot's W=
    // Dovecot's naming: <time>.M<usecs>P<pid>Q<n>.<host>,S=<size>,W=<vsize>:2,<flags>
    const name = `${base + i * 60}.M${i}P1Q${i}.bench,S=${size},W=${vsize}:2,${i % 3 === 0 ? "S" : ""}`;
    const file = path.join(maildir, "cur", name);
    writeFileSync(file, text);
    chownSync(file, owner.uid, owner.gid);
    bytes += size;
    if (i % 10_000 === 0) {
      onProgress?.(i);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  return bytes;
}
