// The log file's rotation (logfile.ts) on a real folder: size-triggered rotation keeps N files
// in order, the oldest dropped, old ones pruned by age, and the file is created 0600.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { rotate, rotatedFiles } from "./logfile.ts";
import { createLogger } from "./logger.ts";
import { Writable } from "node:stream";

test("rotate: file → .1 → .2 …, at most keep files, older than keepDays pruned", (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fh-logrot-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const f = path.join(dir, "freehold.log");
  for (let i = 1; i <= 5; i++) {
    fs.writeFileSync(f, `gen ${i}\n`);
    rotate(f, 3, 30);
  }
  assert.deepEqual(rotatedFiles(f).map((p) => path.basename(p)), ["freehold.log.1", "freehold.log.2", "freehold.log.3"]);
  assert.equal(fs.readFileSync(`${f}.1`, "utf8"), "gen 5\n");
  assert.equal(fs.readFileSync(`${f}.3`, "utf8"), "gen 3\n");
  const old = Date.now() / 1000 - 40 * 86_400;
  fs.utimesSync(`${f}.3`, old, old);
  fs.writeFileSync(f, "gen 6\n");
  rotate(f, 3, 30);
  assert.deepEqual(rotatedFiles(f).map((p) => path.basename(p)), ["freehold.log.1", "freehold.log.2", "freehold.log.3"], "gen 3 pruned, gen 4 moved to .3");
  assert.equal(fs.readFileSync(`${f}.3`, "utf8"), "gen 4\n");
});

test("a logger with a file writes every line there too (0600) and rotates when it grows past maxBytes", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fh-logfile-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const f = path.join(dir, "logs", "freehold.log");
  const log = createLogger({ level: "info", destination: new Writable({ write: (_c, _e, cb) => cb() }), bufferBytes: 0, file: { path: f, maxBytes: 2000, keepFiles: 2, keepDays: 30, checkMs: 20 } });
  assert.equal(fs.statSync(f).mode & 0o777, 0o600);
  for (let i = 0; i < 40; i++) log.info({ i, password: "hunter2" }, "line");
  const deadline = Date.now() + 10_000;
  while (rotatedFiles(f).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(rotatedFiles(f).length >= 1, "rotated");
  log.info({ i: 999 }, "after rotation");
  const until = Date.now() + 10_000;
  while (!fs.readFileSync(f, "utf8").includes('"i":999') && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  assert.ok(fs.readFileSync(f, "utf8").includes('"i":999'), "new lines go to the new file");
  const all = [f, ...rotatedFiles(f)].map((p) => fs.readFileSync(p, "utf8")).join("");
  assert.ok(!all.includes("hunter2"), "secrets redacted in the file too");
});
