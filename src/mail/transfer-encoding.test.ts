import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import fc from "fast-check";
import { bodyNeedsDowngrade, decodeQuotedPrintable, downgradeTo7bit, encodeQuotedPrintable, MAX_LINE_OCTETS } from "./transfer-encoding.ts";

// An independent decoder (nodemailer's) to check that what we encode decodes to the input.
const libqp = createRequire(import.meta.url)("libqp") as { decode(s: string): Buffer };

const sevenBit = (b: Buffer) => b.every((x) => x < 0x80);
const maxLine = (s: string) => Math.max(...s.split("\r\n").map((l) => l.length));

test("quoted-printable round-trips any bytes, 7-bit, lines of at most 76 characters", () => {
  const lineBytes = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));
  fc.assert(
    fc.property(fc.array(lineBytes, { minLength: 1, maxLength: 6 }), (lines) => {
      const data = Buffer.concat(lines.flatMap((l, i) => (i === 0 ? [l] : [Buffer.from("\r\n"), l])));
      const qp = encodeQuotedPrintable(data);
      assert.ok(sevenBit(Buffer.from(qp, "latin1")));
      assert.ok(maxLine(qp) <= 76, qp);
      assert.ok(!/[ \t]\r\n/.test(qp) && !/[ \t]$/.test(qp), "no whitespace at the end of an encoded line");
      assert.deepEqual(libqp.decode(qp), data);
    }),
    { numRuns: 300 },
  );
});

test("an 8-bit text/plain message becomes quoted-printable with MIME-Version; the text decodes equal", () => {
  const text = "Grüße aus Köln — ça va? ".repeat(8) + "\r\nZweite Zeile\r\n";
  const msg = Buffer.from(`From: a@x.test\r\nSubject: hi\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${text}`, "utf8");
  assert.ok(bodyNeedsDowngrade(msg));
  const r = downgradeTo7bit(msg);
  assert.ok(r.changed);
  assert.ok(sevenBit(r.message));
  const s = r.message.toString("latin1");
  assert.match(s, /^Content-Transfer-Encoding: quoted-printable\r\n/m);
  assert.equal(s.match(/Content-Transfer-Encoding/g)?.length, 1);
  assert.match(s, /^MIME-Version: 1\.0\r\n/m);
  assert.match(s, /^Subject: hi\r\n/m);
  const body = s.slice(s.indexOf("\r\n\r\n") + 4);
  assert.equal(libqp.decode(body).toString("utf8"), text);
  assert.ok(!bodyNeedsDowngrade(r.message));
});

test("multipart: 8-bit parts converted (text → QP, other → base64), 7-bit parts and delimiters byte-identical", () => {
  const att = Buffer.from([0xff, 0x00, 0x10, 0x80, 0x0d, 0x0a, 0x41]);
  const msg = Buffer.concat([
    Buffer.from(
      'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="=_b 1"\r\nContent-Transfer-Encoding: 8bit\r\n\r\npreamble\r\n' +
        "--=_b 1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nplain ascii\r\n" +
        "--=_b 1\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n<p>naïve</p>\r\n" +
        "--=_b 1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n",
      "utf8",
    ),
    att,
    Buffer.from("\r\n--=_b 1--\r\nepilogue\r\n"),
  ]);
  const r = downgradeTo7bit(msg);
  assert.ok(r.changed && sevenBit(r.message));
  const s = r.message.toString("latin1");
  assert.match(s, /^Content-Type: multipart\/mixed; boundary="=_b 1"\r\nContent-Transfer-Encoding: 7bit\r\n/m);
  assert.ok(s.includes("--=_b 1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nplain ascii\r\n--=_b 1\r\n"), "7-bit part unchanged");
  const html = /Content-Type: text\/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n([\s\S]*?)\r\n--=_b 1\r\n/.exec(s);
  assert.ok(html, s);
  assert.equal(libqp.decode(html[1]).toString("utf8"), "<p>naïve</p>");
  const bin = /Content-Transfer-Encoding: base64\r\n\r\n([\s\S]*?)\r\n--=_b 1--\r\nepilogue\r\n$/.exec(s);
  assert.ok(bin, s);
  assert.deepEqual(Buffer.from(bin[1], "base64"), att);
});

test("message/rfc822 inside: the inner message's 8-bit body is converted, the wrapper labelled 7bit", () => {
  const msg = Buffer.from(
    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
      "Subject: inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nÅngström\r\n--b--\r\n",
    "utf8",
  );
  const r = downgradeTo7bit(msg);
  assert.ok(r.changed && sevenBit(r.message));
  const s = r.message.toString("latin1");
  assert.match(s, /Content-Type: message\/rfc822\r\nContent-Transfer-Encoding: 7bit\r\n\r\nSubject: inner\r\nContent-Type: text\/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=C3=85ngstr=C3=B6m\r\n--b--/);
});

test("7-bit messages and 8-bit header fields are left as they are", () => {
  const plain = Buffer.from("Subject: x\r\n\r\nhello\r\n");
  assert.deepEqual(downgradeTo7bit(plain), { message: plain, changed: false });
  const utf8Header = Buffer.from("Subject: Grüße\r\n\r\nhello\r\n", "utf8");
  const r = downgradeTo7bit(utf8Header);
  assert.equal(r.changed, false);
  assert.deepEqual(r.message, utf8Header);
});

// Lines over 998 octets (RFC 5321 §4.5.3.1.6): re-encoded so a hop that enforces the limit takes
// the message and one that folds lines cannot break our signature (issue 18 point 3).
const lines = (b: Buffer) => b.toString("latin1").split("\r\n");

test("a 7-bit text/html part with a 5,000-octet line becomes quoted-printable, every line ≤ 76, decoding equal", () => {
  const html = "<p>" + "newsletter ".repeat(455) + "</p>\r\n<p>short</p>\r\n";
  const msg = Buffer.from(`From: a@x.test\r\nSubject: long\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n${html}`, "latin1");
  assert.ok(bodyNeedsDowngrade(msg, { longLinesOnly: true }));
  assert.ok(!bodyNeedsDowngrade(Buffer.from("Subject: x\r\n\r\n" + "y".repeat(998) + "\r\n")), "998 octets is within the limit");
  assert.ok(bodyNeedsDowngrade(Buffer.from("Subject: x\r\n\r\n" + "y".repeat(999) + "\r\n")));
  const r = downgradeTo7bit(msg, { longLinesOnly: true });
  assert.ok(r.changed);
  assert.ok(lines(r.message).every((l) => l.length <= 76), "no line over 76");
  const s = r.message.toString("latin1");
  assert.match(s, /^Content-Transfer-Encoding: quoted-printable\r\n/m);
  assert.equal(libqp.decode(s.slice(s.indexOf("\r\n\r\n") + 4)).toString("latin1"), html);
});

test("longLinesOnly: only the part with a long line is re-encoded; an 8-bit part and the multipart's label stay", () => {
  const msg = Buffer.from(
    'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="b"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n' +
      "--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße\r\n" +
      "--b\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n<p>" + "x".repeat(1500) + "</p>\r\n" +
      "--b--\r\n",
    "utf8",
  );
  const r = downgradeTo7bit(msg, { longLinesOnly: true });
  assert.ok(r.changed);
  const s = r.message.toString("latin1");
  assert.ok(lines(r.message).every((l) => l.length <= MAX_LINE_OCTETS));
  assert.ok(s.includes(Buffer.from("Content-Transfer-Encoding: 8bit\r\n\r\nGrüße\r\n", "utf8").toString("latin1")), "the 8-bit part is byte-identical");
  assert.match(s, /^Content-Type: multipart\/alternative; boundary="b"\r\nContent-Transfer-Encoding: 8bit\r\n/m, "8-bit remains inside: the label stays 8bit");
  assert.match(s, /Content-Type: text\/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n/);
  // Without longLinesOnly (submission) both parts are converted and the multipart becomes 7bit.
  const all = downgradeTo7bit(msg);
  assert.ok(sevenBit(all.message) && lines(all.message).every((l) => l.length <= 76));
  assert.match(all.message.toString("latin1"), /^Content-Type: multipart\/alternative; boundary="b"\r\nContent-Transfer-Encoding: 7bit\r\n/m);
});

test("over-long quoted-printable and base64 lines are encoded again in the same encoding, decoding equal", () => {
  const data = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7) % 256));
  const b64 = Buffer.from(`Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n${data.toString("base64")}\r\n`, "latin1");
  const rb = downgradeTo7bit(b64, { longLinesOnly: true });
  assert.ok(rb.changed && lines(rb.message).every((l) => l.length <= 76));
  const sb = rb.message.toString("latin1");
  assert.deepEqual(Buffer.from(sb.slice(sb.indexOf("\r\n\r\n") + 4), "base64"), data);
  const qpText = "caf=C3=A9 " + "word ".repeat(400) + "=\r\nsoft-broken tail\r\nsecond line\r\n";
  const qp = Buffer.from(`Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${qpText}`, "latin1");
  const rq = downgradeTo7bit(qp, { longLinesOnly: true });
  assert.ok(rq.changed && lines(rq.message).every((l) => l.length <= 76));
  const sq = rq.message.toString("latin1");
  assert.deepEqual(libqp.decode(sq.slice(sq.indexOf("\r\n\r\n") + 4)), libqp.decode(qpText));
  assert.deepEqual(decodeQuotedPrintable(Buffer.from(qpText, "latin1")), libqp.decode(qpText), "our decoder agrees with libqp");
});

test("decodeQuotedPrintable inverts encodeQuotedPrintable for any bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2000 }), (a) => {
      const data = Buffer.from(a);
      assert.deepEqual(decodeQuotedPrintable(Buffer.from(encodeQuotedPrintable(data), "latin1")), data);
    }),
    { numRuns: 200 },
  );
});
