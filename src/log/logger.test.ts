// The buffered file-descriptor logger: lines gathered into fewer writes still reach the file
// within flushMs while the process runs, and all of them on a normal exit.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { openSync } from "node:fs";
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
  assert.equal(await readFile(file, "utf8"), "", "held in the buffer at first");
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
