// Logs: a connection id on every session line, never a message body.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { createLogger } from "../../src/log/logger.ts";
import { ehloClient, startServer, until } from "./helpers.ts";

test("every session log line has the cid; bodies are never logged", async () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split("\n")) if (l.trim()) lines.push(JSON.parse(l));
      cb();
    },
  });
  const t = await startServer({ logger: createLogger({ level: "debug", destination: sink }) });
  try {
    const c = await ehloClient(t.port);
    await c.cmd("MAIL FROM:<a@sender.test>");
    await c.cmd("RCPT TO:<bob@freehold.test>");
    await c.cmd("DATA");
    c.write("Subject: BODY-MARKER-1\r\n\r\nBODY-MARKER-2\r\n.\r\n");
    assert.equal((await c.reply()).code, 250);
    await c.cmd("BOGUS");
    await c.cmd("QUIT");
    await c.closed();
    await until(() => lines.some((l) => l.msg === "disconnect"));
  } finally {
    await t.close();
  }
  const session = lines.filter((l) => l.msg !== "smtp listening");
  assert.ok(session.length >= 8, `only ${session.length} lines`);
  const cids = new Set(session.map((l) => l.cid));
  assert.equal(cids.size, 1);
  assert.equal(typeof [...cids][0], "string");
  assert.ok(session.some((l) => l.msg === "command" && l.verb === "MAIL"));
  assert.ok(session.some((l) => l.msg === "message end"));
  assert.ok(!JSON.stringify(lines).includes("BODY-MARKER"));
});
