// 8-bit mail to a hop without 8BITMIME (RFC 6152): submission converts 8-bit bodies to
// quoted-printable/base64 before DKIM signing, so the message crosses a 7-bit-only MX (Postfix's
// smtp-sink -8, which does not announce 8BITMIME, on 127.0.0.91:25) with its text intact and its
// signatures valid. Checked independently with Python's email package and dkimpy.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import { spawnSync } from "node:child_process";
import { authed, startHarness } from "../submission/harness.ts";
import { dkimRecordName, dkimTxtRecord } from "../../src/emailauth/dkim-keys.ts";
import { postfixUnavailable } from "../support/postfix.ts";
import { startSmtpSink } from "../support/smtp-sink.ts";
import { makePeerDir, waitUntil } from "../support/peer-util.ts";
import { DNSFUNC_PRELUDE } from "../support/dkimpy.ts";

const PW = "eightbit-Passw0rd-1";

const MESSAGE = [
  "From: Alice <alice@freehold.test>",
  "To: Bob <bob@remote.test>",
  "Subject: 8-bit over a 7-bit hop",
  "MIME-Version: 1.0",
  'Content-Type: multipart/mixed; boundary="b1"',
  "Content-Transfer-Encoding: 8bit",
  "",
  "--b1",
  "Content-Type: text/plain; charset=utf-8",
  "Content-Transfer-Encoding: 8bit",
  "",
  "Grüße aus Köln, ça va? Ångström — " + "ünïcödé ".repeat(20),
  "second line with trailing space ",
  "=not an escape=",
  "--b1",
  "Content-Type: text/html; charset=utf-8",
  "Content-Transfer-Encoding: 8bit",
  "",
  "<p>café</p>",
  "--b1--",
  "",
].join("\r\n");

// Leaf payloads decoded by Python's email package, and dkimpy's verdict on each signature.
const CHECK = DNSFUNC_PRELUDE + String.raw`
import email
from email import policy
def leaves(raw):
    m = email.message_from_bytes(raw, policy=policy.compat32)
    # A decoded quoted-printable line break is "\n" in Python, an 8bit one stays "\r\n".
    return [[p.get_content_type(), p.get_payload(decode=True).replace(b"\r\n", b"\n").hex()] for p in m.walk() if not p.is_multipart()]
orig = open(sys.argv[2], "rb").read()
got = open(sys.argv[3], "rb").read()
d = dkim.DKIM(got)
n = len([h for h in d.headers if h[0].lower() == b"dkim-signature"])
print(json.dumps({"orig": leaves(orig), "got": leaves(got), "dkim": [bool(d.verify(idx=i, dnsfunc=dnsfunc)) for i in range(n)]}))
`;

test("8-bit submitted mail reaches an MX without 8BITMIME as 7-bit, decoded text equal, DKIM (RSA + Ed25519) valid", { skip: postfixUnavailable() ?? (process.getuid?.() !== 0 ? "port 25 needs root" : undefined) }, async (t) => {
  const dumpDir = await makePeerDir("eightbit-dump");
  t.after(() => fs.rm(dumpDir, { recursive: true, force: true }));
  // -8: smtp-sink does not announce 8BITMIME.
  const sink = await startSmtpSink({ host: "127.0.0.91", port: 25, dumpDir, args: ["-8"], hostname: "mx.remote.test" });
  t.after(() => sink.stop());
  const h = await startHarness({ domains: ["freehold.test"], users: [{ address: "alice@freehold.test", password: PW }] });
  t.after(() => h.close());
  h.zone["remote.test"] = { MX: [{ exchange: "mx.remote.test", priority: 10 }] };
  h.zone["mx.remote.test"] = { A: ["127.0.0.91"] };
  await h.activateDkim("freehold.test");

  const raw = Buffer.from(MESSAGE, "utf8");
  const c = await authed(h, "alice@freehold.test", PW);
  assert.equal((await c.cmd("MAIL FROM:<alice@freehold.test> BODY=8BITMIME")).code, 250);
  assert.equal((await c.cmd("RCPT TO:<bob@remote.test>")).code, 250);
  assert.equal((await c.cmd("DATA")).code, 354);
  c.write(Buffer.concat([raw, Buffer.from(".\r\n")]));
  const end = await c.reply();
  c.close();
  assert.equal(end.code, 250, end.raw);

  assert.ok(await sink.waitForMessages(1, 20_000), "delivered to the 7-bit MX");
  assert.ok(await waitUntil(async () => (await h.services.storage.store.queue.list()).length === 0, 5000), "the entry left the queue (no 5.6.3 bounce)");
  const [dump] = await sink.dumps();
  const text = await fs.readFile(dump);
  // smtp-sink's dump starts with its own envelope lines (X-Client-Addr, X-Rcpt-To …); our
  // message begins with the first DKIM-Signature we prepended.
  const start = text.indexOf("DKIM-Signature:");
  assert.ok(start >= 0, text.toString("latin1"));
  const got = text.subarray(start);
  assert.ok(got.every((b) => b < 0x80), "7-bit on the wire");
  assert.match(got.toString("latin1"), /^Content-Transfer-Encoding: quoted-printable\r?$/m);

  const dir = await makePeerDir("eightbit-cmp");
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  await fs.writeFile(`${dir}/orig.eml`, raw);
  await fs.writeFile(`${dir}/got.eml`, got);
  const zoneTxt: Record<string, string> = {};
  for (const k of h.services.dkim.list("freehold.test")) zoneTxt[dkimRecordName(k)] = dkimTxtRecord(k);
  const py = spawnSync("/usr/bin/python3", ["-c", CHECK, JSON.stringify(zoneTxt), `${dir}/orig.eml`, `${dir}/got.eml`]);
  assert.equal(py.status, 0, py.stderr.toString());
  const r = JSON.parse(py.stdout.toString()) as { orig: string[][]; got: string[][]; dkim: boolean[] };
  assert.equal(r.orig.length, 2);
  assert.deepEqual(r.got, r.orig, "every part decodes to the bytes submitted");
  assert.deepEqual(r.dkim, [true, true], "both signatures verify after the 7-bit hop");
});
