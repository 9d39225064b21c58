// LMTP's per-recipient replies (RFC 2033 §4.2) and back-pressure from a slow sink.
import { test } from "node:test";
import assert from "node:assert/strict";
import { RawClient, ehloClient, startServer } from "./helpers.ts";
import { ok, reply } from "../../src/smtp/reply.ts";
import type { MessageSink } from "../../src/smtp/types.ts";

test("LMTP: LHLO only, and one reply per recipient after DATA", async () => {
  const t = await startServer({ listener: { role: "lmtp" } });
  t.handler.data = async (_s, envelope): Promise<MessageSink> => ({
    write: async () => {},
    end: async () => envelope.recipients.map((r) => (r.mailbox.localPart === "alice" ? reply(452, "4.2.2", "Mailbox full") : ok("2.0.0", `delivered to ${r.mailbox.address}`))),
    abort: async () => {},
  });
  try {
    const c = await RawClient.connect(t.port, { greeting: false });
    assert.equal((await c.reply()).raw, "220 mx.freehold.test LMTP Freehold");
    assert.equal((await c.cmd("EHLO client.test")).raw, "500 5.5.2 Syntax error, command unrecognized");
    assert.equal((await c.cmd("LHLO client.test")).code, 250);
    await c.cmd("MAIL FROM:<a@sender.test>");
    await c.cmd("RCPT TO:<bob@freehold.test>");
    await c.cmd("RCPT TO:<alice@freehold.test>");
    assert.equal((await c.cmd("DATA")).code, 354);
    c.write("Subject: lmtp\r\n\r\nx\r\n.\r\n");
    assert.equal((await c.reply()).raw, "250 2.0.0 delivered to bob@freehold.test");
    assert.equal((await c.reply()).raw, "452 4.2.2 Mailbox full");
    c.close();
  } finally {
    await t.close();
  }
});

test("a slow sink (awaited writes) still gets every byte in order", async () => {
  const t = await startServer();
  t.handler.writeDelayMs = 1;
  try {
    const c = await ehloClient(t.port);
    await c.cmd("MAIL FROM:<a@sender.test>");
    await c.cmd("RCPT TO:<bob@freehold.test>");
    assert.equal((await c.cmd("DATA")).code, 354);
    const lines: string[] = [];
    for (let i = 0; i < 8000; i++) lines.push(`${i % 7 === 0 ? "." : ""}line ${i} ${"x".repeat(40)}\r\n`);
    const body = `Subject: big\r\n\r\n${lines.join("")}`;
    const wire = body.replace(/\r\n\./g, "\r\n..");
    c.write(`${wire}.\r\n`);
    assert.equal((await c.reply(20_000)).code, 250);
    const m = t.handler.messages.at(-1)!;
    assert.equal(m.body.length, Buffer.byteLength(body));
    assert.ok(m.body.equals(Buffer.from(body)));
    c.close();
  } finally {
    await t.close();
  }
});
