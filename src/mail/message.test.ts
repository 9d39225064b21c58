import { test } from "node:test";
import assert from "node:assert/strict";
import { analyzeMessage, nulToHigh, partialRange, renderBodyStructure, renderEnvelope, splitRange } from "./message.ts";
import { parseSectionSpec, sectionRange } from "./section.ts";

const msg = Buffer.from(
  "From: \"A B\" <a@x.test>\r\nTo: g: c@y.test, d@y.test;\r\nSubject: hi\r\n there\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n",
);

test("analyzeMessage gives a JSON-cacheable model that renders ENVELOPE and BODY/BODYSTRUCTURE", () => {
  const m = analyzeMessage(msg);
  const back = JSON.parse(JSON.stringify(m));
  assert.deepEqual(back, m);
  assert.equal(
    renderEnvelope(back.envelope).toString(),
    `(NIL "hi there" (("A B" NIL "a" "x.test")) (("A B" NIL "a" "x.test")) (("A B" NIL "a" "x.test")) ` +
      `((NIL NIL "g" NIL)(NIL NIL "c" "y.test")(NIL NIL "d" "y.test")(NIL NIL NIL NIL)) NIL NIL NIL "<1@x>")`.replace(/\)\(/g, ") ("),
  );
  assert.equal(renderBodyStructure(back.bodyStructure).toString(), `("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 1 NIL NIL NIL NIL)`);
  assert.equal(renderBodyStructure(back.bodyStructure, false).toString(), `("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 1)`);
});

test("trace prefix and blob: a section range splits into the two stores", () => {
  const trace = Buffer.from("Received: by mx; Mon, 1 Jan 2026 00:00:00 +0000\r\n");
  const stored = Buffer.concat([trace, msg]);
  const m = analyzeMessage(stored);
  const header = sectionRange(stored, m.index, parseSectionSpec("HEADER")!);
  assert.ok(header && !Buffer.isBuffer(header));
  const { prefix, blob } = splitRange(header, trace.length);
  assert.deepEqual(prefix, { start: 0, end: trace.length });
  assert.equal(blob!.start, 0);
  assert.equal(Buffer.concat([trace.subarray(prefix!.start, prefix!.end), msg.subarray(blob!.start, blob!.end)]).toString(), stored.subarray(header.start, header.end).toString());
  const text = sectionRange(stored, m.index, parseSectionSpec("TEXT")!) as { start: number; end: number };
  assert.deepEqual(splitRange(text, trace.length), { prefix: null, blob: { start: text.start - trace.length, end: text.end - trace.length } });
});

test("partial ranges and NUL mapping", () => {
  assert.deepEqual(partialRange({ start: 10, end: 20 }, 3, 4), { start: 13, end: 17 });
  assert.deepEqual(partialRange({ start: 10, end: 20 }, 30, 4), { start: 20, end: 20 });
  assert.deepEqual(partialRange({ start: 10, end: 20 }, 5), { start: 15, end: 20 });
  const b = Buffer.from([0x41, 0, 0x42, 0]);
  assert.deepEqual([...nulToHigh(b)], [0x41, 0x80, 0x42, 0x80]);
  assert.deepEqual([...b], [0x41, 0, 0x42, 0], "input untouched");
});
