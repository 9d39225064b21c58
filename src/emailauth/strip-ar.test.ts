import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { createArStripTransform, createArStripper, parseAuthservId, shouldRemoveField, stripAuthenticationResults } from "./strip-ar.ts";

const ID = "mx.freehold.test";

/** Runs the stripper over `input` split at every pair of byte positions (1 or 3 pieces). */
function everySplit(input: Buffer, id = ID, maxHeld?: number): Buffer[] {
  const outs: Buffer[] = [];
  for (let a = 0; a <= input.length; a++) {
    for (let b = a; b <= input.length; b += Math.max(1, Math.floor(input.length / 7))) {
      const s = createArStripper(id, maxHeld);
      outs.push(Buffer.concat([s.push(input.subarray(0, a)), s.push(input.subarray(a, b)), s.push(input.subarray(b)), s.end()]));
    }
  }
  return outs;
}

function assertAllSplits(input: string, expected: string, id = ID, maxHeld?: number) {
  for (const out of everySplit(Buffer.from(input, "latin1"), id, maxHeld)) assert.equal(out.toString("latin1"), expected);
}

const BODY = "Authentication-Results: mx.freehold.test; spf=pass\r\nbody line\r\n";

test("removes our Authentication-Results, keeps others', body untouched, at every split", () => {
  const input =
    "Received: from a by b;\r\n\tMon, 1 Jan 2026 00:00:00 +0000\r\n" +
    "Authentication-Results: mx.freehold.test; spf=pass smtp.mailfrom=x@y.test\r\n" +
    "Authentication-Results: other.example; dkim=pass\r\n" +
    "authentication-results : (forged)\r\n MX.Freehold.Test 1;\r\n  dkim=pass header.d=bank.test\r\n" +
    'Authentication-Results: "mx.freehold.test"; none\r\n' +
    "Authentication-Results: mx.freehold.test.evil.test; dmarc=pass\r\n" +
    "Subject: Authentication-Results: mx.freehold.test;\r\n" +
    "\r\n" +
    BODY;
  const expected =
    "Received: from a by b;\r\n\tMon, 1 Jan 2026 00:00:00 +0000\r\n" +
    "Authentication-Results: other.example; dkim=pass\r\n" +
    "Authentication-Results: mx.freehold.test.evil.test; dmarc=pass\r\n" +
    "Subject: Authentication-Results: mx.freehold.test;\r\n" +
    "\r\n" +
    BODY;
  assertAllSplits(input, expected);
  const s = createArStripper(ID);
  s.push(Buffer.from(input, "latin1"));
  s.end();
  assert.equal(s.removed, 3);
});

test("a last header field before the blank line and a field at end of input are decided", () => {
  assertAllSplits("A: 1\r\nAuthentication-Results: mx.freehold.test; x=y\r\n\r\n", "A: 1\r\n\r\n");
  assertAllSplits("A: 1\r\nAuthentication-Results: mx.freehold.test; x=y", "A: 1\r\n");
  assertAllSplits("A: 1\r\nAuthentication-Results: other; x=y", "A: 1\r\nAuthentication-Results: other; x=y");
});

test("bare LF line ends work the same way", () => {
  assertAllSplits("Authentication-Results: mx.freehold.test; a=b\nX: 1\n\nAuthentication-Results: mx.freehold.test\n", "X: 1\n\nAuthentication-Results: mx.freehold.test\n");
});

test("unparseable Authentication-Results are removed, malformed header lines pass", () => {
  assertAllSplits("Authentication-Results: (unterminated\r\nAuthentication-Results:\r\nnot a field\r\n\r\nb", "not a field\r\n\r\nb");
});

test("fields longer than the hold limit are decided on their start", () => {
  const long = "x".repeat(300);
  assertAllSplits(`Authentication-Results: mx.freehold.test; a=${long}\r\n ${long}\r\nB: 2\r\n\r\nbody`, "B: 2\r\n\r\nbody", ID, 64);
  assertAllSplits(`Authentication-Results: other; a=${long}\r\n ${long}\r\nB: 2\r\n\r\nbody`, `Authentication-Results: other; a=${long}\r\n ${long}\r\nB: 2\r\n\r\nbody`, ID, 64);
  assertAllSplits(`X-Long: ${long}\r\n ${long}\r\n\r\n`, `X-Long: ${long}\r\n ${long}\r\n\r\n`, ID, 64);
});

test("parseAuthservId follows the RFC 8601 grammar", () => {
  assert.equal(parseAuthservId(" example.com; spf=pass"), "example.com");
  assert.equal(parseAuthservId(" (c (nested) \\) ) example.com 1; none"), "example.com");
  assert.equal(parseAuthservId('\r\n "quoted \\" id"; none'), 'quoted " id');
  assert.equal(parseAuthservId(" example.com(comment); none"), "example.com");
  assert.equal(parseAuthservId("   "), null);
  assert.equal(parseAuthservId(" (open"), null);
  assert.equal(parseAuthservId(' "open'), null);
  assert.equal(parseAuthservId(" ; spf=pass"), null);
});

test("comparison is case-insensitive and ignores a trailing dot", () => {
  assert.ok(shouldRemoveField(Buffer.from("Authentication-Results: MX.FREEHOLD.TEST.; none\r\n"), ID));
  assert.ok(!shouldRemoveField(Buffer.from("Authentication-Results: freehold.test; none\r\n"), ID));
  assert.ok(!shouldRemoveField(Buffer.from("X-Authentication-Results: mx.freehold.test; none\r\n"), ID));
});

test("property: output equals the input minus our fields, for any split", () => {
  const field = fc.oneof(
    fc.constantFrom("Authentication-Results: mx.freehold.test; spf=pass\r\n", "Authentication-Results: (c) mx.freehold.test\r\n\t1; none\r\n"),
    fc.constantFrom("Authentication-Results: other.test; spf=fail\r\n", "Subject: hi\r\n there\r\n", "To: a@b\r\n"),
  );
  fc.assert(
    fc.property(fc.array(field, { maxLength: 6 }), fc.string({ maxLength: 20 }), fc.nat(), fc.nat(), (fields, body, a, b) => {
      const input = Buffer.from(`${fields.join("")}\r\n${body}`, "latin1");
      const expected = `${fields.filter((f) => !f.includes("mx.freehold.test")).join("")}\r\n${body}`;
      const x = a % (input.length + 1);
      const y = x + (b % (input.length - x + 1));
      const s = createArStripper(ID);
      const out = Buffer.concat([s.push(input.subarray(0, x)), s.push(input.subarray(x, y)), s.push(input.subarray(y)), s.end()]);
      assert.equal(out.toString("latin1"), expected);
    }),
    { numRuns: 300 },
  );
});

test("stripAuthenticationResults on a whole buffer", () => {
  assert.equal(stripAuthenticationResults(Buffer.from("Authentication-Results: mx.freehold.test; none\r\n\r\nx"), ID).toString(), "\r\nx");
});

test("createArStripTransform pipes a stream", async () => {
  const { Readable } = await import("node:stream");
  const parts = ["Authentication-Results: mx.free", "hold.test; none\r\nX: 1\r\n", "\r\nbody"];
  const chunks: Buffer[] = [];
  for await (const c of Readable.from(parts.map((p) => Buffer.from(p))).pipe(createArStripTransform(ID))) chunks.push(c as Buffer);
  assert.equal(Buffer.concat(chunks).toString(), "X: 1\r\n\r\nbody");
});
