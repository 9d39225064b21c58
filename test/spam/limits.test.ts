// Greylisting with an injected clock, and the filter's time budget: a server whose rspamd never
// answers still delivers within the budget, unfiltered, and says so in the header and the log.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { findKnotd, startKnot } from "../support/knot.ts";
import type { KnotServer } from "../support/knot.ts";
import { SmtpTestClient } from "../support/smtp-client.ts";
import { OffsetClock, findCopy, message, startSpamServer, tok } from "./support.ts";
import type { SpamServer } from "./support.ts";

const noKnot = findKnotd() === null ? "knotd is not installed (scripts/install-peers.sh)" : false;
if (noKnot && process.env.CI === "true") throw new Error(`CI: ${noKnot}`);

let knot: KnotServer;
let s: SpamServer;
let hole: net.Server;
const held: net.Socket[] = [];
const clock = new OffsetClock();

before(async () => {
  if (noKnot) return;
  knot = await startKnot({ test: { "mx.client": { A: ["127.0.0.1"] } }, "127.in-addr.arpa": { "1.0.0": { PTR: ["mx.client.test."] } } });
  // rspamd that accepts the connection and never answers.
  hole = net.createServer((sock) => {
    held.push(sock);
    sock.on("error", () => undefined);
  });
  await new Promise<void>((r) => hole.listen(0, "127.0.0.1", () => r()));
  const holePort = (hole.address() as net.AddressInfo).port;
  s = await startSpamServer({
    domains: ["freehold.test"],
    users: [{ address: "bob@freehold.test" }],
    dnsServers: [knot.address],
    clock,
    config: {
      spam: {
        ipBlocklists: [],
        domainBlocklists: [],
        checkLoopback: true,
        budgetMs: 500,
        greylist: { enabled: true, delaySeconds: 300 },
        rspamd: { url: `http://127.0.0.1:${holePort}`, timeoutMs: 60_000 },
      },
    },
  });
});

after(async () => {
  await s?.stop();
  for (const c of held) c.destroy();
  await new Promise<void>((r) => (hole ? hole.close(() => r()) : r()));
  await knot?.stop();
});

async function attempt(from: string, t: string): Promise<{ rcpt: number; text: string; final?: number }> {
  const c = await SmtpTestClient.connect(s.mxPort);
  try {
    assert.equal((await c.read()).code, 220);
    assert.equal((await c.cmd("EHLO mx.client.test")).code, 250);
    assert.equal((await c.cmd(`MAIL FROM:<${from}>`)).code, 250);
    const r = await c.cmd("RCPT TO:<bob@freehold.test>");
    if (r.code !== 250) return { rcpt: r.code, text: r.text };
    assert.equal((await c.cmd("DATA")).code, 354);
    const final = await c.cmd(`${message(t, { from }).replace(/^\./gm, "..")}\r\n.`);
    return { rcpt: 250, text: final.text, final: final.code };
  } finally {
    await c.quit().catch(() => undefined);
  }
}

test("greylisting: first try 451 4.7.1, early retry 451, retry after the delay accepted, then remembered", { skip: noKnot }, async () => {
  const t = tok();
  const first = await attempt("new@sender.test", t);
  assert.equal(first.rcpt, 451);
  assert.match(first.text, /^4\.7\.1 Greylisted/);
  clock.offset += 60_000;
  assert.equal((await attempt("new@sender.test", t)).rcpt, 451);
  clock.offset += 241_000;
  const ok = await attempt("new@sender.test", t);
  assert.equal(ok.final, 250, ok.text);
  assert.ok(await findCopy(s, "bob@freehold.test", t));
  // The triple passed: the next message goes through at once; another sender is greylisted.
  assert.equal((await attempt("new@sender.test", tok())).final, 250);
  assert.equal((await attempt("other@sender.test", tok())).rcpt, 451);
});

test("time budget: rspamd never answers, the message is delivered unfiltered within the budget", { skip: noKnot }, async () => {
  const from = "budget@sender.test";
  await attempt(from, tok());
  clock.offset += 301_000;
  const t = tok();
  const started = Date.now();
  const r = await attempt(from, t);
  const ms = Date.now() - started;
  assert.equal(r.final, 250, r.text);
  assert.ok(ms < 20_000, `${ms} ms`);
  const c = await findCopy(s, "bob@freehold.test", t);
  assert.match(c!.header, /^unfiltered \(time budget of 500 ms exceeded\); ip=127\.0\.0\.1$/);
});
