// The extension point submission will use for AUTH (RFC 4954): an EHLO keyword only under TLS,
// a command with a continuation exchange, the AUTH= MAIL parameter, and a MAIL guard. This
// extension is a test double, not the real AUTH.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { RawClient, startServer, tlsContext } from "./helpers.ts";
import type { TestServer } from "./helpers.ts";
import { defineCommand } from "../../src/smtp/commands/command.ts";
import { SmtpError } from "../../src/smtp/errors.ts";
import { reply } from "../../src/smtp/reply.ts";
import type { SmtpExtension } from "../../src/smtp/types.ts";
import { createLogger } from "../../src/log/logger.ts";

const SECRET = "s3cret-Passw0rd";

const fakeAuth: SmtpExtension = {
  name: "test-auth",
  ehloKeywords: (s) => (s.tls ? ["AUTH PLAIN"] : []),
  commands: [
    defineCommand<{ mech: string; initial?: string }>({
      verb: "AUTH",
      phases: ["ready"],
      sensitive: true,
      // RFC 4954 §4: AUTH lines may be 12288 octets.
      extraLineOctets: 12288 - 512,
      parse(args) {
        const [mech, initial] = args.split(" ");
        if (mech?.toUpperCase() !== "PLAIN") throw new SmtpError("paramNotImplemented", "Unsupported mechanism");
        return { mech, initial };
      },
      async handle(ctx, { initial }) {
        if (!ctx.session.info.tls) throw new SmtpError("encryptionRequired");
        let resp = initial;
        if (resp === undefined) {
          ctx.send(reply(334, undefined, ""));
          resp = await ctx.readLine();
        }
        const [, user, pass] = Buffer.from(resp, "base64").toString("utf8").split("\0");
        if (pass !== SECRET) throw new SmtpError("policyRejected", "Authentication failed");
        ctx.session.info.authUser = user;
        ctx.send(reply(235, "2.7.0", "Authentication successful"));
      },
    }),
  ],
  claimMailParam: (_s, p) => p.keyword === "AUTH",
  beforeMail: (s) => {
    if (s.authUser === undefined) throw new SmtpError("authRequired");
  },
};

let t: TestServer;
const logs: string[] = [];
before(async () => {
  const dest = new Writable({
    write(c: Buffer, _e, cb) {
      logs.push(c.toString());
      cb();
    },
  });
  t = await startServer({
    logger: createLogger({ level: "debug", destination: dest }),
    listener: { role: "submission", tls: { mode: "starttls", context: tlsContext() }, extensions: [fakeAuth] },
  });
});
after(() => t.close());

test("an AUTH extension: keyword only under TLS, continuation, AUTH= parameter, MAIL guard", async () => {
  const c = await RawClient.connect(t.port);
  const e1 = await c.cmd("EHLO mua.test");
  assert.ok(!e1.lines.some((l) => l.includes("AUTH")));
  assert.equal((await c.cmd("MAIL FROM:<me@freehold.test>")).raw, "530 5.7.0 Authentication required");
  assert.equal((await c.cmd("AUTH PLAIN")).raw, "530 5.7.0 Must issue a STARTTLS command first");
  assert.equal((await c.cmd("STARTTLS")).code, 220);
  await c.startTls();
  const e2 = await c.cmd("EHLO mua.test");
  assert.equal(e2.lines.at(-1), "250 AUTH PLAIN");
  assert.equal((await c.cmd("AUTH PLAIN")).raw, "334 ");
  const token = Buffer.from(`\0me@freehold.test\0${SECRET}`).toString("base64");
  assert.equal((await c.cmd(token)).raw, "235 2.7.0 Authentication successful");
  assert.equal((await c.cmd("MAIL FROM:<me@freehold.test> AUTH=<>")).code, 250);
  assert.equal((await c.cmd("RCPT TO:<bob@freehold.test>")).code, 250);
  assert.equal((await c.cmd("DATA")).code, 354);
  c.write("Subject: sent\r\n\r\nhi\r\n.\r\n");
  assert.equal((await c.reply()).code, 250);
  const m = t.handler.messages.at(-1)!;
  assert.equal(m.envelope.mailParams.extra.get("AUTH"), "<>");
  assert.match(m.end.receivedHeader, /with ESMTPSA/);
  c.close();
});

test("a long initial response fits (the reader's cap follows the table); secrets stay out of logs", async () => {
  const c = await RawClient.connect(t.port);
  await c.cmd("EHLO mua.test");
  await c.cmd("STARTTLS");
  await c.startTls();
  await c.cmd("EHLO mua.test");
  const long = Buffer.from(`\0${"u".repeat(3000)}@freehold.test\0${SECRET}`).toString("base64");
  assert.equal((await c.cmd(`AUTH PLAIN ${long}`)).code, 235);
  c.close();
  const all = logs.join("");
  assert.ok(all.includes('"verb":"AUTH"'));
  assert.ok(!all.includes(long.slice(0, 40)));
  assert.ok(!all.includes(Buffer.from(`\0me@freehold.test\0${SECRET}`).toString("base64")));
});
