// Every command replayed in every session phase (STYLE.md §3), then random command streams
// (fast-check): each reply is well formed, nothing crashes, the session stays usable.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { RawClient, startServer, until } from "./helpers.ts";
import type { TestServer, WireReply } from "./helpers.ts";

let t: TestServer;
before(async () => {
  t = await startServer();
});
after(() => t.close());

// A command with arguments that are valid in the phase where the command belongs. BDAT carries
// its octets ("x" and the CRLF cmd() appends) so the stream stays in step whether or not the chunk is accepted.
const COMMANDS = [
  "EHLO c.test", "HELO c.test", "MAIL FROM:<a@s.test>", "RCPT TO:<bob@freehold.test>", "RSET", "NOOP", "VRFY bob", "HELP",
  "STARTTLS", "BDAT 3\r\nx", "XYZ", "LHLO c.test", "DATA",
];

const PHASES: Record<string, string[]> = {
  start: [],
  ready: ["EHLO c.test"],
  mail: ["EHLO c.test", "MAIL FROM:<a@s.test>"],
  rcpt: ["EHLO c.test", "MAIL FROM:<a@s.test>", "RCPT TO:<bob@freehold.test>"],
  bdat: ["EHLO c.test", "MAIL FROM:<a@s.test>", "RCPT TO:<bob@freehold.test>", "BDAT 3\r\nx"],
};

function wellFormed(r: WireReply, afterEhlo: boolean): void {
  assert.ok(r.code >= 200 && r.code < 600, r.raw);
  for (const line of r.lines) assert.match(line, /^\d{3}[- ]/);
  // RFC 2034: after EHLO, every reply but EHLO's own (and 354) has an enhanced status code
  // whose class matches the reply's.
  if (afterEhlo && r.code !== 354 && !/Hello/.test(r.lines[0])) {
    const m = /^\d{3}[ -](\d)\.\d{1,3}\.\d{1,3}( |$)/.exec(r.lines[0]);
    assert.ok(m, `no enhanced status: ${r.raw}`);
    assert.equal(Number(m[1]), Math.floor(r.code / 100), r.raw);
  }
}

for (const [phase, setup] of Object.entries(PHASES)) {
  test(`every command in phase ${phase}`, async () => {
    for (const cmd of COMMANDS) {
      const c = await RawClient.connect(t.port);
      for (const s of setup) assert.ok((await c.cmd(s)).code < 400, `${phase} setup ${s}`);
      const r = await c.cmd(cmd);
      wellFormed(r, phase !== "start");
      if (cmd === "DATA" && r.code === 354) {
        c.write(".\r\n");
        wellFormed(await c.reply(), true);
      }
      // The session survives (STARTTLS without TLS is refused, so it stays plaintext).
      assert.equal((await c.cmd("NOOP")).code, 250, `${phase}: NOOP after ${cmd}`);
      c.close();
    }
  });
}

test("fuzz: random command streams always get well-formed replies in order", async () => {
  const cmd = fc.constantFrom(...COMMANDS.filter((c) => c !== "DATA"), "MAIL FROM:<>", "RCPT TO:<Postmaster>", "RCPT TO:<x@elsewhere.test>",
    "MAIL FROM:<bad", "RCPT TO:<bob@freehold.test> NOTIFY=BOGUS", "NOOP \0", "BDAT 0 LAST", "mail from:<A@S.TEST> size=5");
  await fc.assert(
    fc.asyncProperty(fc.array(cmd, { minLength: 1, maxLength: 25 }), async (cmds) => {
      const c = await RawClient.connect(t.port);
      // All pipelined in one write: replies must come back one per command, in order.
      c.write(cmds.map((x) => `${x}\r\n`).join(""));
      let afterEhlo = false;
      let errors = 0;
      for (const x of cmds) {
        const r = await c.reply();
        wellFormed(r, afterEhlo);
        if (x.startsWith("EHLO") && r.code === 250) afterEhlo = true;
        if (r.code >= 400) errors++;
        if (errors === 20) {
          // The error limit (Postfix smtpd_hard_error_limit) ends the session.
          assert.equal((await c.reply()).raw, "421 4.7.0 Too many errors, closing connection");
          await c.closed();
          return;
        }
      }
      assert.equal((await c.cmd("RSET")).code, 250);
      c.close();
    }),
    { numRuns: 40 },
  );
});

test("fuzz: raw byte streams never crash the server or deliver a message with bare line endings", async () => {
  const token = fc.constantFrom("EHLO c.test\r\n", "MAIL FROM:<a@s.test>\r\n", "RCPT TO:<bob@freehold.test>\r\n", "DATA\r\n", "BDAT 4\r\n",
    "BDAT 2 LAST\r\n", ".\r\n", "\r\n", "\n", "\r", ".", "x", "\0", "RSET\r\n", "\r\n.\r\n", "\n.\n", "Received: x\r\n", "\xff",
    "\n.\r\n", "\r\n.\n", "\r.\r\n", "DATA\n", ".\n");
  await fc.assert(
    fc.asyncProperty(fc.array(token, { maxLength: 40 }), fc.boolean(), async (tokens, slow) => {
      const before = t.handler.messages.length;
      const c = await RawClient.connect(t.port);
      const bytes = Buffer.from(tokens.join(""), "latin1");
      if (slow) for (const b of bytes) c.write(Uint8Array.of(b));
      else c.write(bytes);
      c.write("\r\n.\r\nQUIT\r\n");
      await Promise.race([c.closed(), new Promise((r) => setTimeout(r, 200))]);
      c.close();
      for (const m of t.handler.messages.slice(before)) {
        if (m.envelope.transport === "DATA") assert.doesNotMatch(m.body.toString("latin1"), /\r(?!\n)|(?<!\r)\n/);
      }
    }),
    { numRuns: 30 },
  );
  await until(() => t.server.connectionCount === 0);
  const c = await RawClient.connect(t.port);
  assert.equal((await c.cmd("NOOP")).code, 250);
  c.close();
});
