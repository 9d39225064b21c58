// The WebDAV XML reader: namespaces resolved, entities decoded, DOCTYPE refused; fuzzed with an
// alphabet drawn from the grammar — any input either parses or throws XmlError, nothing else.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DAV, XmlError, document, el, parseXml } from "./xml.ts";

test("prefixes and default namespaces resolve; text entities decode", () => {
  const a = parseXml(`<D:propfind xmlns:D="DAV:"><D:prop><x:y xmlns:x="urn:x">a &amp; b &#233;</x:y></D:prop></D:propfind>`);
  const b = parseXml(`<propfind xmlns="DAV:"><prop><y xmlns="urn:x">a &amp; b &#233;</y></prop></propfind>`);
  for (const r of [a, b]) {
    assert.equal(r.ns, DAV);
    assert.equal(r.local, "propfind");
    assert.equal(r.children[0].children[0].ns, "urn:x");
    assert.equal(r.children[0].children[0].text, "a & b é");
  }
});

test("DOCTYPE, entities, undeclared prefixes and broken XML are refused", () => {
  for (const bad of [
    `<!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>`,
    `<x:a/>`,
    `<a><b></a>`,
    ``,
    `<a/><b/>`,
  ]) assert.throws(() => parseXml(bad), XmlError, bad);
});

test("output escapes text and declares unknown namespaces", () => {
  const out = document(el(DAV, "multistatus", [el(DAV, "href", "/a&<b>"), el("urn:z", "p")]));
  assert.match(out, /<d:href>\/a&amp;&lt;b&gt;<\/d:href>/);
  assert.match(out, /<x0:p xmlns:x0="urn:z"\/>/);
  assert.equal(parseXml(out.replace(/^<\?xml[^>]*\?>\n/, "")).children[0].text, "/a&<b>");
});

test("regression (fuzzer, CI): an unterminated tag the validator passes is an XmlError", () => {
  for (const body of ["<prop/", "<d:prop xmlns:d=\"DAV:\"/"]) assert.throws(() => parseXml(body), XmlError);
});

test("fuzz: any input parses or throws XmlError", () => {
  const piece = fc.constantFrom("<", ">", "/", "d:", "xmlns:d=\"DAV:\"", " ", "prop", "&amp;", "&", "\"", "=", "<!DOCTYPE", "<![CDATA[", "]]>", "<?xml?>", "é", "\u0000");
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 40 }), (parts) => {
      try {
        parseXml(parts.join(""));
      } catch (e) {
        if (!(e instanceof XmlError)) throw e;
      }
    }),
    { numRuns: 2000 },
  );
});
