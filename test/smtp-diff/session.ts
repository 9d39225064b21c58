// The differential SMTP sessions (test/smtp-diff/sessions/*.yaml): raw bytes to send, step by
// step, to Postfix and to Freehold's mx. A data file, so adding a case needs no code:
//
//   description: what a sender does and why it matters
//   messages: 1            # messages Freehold must store (a smuggled one would make 2); Postfix
//                          # the same, unless differences.yaml lists another count for it
//   steps:
//     - send: "EHLO client.test\r\n"   # one chunk, written in one write() (pipelined commands
//       replies: 1                      # go in one chunk); then wait for this many replies
//     - send:                           # a list of parts, concatenated
//         - "MAIL FROM:<a@sender.test>\r\n"
//         - { repeat: 150, text: "RCPT TO:<m{i}@freehold.test>\r\n" }   # {i} = 1..150
//       replies: 151
//     - send:
//         - { bdat: "Subject: x\r\n\r\nhi\r\n", last: true }   # "BDAT 19 LAST\r\n" + the octets
//       replies: 1
//
// Strings are YAML double-quoted strings, so "\r", "\n", "\0", "\t" and "\xNN" give exactly
// those octets; every character must be at most U+00FF (written as one octet): non-ASCII UTF-8
// is spelled out in \xNN escapes. The greeting is read before the first step. A step whose
// replies do not all come (the server closed, or 20 s passed) records what it got.
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import YAML from "yaml";

export interface SessionStep {
  bytes: Buffer;
  replies: number;
}

export interface Session {
  name: string;
  description: string;
  messages: number;
  steps: SessionStep[];
}

type Part = string | { repeat: number; text: string } | { bdat: string; last?: boolean };

function octets(s: string, where: string): Buffer {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0xff) throw new Error(`${where}: character U+${s.charCodeAt(i).toString(16)} above U+00FF; write its octets as \\xNN`);
  }
  return Buffer.from(s, "latin1");
}

function partBytes(p: Part, where: string): Buffer {
  if (typeof p === "string") return octets(p, where);
  if (typeof p === "object" && p !== null && "bdat" in p && typeof p.bdat === "string") {
    // RFC 3030 §2: "BDAT" SP chunk-size [SP "LAST"] CRLF, then exactly chunk-size octets.
    const body = octets(p.bdat, where);
    return Buffer.concat([Buffer.from(`BDAT ${body.length}${p.last ? " LAST" : ""}\r\n`, "latin1"), body]);
  }
  if (typeof p === "object" && p !== null && "repeat" in p && Number.isInteger(p.repeat) && p.repeat >= 0 && typeof p.text === "string") {
    const out: Buffer[] = [];
    for (let i = 1; i <= p.repeat; i++) out.push(octets(p.text.replaceAll("{i}", String(i)), where));
    return Buffer.concat(out);
  }
  throw new Error(`${where}: a part is a string, { repeat: N, text: "..." } or { bdat: "...", last: true }`);
}

export function parseSession(name: string, text: string): Session {
  const doc = YAML.parse(text) as { description?: unknown; messages?: unknown; steps?: unknown };
  if (typeof doc?.description !== "string") throw new Error(`${name}: description missing`);
  if (!Number.isInteger(doc.messages)) throw new Error(`${name}: messages (an integer) missing`);
  if (!Array.isArray(doc.steps) || doc.steps.length === 0) throw new Error(`${name}: steps missing`);
  const steps = doc.steps.map((s: { send?: unknown; replies?: unknown }, i: number) => {
    const where = `${name} step ${i + 1}`;
    if (!Number.isInteger(s?.replies)) throw new Error(`${where}: replies (an integer) missing`);
    const parts = Array.isArray(s.send) ? (s.send as Part[]) : [s.send as Part];
    return { bytes: Buffer.concat(parts.map((p) => partBytes(p, where))), replies: s.replies as number };
  });
  return { name, description: doc.description, messages: doc.messages as number, steps };
}

export const SESSIONS_DIR = path.join(import.meta.dirname, "sessions");

export async function loadSessions(dir = SESSIONS_DIR): Promise<Session[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith(".yaml")).sort();
  return Promise.all(names.map(async (n) => parseSession(n.replace(/\.yaml$/, ""), await readFile(path.join(dir, n), "utf8"))));
}
