import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { indexMessage, MAX_DEPTH, MAX_PARTS, type MessageIndex, type MimePart } from "./structure.ts";
import { allPartPaths, parseSectionSpec, sectionBytes } from "./section.ts";
import { buildBodyStructure, bodyStructureValue } from "./bodystructure.ts";
import { buildEnvelope, envelopeValue } from "./envelope.ts";
import { renderImap } from "./imap-string.ts";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const mimeDir = path.resolve(repoRoot, "../shared/vectors/mime");

const sec = (buf: Buffer, idx: MessageIndex, s: string): string | null => {
  const b = sectionBytes(buf, idx, parseSectionSpec(s)!);
  return b === null ? null : b.toString("latin1");
};

/** Ranges nest, stay in bounds and children are ordered. */
function checkInvariants(idx: MessageIndex): void {
  const walk = (p: MimePart, lo: number, hi: number): void => {
    assert.ok(lo <= p.headerStart && p.headerStart <= p.headerEnd && p.headerEnd === p.bodyStart && p.bodyStart <= p.bodyEnd && p.bodyEnd <= hi);
    let prev = p.bodyStart;
    for (const c of p.children) {
      assert.ok(c.headerStart >= prev, "children ordered and inside the body");
      walk(c, p.bodyStart, p.bodyEnd);
      prev = c.bodyEnd;
    }
    if (p.kind === "message") assert.equal(p.children.length, 1);
  };
  walk(idx.root, 0, idx.size);
}

// Built from pieces so the expected slices are known without parsing.
const H = "From: a@b.test\r\nSubject: nested\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n";
const PRE = "preamble\r\n";
const P1H = "Content-Type: text/plain\r\n\r\n";
const P1B = "hello\r\nworld";
const P2H = "Content-Type: message/rfc822\r\n\r\n";
const IH = "Subject: inner\r\nContent-Type: multipart/alternative; boundary=YY\r\n\r\n";
const I1H = "Content-Type: text/plain\r\n\r\n";
const I1B = "inner one";
const I2H = "Content-Type: text/html\r\n\r\n";
const I2B = "<p>two</p>";
const INNER_BODY = `--YY\r\n${I1H}${I1B}\r\n--YY\r\n${I2H}${I2B}\r\n--YY--\r\n`;
const P2B = IH + INNER_BODY;
const BODY = `${PRE}--XX\r\n${P1H}${P1B}\r\n--XX\r\n${P2H}${P2B}\r\n--XX--\r\nepilogue\r\n`;
const MSG = H + BODY;

test("every section is the expected slice of the stored bytes (nested message/rfc822)", () => {
  const buf = Buffer.from(MSG, "latin1");
  const idx = indexMessage(buf);
  checkInvariants(idx);
  assert.equal(sec(buf, idx, ""), MSG);
  assert.equal(sec(buf, idx, "HEADER"), H);
  assert.equal(sec(buf, idx, "TEXT"), BODY);
  assert.equal(sec(buf, idx, "1"), P1B);
  assert.equal(sec(buf, idx, "1.MIME"), P1H);
  assert.equal(sec(buf, idx, "2"), P2B);
  assert.equal(sec(buf, idx, "2.MIME"), P2H);
  assert.equal(sec(buf, idx, "2.HEADER"), IH);
  assert.equal(sec(buf, idx, "2.TEXT"), INNER_BODY);
  assert.equal(sec(buf, idx, "2.1"), I1B);
  assert.equal(sec(buf, idx, "2.1.MIME"), I1H);
  assert.equal(sec(buf, idx, "2.2"), I2B);
  assert.equal(sec(buf, idx, "2.HEADER.FIELDS (SUBJECT)"), "Subject: inner\r\n\r\n");
  assert.equal(sec(buf, idx, "HEADER.FIELDS.NOT (Content-Type From)"), "Subject: nested\r\n\r\n");
  assert.equal(sec(buf, idx, "3"), null);
  assert.equal(sec(buf, idx, "1.2"), null);
  assert.deepEqual(allPartPaths(idx).map((p) => p.join(".")), ["1", "2", "2.1", "2.2"]);
  const bs = renderImap(bodyStructureValue(buildBodyStructure(buf, idx))).toString("latin1");
  assert.equal(
    bs,
    `(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" ${P1B.length} 1 NIL NIL NIL NIL)` +
      `("message" "rfc822" NIL NIL NIL "7bit" ${P2B.length} (NIL "inner" NIL NIL NIL NIL NIL NIL NIL NIL) ` +
      `(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" ${I1B.length} 0 NIL NIL NIL NIL)` +
      `("text" "html" ("charset" "us-ascii") NIL NIL "7bit" ${I2B.length} 0 NIL NIL NIL NIL) "alternative" ("boundary" "YY") NIL NIL NIL) ` +
      `${P2B.split("\n").length - 1} NIL NIL NIL NIL) "mixed" ("boundary" "XX") NIL NIL NIL)`,
  );
});

test("LF-only line endings give the same tree; trace fields before the blob shift every offset", () => {
  const crlf = Buffer.from(MSG, "latin1");
  const lf = Buffer.from(MSG.replace(/\r\n/g, "\n"), "latin1");
  const a = indexMessage(crlf);
  const b = indexMessage(lf);
  assert.deepEqual(allPartPaths(a), allPartPaths(b));
  for (const p of allPartPaths(a)) {
    assert.equal(sec(crlf, a, p.join("."))!.replace(/\r\n/g, "\n"), sec(lf, b, p.join(".")));
  }
  const trace = Buffer.from("Received: from x by y; Mon, 1 Jan 2026 00:00:00 +0000\r\nAuthentication-Results: y; spf=pass\r\n");
  const stored = Buffer.concat([trace, crlf]);
  const c = indexMessage(stored);
  assert.equal(c.root.headerEnd, a.root.headerEnd + trace.length);
  for (const p of allPartPaths(a)) assert.equal(sec(stored, c, p.join(".")), sec(crlf, a, p.join(".")));
  assert.equal(sec(stored, c, "HEADER.FIELDS (Subject)"), "Subject: nested\r\n\r\n");
});

test("deep nesting stops at MAX_DEPTH without throwing", () => {
  const n = MAX_DEPTH + 50;
  const buf = Buffer.from("Content-Type: message/rfc822\n\n".repeat(n) + "body\n");
  const idx = indexMessage(buf);
  assert.equal(idx.limited, true);
  checkInvariants(idx);
  assert.ok(renderImap(bodyStructureValue(buildBodyStructure(buf, idx))).length > 0);
});

test("part count stops at MAX_PARTS; the rest stays in the multipart's body", () => {
  const body = "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n".repeat(MAX_PARTS + 100) + "--b--\r\n";
  const buf = Buffer.from(`Content-Type: multipart/mixed; boundary=b\r\n\r\n${body}`);
  const idx = indexMessage(buf);
  assert.equal(idx.limited, true);
  assert.ok(idx.root.children.length < MAX_PARTS);
  assert.equal(idx.root.bodyEnd, buf.length);
  checkInvariants(idx);
});

test("stays linear on a huge header-like body (colon-less lines inside message/rfc822)", () => {
  const lines = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo".repeat(2) + "\r\n";
  const buf = Buffer.from(`Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n\r\n${lines.repeat(60_000)}--x--\r\n`);
  const t = performance.now();
  const idx = indexMessage(buf);
  buildBodyStructure(buf, idx);
  // About 4 MB; quadratic scanning took minutes, linear takes well under a second.
  assert.ok(performance.now() - t < 5000, `took ${performance.now() - t} ms`);
  assert.equal(idx.root.children[0].children[0].headerEnd, buf.length - "\r\n--x--\r\n".length);
});

test("vectors: every .eml indexes with consistent ranges", (t) => {
  const files = ["rfc", "thirdparty", "malformed"].flatMap((d) =>
    fs.existsSync(path.join(mimeDir, d)) ? fs.readdirSync(path.join(mimeDir, d)).filter((f) => f.endsWith(".eml")).map((f) => path.join(mimeDir, d, f)) : [],
  );
  if (files.length === 0) {
    if (process.env.CI === "true") assert.fail(`MIME vectors missing at ${mimeDir}`);
    console.log(`SKIPPED MIME vectors: ${mimeDir} missing`);
    t.skip("vectors missing");
    return;
  }
  for (const f of files) {
    const buf = fs.readFileSync(f);
    const idx = indexMessage(buf);
    checkInvariants(idx);
    for (const p of allPartPaths(idx)) assert.notEqual(sectionBytes(buf, idx, { path: p, text: "" }), null, `${f} ${p.join(".")}`);
  }
  console.log(`MIME vectors: ${files.length} messages indexed`);
});

// Message bytes from a MIME-ish alphabet: boundaries, headers, line endings, NUL and 8-bit.
const piece = fc.constantFrom(
  "Content-Type: multipart/mixed; boundary=b\r\n",
  "Content-Type: multipart/digest; boundary=\"b\"\n",
  "Content-Type: multipart/alternative; boundary=bb\n",
  "Content-Type: message/rfc822\r\n",
  "Content-Type: text/plain; charset=\"utf-8\"; name*0=a; name*1*=b\n",
  "Content-Type: ;;\n",
  "Content-Disposition: attachment; filename=x\n",
  "Content-Transfer-Encoding: base64\n",
  "Content-Language: en, fr\n",
  "MIME-Version: 1.0\n",
  "From: \"A\" <a@b>, g: c@d;, (x) e\n",
  "Subject: =?utf-8?q?x?=\n",
  " folded\n",
  "--b\r\n",
  "--b--\n",
  "--bb\n",
  "--",
  "\r\n",
  "\n",
  "\r",
  "text",
  ":",
  "\u0000",
  "\u00ff\u00e9",
  "\"",
  "(",
  "<",
);

test("fuzz: malformed messages never throw and keep ranges consistent", () => {
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 60 }), (pieces) => {
      const buf = Buffer.from(pieces.join(""), "latin1");
      const idx = indexMessage(buf);
      checkInvariants(idx);
      const bs = buildBodyStructure(buf, idx);
      renderImap(bodyStructureValue(bs));
      renderImap(bodyStructureValue(bs, false));
      renderImap(envelopeValue(buildEnvelope(buf, idx.root.headerStart, idx.root.headerEnd)));
      assert.deepEqual(JSON.parse(JSON.stringify(bs)), bs);
      for (const p of allPartPaths(idx)) {
        for (const text of ["", "MIME", "HEADER", "TEXT"] as const) sectionBytes(buf, idx, { path: p, text });
        sectionBytes(buf, idx, { path: p, text: "HEADER.FIELDS", fields: ["From"] });
      }
    }),
    { numRuns: 500 },
  );
});
