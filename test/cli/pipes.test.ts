// A reader that goes away (`freehold dkim list | head`) ends the CLI quietly, and
// `freehold sendmail --help` prints its usage instead of being refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { ROOT, runCli } from "./run.ts";

test("stdout closed by the reader: exit 0, no EPIPE stack trace", async () => {
  const child = spawn(process.execPath, [path.join(ROOT, "src/cli/main.ts"), "config", "example"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  // Close our end before the CLI writes anything: every write of it meets EPIPE.
  child.stdout.destroy();
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const code = await new Promise<number | null>((res) => child.on("close", (c) => res(c)));
  assert.equal(stderr, "");
  assert.equal(code, 0);
});

test("sendmail --help prints the options sendmail takes", async () => {
  const r = await runCli(["sendmail", "--help"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Usage: freehold \[--data DIR\] sendmail \[-t\] \[-i \| -oi\]/);
  assert.match(r.stdout, /-f, -r ADDR/);
  // Other unknown long options are still refused with EX_USAGE.
  assert.equal((await runCli(["sendmail", "--bogus"])).code, 64);
});
