import { test } from "node:test";
import assert from "node:assert/strict";
import { observe } from "./transitions.ts";
import type { CheckTrack } from "./transitions.ts";
import type { CheckStatus } from "../identity.ts";

function walk(statuses: CheckStatus[], n = 2): Array<string> {
  let t: CheckTrack | undefined;
  const out: string[] = [];
  statuses.forEach((s, i) => {
    const r = observe(t, s, n, i);
    t = r.track;
    if (r.transition) out.push(`${i}:${r.transition.from}->${r.transition.to}`);
  });
  return out;
}

test("a state alerts once it held for N runs; the first ok is not news", () => {
  assert.deepEqual(walk(["ok", "ok", "ok", "fail", "fail", "fail", "ok", "ok"]), ["4:ok->fail", "7:fail->ok"]);
});

test("flapping never holds N runs and never alerts", () => {
  assert.deepEqual(walk(["ok", "ok", "fail", "ok", "fail", "ok", "fail", "ok", "ok"]), []);
});

test("a blip inside a confirmed state does not alert twice", () => {
  assert.deepEqual(walk(["fail", "fail", "ok", "fail", "fail", "ok", "fail"]), ["1:null->fail"]);
});

test("N = 1 alerts at once; N = 3 needs three", () => {
  assert.deepEqual(walk(["ok", "warn", "ok"], 1), ["1:ok->warn", "2:warn->ok"]);
  assert.deepEqual(walk(["ok", "ok", "ok", "unknown", "unknown", "unknown"], 3), ["5:ok->unknown"]);
});
