import { test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { progressReporter } from "./progress-bar.ts";

function sink(tty: boolean) {
  const s = new PassThrough() as PassThrough & { isTTY?: boolean; columns?: number };
  if (tty) {
    s.isTTY = true;
    s.columns = 100;
  }
  let out = "";
  s.on("data", (d) => (out += d));
  return { s, out: () => out };
}

test("not a terminal: plain lines, one per 10% and per phase, no carriage returns", () => {
  const { s, out } = sink(false);
  const p = progressReporter(s);
  for (let i = 0; i <= 100; i++) p.update("check", i, 100);
  p.update("upload", 1048576, 2097152, "bytes");
  p.end();
  const lines = out().trim().split("\n");
  assert.equal(lines.length, 12);
  assert.equal(lines[0], "check: 0% (0 of 100)");
  assert.equal(lines[10], "check: 100% (100 of 100)");
  assert.equal(lines[11], "upload: 50% (1.0 MiB of 2.0 MiB)");
  assert.ok(!out().includes("\r"));
});

test("terminal: one bar redrawn in place, throttled, the final state always drawn", () => {
  const { s, out } = sink(true);
  let t = 0;
  const p = progressReporter(s, () => t);
  for (let i = 0; i <= 50; i++) {
    t += 10;
    p.update("restore", i, 50);
  }
  p.end();
  const draws = out().split("\r").filter(Boolean);
  assert.ok(draws.length < 20, `${draws.length} redraws`);
  assert.match(draws.at(-1)!, /^restore +\[#+\] 100% 50\/50\x1b\[K\n$/);
});
