import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ContentInspector } from "./content.ts";
import type { ContentStats } from "./content.ts";

function statsEverySplit(s: string): ContentStats {
  const b = Buffer.from(s, "latin1");
  const whole = new ContentInspector();
  whole.write(b);
  const ref = whole.stats();
  for (let i = 0; i <= b.length; i++) {
    const c = new ContentInspector();
    c.write(b.subarray(0, i));
    c.write(b.subarray(i));
    assert.deepEqual(c.stats(), ref, `split at ${i}`);
  }
  return ref;
}

test("counts Received fields in the header section only", () => {
  const msg = "Received: from a\r\n\tby b\r\nreceived : x\r\nX-Received: no\r\nSubject: y\r\n\r\nReceived: in body\r\n";
  const s = statsEverySplit(msg);
  assert.equal(s.receivedCount, 2);
  assert.equal(s.bareLf, 0);
  assert.equal(s.bareCr, 0);
  assert.equal(s.size, msg.length);
});

test("counts bare LF and bare CR, including a CR at the very end", () => {
  const s = statsEverySplit("a\nb\rc\r\nd\r");
  assert.equal(s.bareLf, 1);
  assert.equal(s.bareCr, 2);
});

test("measures the longest line with its CRLF", () => {
  const line = "x".repeat(998);
  assert.equal(statsEverySplit(`${line}\r\nshort\r\n`).longestLine, 1000);
  assert.equal(statsEverySplit(`${line}y\r\n`).longestLine, 1001);
  // A bare-LF line is counted as if it ended with CRLF.
  assert.equal(statsEverySplit(`${line}\n`).longestLine, 1000);
  assert.equal(statsEverySplit(`${line}y`).longestLine, 1001);
});

test("NUL and 8-bit octets", () => {
  const s = statsEverySplit("a\0b\xe9\r\n");
  assert.equal(s.nul, 1);
  assert.equal(s.eightBit, true);
  assert.equal(statsEverySplit("plain\r\n").eightBit, false);
});

test("51 Received fields are counted exactly", () => {
  const hdr = "Received: from x by y; Mon, 1 Jan 2026 00:00:00 +0000\r\n".repeat(51);
  assert.equal(statsEverySplit(`${hdr}\r\nbody\r\n`).receivedCount, 51);
});

// A naive reference written from the definitions, to check the optimised loop.
function reference(s: string) {
  const lines = s.split("\n");
  const last = lines.pop()!;
  let longest = 0;
  let received = 0;
  let inHeader = true;
  const headOf = (l: string) => l.replace(/\r/g, "").slice(0, 24);
  for (const l of lines) {
    longest = Math.max(longest, l.length + (l.endsWith("\r") ? 1 : 2));
    if (inHeader) {
      if (headOf(l) === "") inHeader = false;
      else if (/^received[ \t]*:/i.test(headOf(l))) received++;
    }
  }
  if (last !== "") {
    longest = Math.max(longest, last.length - (last.endsWith("\r") ? 1 : 0) + 2);
    if (inHeader && headOf(last) !== "" && /^received[ \t]*:/i.test(headOf(last))) received++;
  }
  return {
    size: s.length,
    receivedCount: received,
    bareLf: (s.match(/(?<!\r)\n/g) ?? []).length,
    bareCr: (s.match(/\r(?!\n)/g) ?? []).length,
    nul: (s.match(/\0/g) ?? []).length,
    longestLine: longest,
    eightBit: /[\x80-\xff]/.test(s),
  };
}

test("fuzz: the counts match a naive reference under any chunking", () => {
  const tok = fc.constantFrom("Received: x", "received :y", "X-Received: z", "\r\n", "\n", "\r", "a", "\0", "\xe9", " ", "\r\n\r\n", "x".repeat(30));
  fc.assert(
    fc.property(fc.array(tok, { maxLength: 40 }).map((a) => a.join("")), fc.array(fc.nat(400), { maxLength: 4 }), (s, cuts) => {
      const b = Buffer.from(s, "latin1");
      const pts = [...new Set(cuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y);
      const c = new ContentInspector();
      let prev = 0;
      for (const p of [...pts, b.length]) {
        c.write(b.subarray(prev, p));
        prev = p;
      }
      assert.deepEqual(c.stats(), reference(s));
    }),
    { numRuns: 500 },
  );
});
