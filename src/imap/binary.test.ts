import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { indexMessage } from "../mail/structure.ts";
import { binarySection, UnknownCte } from "./binary.ts";

const msg = (s: string): Buffer => Buffer.from(s.replace(/\n/g, "\r\n"), "latin1");

test("BINARY sections: leaves decoded, containers whole with leaves relabelled binary", () => {
  const m = msg('Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Transfer-Encoding: base64\n\naGk=\n--b\nContent-Type: multipart/alternative; boundary=c\n\n--c\nContent-Transfer-Encoding: Quoted-Printable (comment)\n\na=3Db  \n--c--\n--b--\n');
  const ix = indexMessage(m);
  assert.equal(binarySection(m, ix, [1]).toString(), "hi");
  assert.equal(binarySection(m, ix, [2, 1]).toString(), "a=b");
  // The same byte range as BODY[2] (the structure index's boundary rules), leaves decoded.
  assert.equal(binarySection(m, ix, [2]).toString(), "--c\r\nContent-Transfer-Encoding: binary\r\n\r\na=b\r\n--c--\r\n");
  assert.equal(binarySection(m, ix, [3]).length, 0, "no such part: empty");
  const whole = binarySection(m, ix, []).toString();
  assert.match(whole, /^Content-Type: multipart\/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: binary\r\n\r\nhi\r\n--b\r\n/);
  assert.ok(whole.endsWith("--c--\r\n--b--\r\n"));
  const unknown = msg("Content-Transfer-Encoding: x-uuencode\n\nbegin\n");
  assert.throws(() => binarySection(unknown, indexMessage(unknown), []), UnknownCte);
});

test("property: BINARY of any section of any message returns data or UnknownCte, nothing else", () => {
  const unit = fc.constantFrom("--b", "--b--", "\r\n", "Content-Type: multipart/mixed; boundary=b", "Content-Type: message/rfc822", "Content-Transfer-Encoding: base64", "Content-Transfer-Encoding: quoted-printable", "Content-Transfer-Encoding: x-y", ": ", "=4", "=\r\n", "aGk=", "x ", "\t");
  fc.assert(
    fc.property(fc.array(unit, { maxLength: 40 }), fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 3 }), (parts, path) => {
      const m = Buffer.from(parts.join(""), "latin1");
      try {
        binarySection(m, indexMessage(m), path);
      } catch (e) {
        assert.ok(e instanceof UnknownCte, String(e));
      }
    }),
    { numRuns: 2000 },
  );
});
