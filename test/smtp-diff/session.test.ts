// The session data format (session.ts): escapes give exact octets, repeat and bdat parts expand
// as documented, bad files are refused with the reason; every file in sessions/ loads.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadSessions, parseSession } from "./session.ts";
import { signature } from "./run-session.ts";

test("escapes, repeat and bdat parts give exactly the documented octets", () => {
  const s = parseSession("t", [
    "description: 'x'",
    "messages: 1",
    "steps:",
    '  - send: "A\\r\\n\\0\\xff\\n"',
    "    replies: 1",
    "  - send:",
    '      - { repeat: 3, text: "R{i}," }',
    '      - { bdat: "12345\\r\\n", last: true }',
    '      - { bdat: "" }',
    "    replies: 2",
  ].join("\n"));
  assert.deepEqual(s.steps[0]!.bytes, Buffer.from([0x41, 0x0d, 0x0a, 0x00, 0xff, 0x0a]));
  assert.equal(s.steps[1]!.bytes.toString("latin1"), "R1,R2,R3,BDAT 7 LAST\r\n12345\r\nBDAT 0\r\n");
  assert.equal(s.steps[1]!.replies, 2);
});

test("characters above U+00FF, missing counts and unknown parts are refused", () => {
  const base = (send: string, extra = "    replies: 1") => `description: 'x'\nmessages: 0\nsteps:\n  - send: ${send}\n${extra}`;
  assert.throws(() => parseSession("t", base('"caf\u00e9 \u20ac"')), /U\+20ac above U\+00FF/);
  assert.throws(() => parseSession("t", base('"NOOP\\r\\n"', "")), /replies/);
  assert.throws(() => parseSession("t", base("[{ nope: 1 }]")), /a part is/);
  assert.throws(() => parseSession("t", "description: 'x'\nsteps: []"), /messages/);
});

test("signature: run-length reply classes, then closed or timeout", () => {
  assert.equal(signature({ codes: [250, 250, 452, 250], texts: [], closed: false, timedOut: false }), "2*2 4*1 2*1");
  assert.equal(signature({ codes: [554], texts: [], closed: true, timedOut: false }), "5*1 closed");
  assert.equal(signature({ codes: [], texts: [], closed: false, timedOut: true }), "timeout");
});

test("every session file loads, with a description and at least one step", async () => {
  const all = await loadSessions();
  assert.ok(all.length >= 40, `${all.length} sessions`);
  for (const s of all) assert.ok(s.description.length > 10 && s.steps.length > 0, s.name);
});
