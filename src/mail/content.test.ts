import { test } from "node:test";
import assert from "node:assert/strict";
import { parseContentType, parseDisposition, parseLanguage, parseTransferEncoding } from "./content.ts";

test("Content-Type: type, subtype, parameters (RFC 2045 §5.1), case kept", () => {
  assert.deepEqual(parseContentType(` Text/HTML (c); Charset="utf-8" ; format=flowed`), {
    valid: true,
    type: "Text",
    subtype: "HTML",
    params: [
      ["Charset", "utf-8"],
      ["format", "flowed"],
    ],
  });
  // A broken parameter is skipped up to the next ";".
  assert.deepEqual(parseContentType(`message/external-body; access-type=x server="a;b" ; expiration=1`).params, [
    ["access-type", "x"],
    ["expiration", "1"],
  ]);
  assert.deepEqual(parseContentType("text"), { valid: false, type: "text", subtype: "", params: [] });
  assert.deepEqual(parseContentType("multipart/mixed\tboundary=x"), { valid: false, type: "", subtype: "", params: [] });
  assert.deepEqual(parseContentType(";"), { valid: false, type: "", subtype: "", params: [] });
});

test("RFC 2231: continuations joined, extended values kept encoded under name*, after plain ones", () => {
  assert.deepEqual(parseContentType(`application/x; name*1="b.bin"; name*0=a; title*=us-ascii'en'%20x; z=1`).params, [
    ["z", "1"],
    ["name", "ab.bin"],
    ["title*", "us-ascii'en'%20x"],
  ]);
  assert.deepEqual(parseDisposition(`attachment; filename*0*=utf-8''%E2%82; filename*1=AC`), {
    type: "attachment",
    params: [["filename*", "utf-8''%E2%82AC"]],
  });
});

test("Content-Transfer-Encoding and Content-Language", () => {
  assert.equal(parseTransferEncoding(" Quoted-Printable (c) "), "Quoted-Printable");
  assert.equal(parseTransferEncoding("8 bit"), null);
  assert.equal(parseTransferEncoding(""), null);
  assert.deepEqual(parseLanguage("en (English), de-AT"), ["en", "de-AT"]);
});
