// Fuzzed command lines through a live `freehold serve` (issue 13 §4), like live-smtp.test.ts, on
// the IMAP listener (plaintext on loopback, logged in) and the submission listeners (587 before
// STARTTLS, without AUTH; 465 implicit TLS, authenticated). After each batch the session answers
// (IMAP: LOGOUT gives BYE and OK; SMTP: NOOP 250 then QUIT 221) or was closed cleanly (IMAP:
// after a BYE; SMTP: after a 4xx/5xx reply); afterwards fresh connections work and the server
// process is alive.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import path from "node:path";
import { readFile, writeFile } from "node:fs/promises";
import YAML from "yaml";
import fc from "fast-check";
import { createDataDir, freePort, startFreeholdProcess, TEST_PASSWORD } from "../../test/support/freehold.ts";

const HOST = "127.0.22.3";
const USER = "fuzz@freehold.test";
const SEED = 1307;
const BATCHES = 20;

const IMAP_TOKENS = ["SELECT INBOX", "EXAMINE INBOX", "FETCH 1:* (FLAGS BODY.PEEK[])", "UID SEARCH ALL", "STORE 1 +FLAGS (\\Seen)", "EXPUNGE", "LIST \"\" *",
  "STATUS INBOX (MESSAGES)", "CREATE x", "DELETE x", "IDLE", "DONE", "APPEND INBOX", "AUTHENTICATE PLAIN", "COMPRESS", "NOOP", "CLOSE", " ", "(", ")", "[", "]",
  "\"", "\\", "*", "%", "1:*", "0", "4294967296", "UID", "x", "é", "\x00", "\t", "a".repeat(3000), "CHARSET", "OR"];
const SMTP_TOKENS = ["MAIL FROM:", "RCPT TO:", "EHLO x", "HELO ", "DATA", "AUTH PLAIN ", "AUTH LOGIN", "STARTTLS", "RSET", "VRFY ", "BDAT 3",
  "<", ">", "@", "%", "!", '"', "\\", " ", "\x00", "\r", "[IPv6:::1]", "SIZE=99999999999", "BODY=8BITMIME", "SMTPUTF8", "AUTH=<>", "AGZ1enoAeA==", "*",
  "x", "é", `${USER}`, "bob@elsewhere.example", "a".repeat(3000)];

const batches = (tokens: string[]) =>
  fc.sample(fc.array(fc.array(fc.constantFrom(...tokens), { maxLength: 10 }).map((t) => t.join("").replace(/\n/g, "")), { minLength: 1, maxLength: 6 }), { numRuns: BATCHES, seed: SEED });

function connect(port: number, implicitTls: boolean): net.Socket {
  return implicitTls ? tls.connect({ host: HOST, port, rejectUnauthorized: false }) : net.connect(port, HOST);
}

/** Runs `script` once the greeting is in; resolves with everything read when `done` says so or the peer closed. */
function talk(port: number, implicitTls: boolean, onGreeting: (s: net.Socket, buf: () => string) => void, done: (buf: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, implicitTls);
    let buf = "";
    let greeted = false;
    s.setTimeout(30_000, () => {
      s.destroy();
      reject(new Error(`timeout; got ${JSON.stringify(buf.slice(-400))}`));
    });
    s.on("data", (d) => {
      buf += d.toString("latin1");
      if (!greeted && buf.includes("\r\n")) {
        greeted = true;
        onGreeting(s, () => buf);
      }
      if (done(buf)) s.end();
    });
    s.on("error", () => resolve(buf));
    s.on("close", () => resolve(buf));
  });
}

async function imapBatch(port: number, lines: string[]): Promise<string> {
  return talk(
    port,
    false,
    (s) => {
      s.write(`a LOGIN "${USER}" "${TEST_PASSWORD}"\r\n`);
      s.write(lines.map((l, i) => `f${i} ${l}\r\n`).join("") + "zz NOOP\r\nzz2 LOGOUT\r\n");
    },
    (b) => /\r\nzz2 OK[^\r\n]*\r\n$/.test(b),
  );
}

async function smtpBatch(port: number, implicitTls: boolean, auth: boolean, lines: string[]): Promise<string> {
  const pre = auth ? [`AUTH PLAIN ${Buffer.from(`\0${USER}\0${TEST_PASSWORD}`).toString("base64")}`] : [];
  return talk(
    port,
    implicitTls,
    (s) => s.write(["EHLO fuzz.example", ...pre, ...lines, "RSET", "NOOP", "QUIT"].map((l) => l + "\r\n").join("")),
    (b) => /\r\n221[^\r\n]*\r\n$/.test(b),
  );
}

test("live IMAP and submission sessions survive fuzzed command lines", { timeout: 300_000 }, async (t) => {
  const data = await createDataDir({ domains: ["freehold.test"], users: [{ address: USER }] });
  const ports = { submission: await freePort(), submissions: await freePort(), imap: await freePort() };
  const file = path.join(data.dir, "freehold.yaml");
  const doc = YAML.parse(await readFile(file, "utf8")) as Record<string, unknown>;
  Object.assign(doc, {
    listeners: [
      { role: "mx", address: HOST, port: data.mxPort },
      { role: "submission", address: HOST, port: ports.submission },
      { role: "submissions", address: HOST, port: ports.submissions },
      { role: "imap", address: HOST, port: ports.imap },
    ],
    smtp: { pregreet: { enabled: false } },
  });
  await writeFile(file, YAML.stringify(doc), { mode: 0o600 });
  const proc = await startFreeholdProcess(data, { timeoutMs: 60_000 });
  try {
    // IMAP, logged in on loopback (plaintext is allowed there).
    let n = 0;
    let served = 0;
    for (const lines of batches(IMAP_TOKENS)) {
      const out = await imapBatch(ports.imap, lines);
      n++;
      if (/\r\nzz OK[\s\S]*\r\nzz2 OK[^\r\n]*\r\n$/.test(out)) served++;
      assert.match(out, /^\* OK/, `IMAP greeting (seed ${SEED}, input ${JSON.stringify(lines)})`);
      assert.match(out, /\r\na OK/, `IMAP login (seed ${SEED})`);
      // Served to the end (LOGOUT: BYE then OK), or ended with a BYE (too many errors).
      assert.ok(/\r\n\* BYE[^\r\n]*\r\nzz2 OK[^\r\n]*\r\n$/.test(out) || /\r\n\* BYE[^\r\n]*\r\n(\S+ (OK|NO|BAD)[^\r\n]*\r\n)?$/.test(out),
        `IMAP session ended badly (seed ${SEED}, input ${JSON.stringify(lines)}): ${JSON.stringify(out.slice(-400))}`);
    }
    assert.equal(n, BATCHES);
    t.diagnostic(`IMAP: ${served} of ${n} fuzzed sessions answered NOOP and LOGOUT after the batch, the rest ended with BYE`);
    // Most batches are not fatal: the sessions must mostly be still serving, not all closed.
    assert.ok(served >= BATCHES / 2, `only ${served} of ${n} IMAP sessions still served after their batch`);
    // Submission on 587 before STARTTLS, without AUTH; and on 465, authenticated.
    for (const [label, port, implicitTls, auth] of [["587 no AUTH", ports.submission, false, false], ["465 AUTH", ports.submissions, true, true]] as const) {
      for (const lines of batches(SMTP_TOKENS)) {
        const out = await smtpBatch(port, implicitTls, auth, lines);
        assert.match(out, /^220 /, `${label}: greeting (seed ${SEED}, input ${JSON.stringify(lines)})`);
        if (auth) assert.match(out, /\r\n235 /, `${label}: AUTH`);
        assert.ok(/\r\n250[ -][^\r\n]*\r\n221[^\r\n]*\r\n$/.test(out) || /\r\n221[^\r\n]*\r\n$/.test(out) || /(^|\r\n)(4|5)\d\d [^\r\n]*\r\n$/.test(out),
          `${label}: session ended badly (seed ${SEED}, input ${JSON.stringify(lines)}): ${JSON.stringify(out.slice(-400))}`);
      }
    }
    // Fresh connections work, and the process is alive.
    const imap = await imapBatch(ports.imap, ["SELECT INBOX"]);
    assert.match(imap, /\r\nf0 OK[\s\S]*\r\nzz2 OK/, "IMAP no longer serves after the fuzzing");
    const sub = await smtpBatch(ports.submissions, true, true, ["MAIL FROM:<fuzz@freehold.test>"]);
    assert.match(sub, /\r\n235 [\s\S]*\r\n250 [\s\S]*\r\n221 /, "submission no longer serves after the fuzzing");
    assert.equal(proc.child.exitCode, null, "server process exited");
  } finally {
    await proc.stop();
    await data.remove();
  }
});
