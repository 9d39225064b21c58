// Fuzzed SMTP command lines through a live mx session (issue 13 §4): after each batch of fuzzed
// lines the same session still answers NOOP with 250 (or the server closed it with a 4xx/5xx
// reply), and a fresh connection is greeted with 220 — the server never crashes.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import fc from "fast-check";
import { createDataDir, startFreeholdProcess } from "../../test/support/freehold.ts";

const TOKENS = ["MAIL FROM:", "RCPT TO:", "EHLO x", "HELO ", "DATA", "BDAT 3", "AUTH PLAIN ", "STARTTLS", "RSET", "VRFY ",
  "<", ">", "@", "%", "!", '"', "\\", " ", "\x00", "\r", "[IPv6:::1]", "SIZE=99999999999", "BODY=8BITMIME", "SMTPUTF8",
  "ORCPT=rfc822;", "NOTIFY=NEVER", "x", "é", "postmaster@freehold.test", "a".repeat(3000)];

function talk(port: number, lines: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1");
    let buf = "";
    s.setTimeout(20_000, () => { s.destroy(); reject(new Error(`timeout; got ${JSON.stringify(buf.slice(-300))}`)); });
    s.on("data", (d) => { buf += d.toString("latin1"); if (/\r\n250[ -][^\r\n]*\r\n221[^\r\n]*\r\n$/.test(buf) || /\r\n221[^\r\n]*\r\n$/.test(buf)) s.end(); });
    s.on("error", () => resolve(buf));
    s.on("close", () => resolve(buf));
    s.once("data", () => s.write(lines.map((l) => l + "\r\n").join("") + "RSET\r\nNOOP\r\nQUIT\r\n"));
  });
}

test("live mx session survives fuzzed command lines", { timeout: 120_000 }, async () => {
  const data = await createDataDir({});
  const proc = await startFreeholdProcess(data);
  try {
    const samples = fc.sample(fc.array(fc.array(fc.constantFrom(...TOKENS), { maxLength: 12 }).map((t) => t.join("")), { minLength: 1, maxLength: 6 }), { numRuns: 25, seed: 1307 });
    let runs = 0;
    for (const lines of samples) {
      const out = await talk(data.mxPort, lines);
      runs++;
      assert.match(out, /^220 /, `no greeting (seed 1307, input ${JSON.stringify(lines)})`);
      // The session either still serves (NOOP 250 then QUIT 221) or was closed with a reply (421 after too many errors).
      assert.ok(/\r\n250[ -][^\r\n]*\r\n221[^\r\n]*\r\n$/.test(out) || /\r\n221[^\r\n]*\r\n$/.test(out) || /(^|\r\n)(4|5)\d\d [^\r\n]*\r\n$/.test(out),
        `session ended badly (seed 1307, input ${JSON.stringify(lines)}): ${JSON.stringify(out.slice(-400))}`);
    }
    assert.equal(runs, 25);
    const after = await talk(data.mxPort, ["EHLO after.example"]);
    assert.match(after, /^220 [\s\S]*\r\n250 /, "server no longer serves after the fuzzing");
    assert.equal(proc.child.exitCode, null, "server process exited");
  } finally {
    await proc.stop();
    await data.remove();
  }
});
