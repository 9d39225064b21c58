import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeQuotedPrintable } from "./transfer-decode.ts";

const qp = (s: string): string => decodeQuotedPrintable(Buffer.from(s, "latin1")).toString("latin1");

test("quoted-printable: RFC 2045 §6.7 rule 3, trailing white space is deleted, encoded white space kept", () => {
  assert.equal(qp("hello  \r\nworld"), "hello\r\nworld");
  assert.equal(qp("a\t \t\nb"), "a\nb", "LF-only line ends too");
  assert.equal(qp("end \t"), "end", "at the end of the data");
  assert.equal(qp("x=20\r\ny=09\r\n"), "x \r\ny\t\r\n");
  assert.equal(qp("in  the middle"), "in  the middle");
  assert.equal(qp("soft=  \r\nbreak"), "softbreak", "white space after a soft break's =");
  assert.equal(qp("a =\r\nb"), "a b", "white space before a soft break is not at a line end");
  assert.equal(qp("=3D=3d=4"), "===4", "a broken escape stays literal");
});
