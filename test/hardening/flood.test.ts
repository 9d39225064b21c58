// Issue 13 §2 in CI: floods and slow clients. First a regression test per limit an operator can
// tune (docs/security.md "Floods and slow clients"), against one Freehold process configured
// with tiny values (ms, not minutes) so each deadline falls in a second or two; then the flood
// area of the soak battery (soak/cases/flood.ts) in short mode, whose every row must pass.
// Real clients where they fit (Python's smtplib and imaplib); a raw socket where the point is to
// misbehave (a byte at a time, pipelined BDAT, a DEFLATE bomb). Clients bind 127.0.21.0/24.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import zlib from "node:zlib";
import { soakCases } from "../../soak/cases/flood.ts";
import { runSoakCases } from "../../soak/support/runner.ts";
import { renderSoakTable } from "../../soak/support/table.ts";
import { imapCmd, imapLogin, LineClient, PASSWORD, peakRssMiB, resetPeakRss, sendMessage, sleep, smtpReady, startFloodServer, USER } from "../../soak/support/flood-kit.ts";
import type { FloodServer } from "../../soak/support/flood-kit.ts";

const PY = "/usr/bin/python3";
const ip = (n: number) => `127.0.21.${n}`;
const MAX_MESSAGE = 64 * 1024;
const CAP = 4;
const MAX_CHUNKS = 50;

function python(code: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(PY, ["-c", code, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

// imaplib: STATUS INBOX (MESSAGES) as a real client sees it.
const PY_STATUS = `
import imaplib, sys, re
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login(sys.argv[2], sys.argv[3])
typ, data = m.status("INBOX", "(MESSAGES)")
print(re.search(rb"MESSAGES (\\d+)", data[0]).group(1).decode())
m.logout()
`;

// smtplib: one message from a file of exact octets; prints the outcome.
const PY_SEND = `
import smtplib, sys
msg = open(sys.argv[2], "rb").read()
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), source_address=("127.0.21.9", 0))
try:
    s.sendmail("sender@soak.freehold.test", [sys.argv[3]], msg)
    print("250")
except smtplib.SMTPSenderRefused as e:
    print("MAIL", e.smtp_code, e.smtp_error.decode())
except smtplib.SMTPDataError as e:
    print("DATA", e.smtp_code, e.smtp_error.decode())
finally:
    try:
        s.quit()
    except Exception:
        pass
`;

async function inbox(s: FloodServer): Promise<number> {
  const r = await python(PY_STATUS, [String(s.imap), USER, PASSWORD]);
  assert.equal(r.code, 0, r.out);
  return Number(r.out.trim());
}

/** Writes `text` a character at a time every `everyMs` until the server closes; ms until closed. */
async function trickle(c: LineClient, text: string, everyMs: number, giveUpMs: number): Promise<number> {
  const t0 = Date.now();
  for (let i = 0; !c.closed && Date.now() - t0 < giveUpMs; i++) {
    c.write(text[i % text.length]);
    await Promise.race([sleep(everyMs), c.done]);
  }
  return c.closed ? c.closedAt - t0 : Infinity;
}

/** All lines a client got until it closed (or the timeout). */
async function rest(c: LineClient, timeoutMs = 10_000): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const l = await c.line(timeoutMs);
    if (l === null) return out;
    out.push(l);
  }
}

describe("flood limits (regression, tiny values)", { timeout: 120_000 }, () => {
  let s: FloodServer;
  before(async () => {
    s = await startFloodServer({
      config: {
        smtp: { commandTimeoutMs: 1000, dataTimeoutMs: 1000, minDataRate: 500, maxConnections: CAP, maxMessageBytes: MAX_MESSAGE, maxBdatChunks: MAX_CHUNKS },
        imap: { loginTimeoutMs: 1500, commandTimeoutMs: 1000, maxConnections: CAP },
      },
    });
  });
  after(async () => {
    await s?.stop();
  });

  test("smtp.commandTimeoutMs: a command line trickled a byte at a time gets 421 4.4.2", async () => {
    const c = await LineClient.connect(s.mx, ip(10));
    assert.match((await c.smtpReply()) ?? "", /^220 /);
    const lines: string[] = [];
    const collecting = rest(c, 15_000).then((l) => lines.push(...l));
    const ms = await trickle(c, `EHLO ${"slow".repeat(50)}`, 200, 15_000);
    await collecting;
    assert.ok(ms < 8000, `closed after ${ms} ms (deadline 1000)`);
    assert.ok(lines.some((l) => l.startsWith("421 4.4.2")), lines.join(" | "));
  });

  test("smtp.minDataRate: DATA trickled a byte at a time gets 421 4.4.2, nothing stored", async () => {
    const before = await inbox(s);
    const c = await smtpReady(s.mx, ip(11));
    c.write(`MAIL FROM:<slow@soak.freehold.test>\r\nRCPT TO:<${USER}>\r\nDATA\r\n`);
    for (const code of ["250", "250", "354"]) assert.match((await c.smtpReply()) ?? "", new RegExp(`^${code}`));
    const lines: string[] = [];
    const collecting = rest(c, 15_000).then((l) => lines.push(...l));
    const ms = await trickle(c, "Subject: slow\r\n", 200, 15_000);
    await collecting;
    assert.ok(ms < 8000, `closed after ${ms} ms`);
    assert.ok(lines.some((l) => l.startsWith("421 4.4.2")), lines.join(" | "));
    assert.equal(await inbox(s), before);
  });

  test("smtp.maxConnections: the connection over the listener cap gets 421 4.7.0, then the cap frees", async () => {
    const held = await Promise.all(Array.from({ length: CAP }, (_, i) => smtpReady(s.mx, ip(20 + i))));
    const over = await LineClient.connect(s.mx, ip(30));
    const l = await over.smtpReply(10_000);
    assert.match(l ?? "(closed silently)", /^421 4\.7\.0 /);
    await over.done;
    for (const c of held) c.close();
    await sleep(300);
    // smtplib is served again once the held sessions are gone.
    const r = await python(`import smtplib,sys; s=smtplib.SMTP("127.0.0.1", int(sys.argv[1])); print(s.noop()[0]); s.quit()`, [String(s.mx)]);
    assert.equal(r.out.trim(), "250", r.out);
  });

  test("a burst of 1,000 connects (over Node's default listen backlog of 511): every client gets 220 or 421, none is left hanging", async () => {
    const cats = new Map<string, number>();
    const clients: LineClient[] = [];
    await Promise.all(
      Array.from({ length: 1000 }, async (_, i) => {
        let k: string;
        try {
          const c = await LineClient.connect(s.mx, ip(100 + (i % 100)), 20_000);
          clients.push(c);
          const l = await c.line(20_000);
          k = l === null ? (c.closed ? "closed without a reply" : "no reply in 20 s") : l.slice(0, 9);
        } catch (e) {
          k = `connect: ${(e as Error).message}`;
        }
        cats.set(k, (cats.get(k) ?? 0) + 1);
      }),
    );
    for (const c of clients) c.close();
    const summary = JSON.stringify(Object.fromEntries(cats));
    assert.equal((cats.get("220 mx.fr") ?? 0) + (cats.get("421 4.7.0") ?? 0), 1000, summary);
    assert.ok((cats.get("220 mx.fr") ?? 0) <= CAP, summary);
    await sleep(500);
  });

  test("imap.loginTimeoutMs: a client that never logs in gets BYE, however busy it keeps the line", async () => {
    const c = await LineClient.connect(s.imap, ip(40));
    assert.match((await c.line()) ?? "", /^\* OK/);
    const lines: string[] = [];
    const collecting = rest(c, 15_000).then((l) => lines.push(...l));
    const ms = await trickle(c, `a LOGIN ${"x".repeat(100)}`, 200, 15_000);
    await collecting;
    assert.ok(ms < 9000, `closed after ${ms} ms`);
    assert.ok(lines.some((x) => x.startsWith("* BYE")), lines.join(" | "));
  });

  test("imap.maxConnections: the connection over the listener cap gets BYE [LIMIT]", async () => {
    const held = await Promise.all(
      Array.from({ length: CAP }, async (_, i) => {
        const c = await LineClient.connect(s.imap, ip(50 + i));
        assert.match((await c.line()) ?? "", /^\* OK/);
        return c;
      }),
    );
    const over = await LineClient.connect(s.imap, ip(60));
    assert.match((await over.line(10_000)) ?? "(closed silently)", /^\* BYE \[LIMIT\]/);
    for (const c of held) c.close();
    await sleep(300);
    assert.ok(Number.isInteger(await inbox(s)), "imaplib served again");
  });

  test("imap.commandTimeoutMs: after login a trickled command gets BYE; IDLE and a slow APPEND are not cut", async () => {
    // The trickler.
    const c = await imapLogin(s.imap, ip(70));
    const lines: string[] = [];
    const collecting = rest(c, 15_000).then((l) => lines.push(...l));
    const ms = await trickle(c, `a NOOP ${"x".repeat(100)}`, 200, 15_000);
    await collecting;
    assert.ok(ms < 8000, `closed after ${ms} ms`);
    assert.ok(lines.some((x) => /^\* BYE .*[Cc]ommand timeout/.test(x)), lines.join(" | "));

    // IDLE for three deadlines, then DONE: answered OK (RFC 9051 §5.4 / RFC 2177: the wait in
    // IDLE is not a command arriving).
    const idler = await imapLogin(s.imap, ip(71));
    assert.match((await imapCmd(idler, "SELECT INBOX")).done ?? "", /OK/);
    idler.write("idle IDLE\r\n");
    assert.match((await idler.line()) ?? "", /^\+ /);
    await sleep(3500);
    assert.equal(idler.closed, false, "IDLE was cut");
    idler.write("DONE\r\n");
    assert.match((await idler.until(/^idle /, 10_000)) ?? "", /^idle OK/);
    idler.close();

    // APPEND of 3,000 octets at ~1,000 octets a second (3 s, three deadlines): the literal
    // extends the deadline by 2 ms an octet, so it is stored.
    const before = await inbox(s);
    const up = await imapLogin(s.imap, ip(72));
    const msg = `Subject: slow append\r\n\r\n${"y".repeat(2974)}\r\n`;
    assert.equal(msg.length, 3000);
    up.write(`ap APPEND INBOX {${msg.length}}\r\n`);
    assert.match((await up.line()) ?? "", /^\+ /);
    for (let i = 0; i < msg.length; i += 100) {
      up.write(msg.slice(i, i + 100));
      await sleep(100);
    }
    up.write("\r\n");
    assert.match((await up.until(/^ap /, 10_000)) ?? "(closed)", /^ap OK/);
    // A streamed APPEND (100 KiB, over maxInlineLiteral) at ~20 KiB a second, 5 s: each octet
    // that arrives extends the deadline, so it is stored too.
    const big = `Subject: slow streamed append\r\n\r\n${`${"z".repeat(1022)}\r\n`.repeat(100)}`;
    up.write(`ap2 APPEND INBOX {${big.length}}\r\n`);
    assert.match((await up.line()) ?? "", /^\+ /);
    for (let i = 0; i < big.length; i += 5120) {
      up.write(big.slice(i, i + 5120));
      await sleep(250);
    }
    up.write("\r\n");
    assert.match((await up.until(/^ap2 /, 10_000)) ?? "(closed)", /^ap2 OK/);
    up.close();
    assert.equal(await inbox(s), before + 2);
  });

  test("COMPRESS=DEFLATE bomb: 256 MiB of one line from ~250 KiB on the wire; BAD, then NOOP answered (or BYE at the command deadline), RSS bounded", async () => {
    const c = await imapLogin(s.imap, ip(80));
    assert.match((await imapCmd(c, "COMPRESS DEFLATE")).done ?? "", /OK/);
    await resetPeakRss(s.proc.pid);
    const sock = c.socket;
    sock.removeAllListeners("data");
    let text = "";
    const inflate = zlib.createInflateRaw();
    inflate.on("data", (d: Buffer) => (text = (text + d.toString("latin1")).slice(-4096)));
    sock.on("data", (d: string | Buffer) => inflate.write(typeof d === "string" ? Buffer.from(d, "latin1") : d));
    const deflate = zlib.createDeflateRaw({ level: 9 });
    deflate.on("data", (d: Buffer) => sock.write(d));
    const unit = Buffer.alloc(1024 * 1024, 0x41);
    for (let i = 0; i < 256 && !c.closed; i++) {
      if (!deflate.write(unit)) await new Promise((r) => deflate.once("drain", r));
      while (sock.writableLength > 1024 * 1024 && !c.closed) await sleep(5);
    }
    deflate.write("\r\nbomb NOOP\r\n");
    await new Promise<void>((r) => deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
    const end = Date.now() + 60_000;
    while (!/bomb OK/.test(text) && !c.closed && Date.now() < end) await sleep(100);
    c.close();
    assert.match(text, /BAD \[TOOBIG\]/);
    // Then the NOOP is answered, unless inflating the line outlasted imap.commandTimeoutMs (1 s
    // here; the rest of an overlong line still counts as that command arriving): then the
    // session ends with BYE, which is the bound doing its job. The soak row (default timeout)
    // requires the NOOP answer.
    assert.match(text, /bomb OK|\* BYE Command timeout/);
    const rss = await peakRssMiB(s.proc.pid);
    assert.ok(rss < 512, `peak RSS ${rss} MiB during the bomb`);
  });

  test(`BDAT in 1-octet chunks: refused with 552 5.3.4 past smtp.maxBdatChunks (${MAX_CHUNKS}), nothing stored`, async () => {
    const before = await inbox(s);
    const c = await smtpReady(s.mx, ip(90));
    c.write(`MAIL FROM:<chunks@soak.freehold.test>\r\nRCPT TO:<${USER}>\r\n`);
    await c.smtpReply();
    await c.smtpReply();
    await c.drainWrite("BDAT 1\r\nx".repeat(MAX_CHUNKS + 10) + "BDAT 2 LAST\r\n\r\n");
    const codes: string[] = [];
    for (;;) {
      const l = await c.smtpReply(10_000);
      if (l === null) break;
      codes.push(l.slice(0, 9));
      if (codes.length === MAX_CHUNKS + 11) break;
    }
    c.close();
    assert.equal(codes.filter((x) => x.startsWith("250")).length, MAX_CHUNKS, codes.join(","));
    assert.equal(codes[MAX_CHUNKS], "552 5.3.4");
    // The chunks after the refusal belong to no transaction: 503, never 250.
    assert.ok(codes.slice(MAX_CHUNKS + 1).every((x) => x.startsWith("503")), codes.slice(MAX_CHUNKS).join(","));
    assert.equal(await inbox(s), before);
  });

  test("BDAT chunks trickled one every 700 ms: the message falls under smtp.minDataRate, 421 4.4.2", async () => {
    const before = await inbox(s);
    const c = await smtpReady(s.mx, ip(91));
    c.write(`MAIL FROM:<slowchunks@soak.freehold.test>\r\nRCPT TO:<${USER}>\r\n`);
    await c.smtpReply();
    await c.smtpReply();
    const replies: string[] = [];
    for (let i = 0; i < 10 && !c.closed; i++) {
      c.write("BDAT 1\r\nx");
      const r = await c.smtpReply(5000);
      if (r === null) break;
      replies.push(r.slice(0, 9));
      if (!r.startsWith("250")) break;
      await sleep(700);
    }
    c.close();
    assert.equal(replies.at(-1), "421 4.4.2", replies.join(","));
    assert.ok(replies.length <= 4, replies.join(","));
    assert.equal(await inbox(s), before);
  });

  test(`smtp.maxMessageBytes: a message of exactly ${MAX_MESSAGE} octets is stored; one octet more gets 552, nothing stored`, async (t) => {
    const make = (size: number): string => {
      const head = "Subject: at the limit\r\n\r\n";
      const line = `${"b".repeat(76)}\r\n`;
      let body = line.repeat(Math.floor((size - head.length) / line.length));
      const left = size - head.length - body.length;
      body += left >= 2 ? `${"c".repeat(left - 2)}\r\n` : "c".repeat(left);
      return head + body;
    };
    const fs = await import("node:fs/promises");
    const dir = await fs.mkdtemp("/tmp/freehold-flood-size-");
    t.after(() => fs.rm(dir, { recursive: true, force: true }));
    const n0 = await inbox(s);
    // smtplib declares SIZE (RFC 1870): at the limit accepted, one over refused at MAIL FROM.
    await fs.writeFile(`${dir}/at.eml`, make(MAX_MESSAGE));
    await fs.writeFile(`${dir}/over.eml`, make(MAX_MESSAGE + 1));
    const at = await python(PY_SEND, [String(s.mx), `${dir}/at.eml`, USER]);
    assert.equal(at.out.trim(), "250", at.out);
    assert.equal(await inbox(s), n0 + 1);
    const over = await python(PY_SEND, [String(s.mx), `${dir}/over.eml`, USER]);
    assert.match(over.out, /^MAIL 552 5\.3\.4/, over.out);
    // Without SIZE, the same octets through DATA: 552 after the content, nothing stored.
    const raw = await sendMessage(s.mx, make(MAX_MESSAGE + 1).slice(0, -2), ip(92));
    assert.match(raw ?? "", /^552 5\.3\.4/);
    assert.equal(await inbox(s), n0 + 1);
  });
});

test("flood battery (short): every attack bounded and clean, the well-behaved client served, RSS bounded", { timeout: 240_000 }, async (t) => {
  const rows = await runSoakCases(soakCases, "short", (m) => {
    t.diagnostic(m);
    return true;
  });
  process.stdout.write(`\n${renderSoakTable(rows, "soak flood (short)")}\n`);
  assert.ok(rows.length >= 20, `only ${rows.length} rows`);
  for (const r of rows) assert.ok(r.pass, `${r.case}: ${r.figure} — ${r.detail ?? ""}`);
});
