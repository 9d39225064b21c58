// The buffered file-descriptor logger: lines gathered into fewer writes still reach the file
// within flushMs while the process runs, and all of them on a normal exit.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { openSync, readFileSync } from "node:fs";
import { pino } from "pino";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { createLogger } from "./logger.ts";

async function tempFile(t: { after(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "freehold-log-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return join(dir, "log");
}

test("a buffered line reaches the file by the flush timer, without another write", async (t) => {
  const file = await tempFile(t);
  const log = createLogger({ destination: openSync(file, "a"), bufferBytes: 4096, flushMs: 20 });
  // Ending the stream stops its flush timer and closes the descriptor.
  const stream = (log as unknown as Record<symbol, NodeJS.WritableStream>)[pino.symbols.streamSym];
  t.after(
    () =>
      new Promise<void>((r) => {
        stream.once("close", () => r());
        stream.end();
      }),
  );
  log.info({ n: 1 }, "first");
  // Read synchronously: no event-loop turn passes, so the flush timer cannot have fired yet
  // (an awaited read let a 20 ms timer fire first on a loaded machine).
  assert.equal(readFileSync(file, "utf8"), "", "held in the buffer at first");
  // The flush timer (not another write, not exit) must bring it out. The bound is generous: on a
  // loaded machine a 20 ms timer may fire late, and tests never assert speed.
  const deadline = Date.now() + 10_000;
  while (!(await readFile(file, "utf8")).includes('"msg":"first"') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.match(await readFile(file, "utf8"), /"msg":"first"/);
});

test("every line is written when the process exits, however small the buffer's content", async (t) => {
  const file = await tempFile(t);
  const script = `
    import { openSync } from "node:fs";
    import { createLogger } from ${JSON.stringify(new URL("./logger.ts", import.meta.url).href)};
    const log = createLogger({ destination: openSync(${JSON.stringify(file)}, "a"), flushMs: 60000 });
    for (let i = 0; i < 5; i++) log.info({ i }, "line");
  `;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const lines = (await readFile(file, "utf8")).trim().split("\n");
  assert.deepEqual(
    lines.map((l) => JSON.parse(l).i),
    [0, 1, 2, 3, 4],
  );
});

test("secrets at REDACT_PATHS never reach the output, at the top level, one level down and in child bindings; other fields are untouched", () => {
  const lines: string[] = [];
  const dest = { write: (s: string) => void lines.push(s) } as unknown as NodeJS.WritableStream;
  const log = createLogger({ destination: dest });
  const input = { user: "u@x.test", password: "hunter2", sasl: { mech: "PLAIN", password: "pw2", credentials: "c" }, auth: { response: "dXNlcg==", ok: true }, body: "mail text", list: ["password"] };
  const err = Object.assign(new Error("boom"), { secret: "s3" });
  log.info(input, "login");
  log.child({ credentials: "cc", cid: 7 }).warn({ err }, "failed");
  const [a, b] = lines.map((l) => JSON.parse(l));
  assert.equal(a.password, "[redacted]");
  assert.deepEqual(a.sasl, { mech: "PLAIN", password: "[redacted]", credentials: "[redacted]" });
  assert.deepEqual(a.auth, { response: "[redacted]", ok: true });
  assert.equal(a.body, "[redacted]");
  assert.equal(a.user, "u@x.test");
  assert.deepEqual(a.list, ["password"]);
  assert.equal(b.credentials, "[redacted]");
  assert.equal(b.cid, 7);
  assert.equal(b.err.secret, "[redacted]");
  assert.equal(b.err.message, "boom");
  assert.match(b.err.stack, /boom/);
  for (const l of lines) for (const s of ["hunter2", "pw2", "dXNlcg==", "mail text", "cc\"", "s3"]) assert.ok(!l.includes(s), `${s} leaked: ${l}`);
  // The caller's objects are not changed.
  assert.equal(input.password, "hunter2");
  assert.equal(err.secret, "s3");
});
