import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import fc from "fast-check";
import { bodyNeedsDowngrade, downgradeTo7bit, encodeQuotedPrintable } from "./transfer-encoding.ts";

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
