// fast-check generator of MIME messages shaped like real mail but bent in the ways real mail is:
// nested multiparts with boundaries that are prefixes of each other or reused, missing close
// delimiters, garbage after delimiters, cut-short headers, message/rfc822 parts, digests, folded
// and odd-case header fields, LF or CRLF line endings.
import fc from "fast-check";

const boundaries = ["b", "bb", "b-1", "=_x", "b", "b "];

const textLine = fc.constantFrom("hello", "", "--b", "--bb--", "-- b", "--b \t", "line with spaces  ", "x=3D1", "From: not a header", "\u00e9t\u00e9", "nul\u0000byte", "lone\rcr");

const extraHeader = fc.constantFrom(
  "From: A <a@x.test>",
  "From: \"Q, R\" <q@x.test>, grp: m@x.test;",
  "To: b@y.test (Bee)",
  "Cc: undisclosed-recipients:;",
  "Subject: hello\n  folded",
  "Subject: =?utf-8?q?caf=C3=A9?=",
  "Date: Mon, 1 Jan 2024 10:00:00 +0000",
  "Message-ID: <m@x.test>",
  "In-Reply-To: <r@x.test>",
  "Content-Transfer-Encoding: base64",
  "Content-Transfer-Encoding: 8bit",
  "Content-Disposition: attachment; filename=\"a b.txt\"",
  "Content-Disposition: inline",
  "Content-ID: <c@x>",
  "Content-Language: en",
  "Content-Description: a part",
  "MIME-Version: 1.0",
  "X-Other: value",
  "no colon line",
  "To: \"a\\\"b\" <x@y>, <@r1,@r2:u@h>, bare, two words, <>, @d.test, x@[1.2.3.4]",
  "Reply-To: (c) ann@x.test (Ann B)",
  "Sender: =?utf-8?q?S?= <s@x.test>",
  "Bcc: g1:;, g2: (c) a@b (d);",
  "Subject: \u0000nul and \u00ff8bit\ttab",
  "Date: \tMon,\n 1 Jan 2024",
  "Content-Transfer-Encoding: 8 bit",
  "Content-Disposition: attachment; filename*=utf-8''%E2%82%AC; size=3",
  "Content-Language: en (English), de-AT",
  "Content-Location: http://x.test/a\n b",
  "Content-MD5: abc",
  "Content-Description:  spaced   out  ",
);

const leafType = fc.constantFrom(
  "",
  "Content-Type: text/plain",
  "Content-Type: text/plain; charset=utf-8; format=flowed",
  "Content-Type: TEXT/HTML; CHARSET=\"us-ascii\"",
  "Content-Type: image/png; name=x.png",
  "Content-Type: application/octet-stream; name*0=a; name*1=b",
  "Content-Type: message/partial; id=1",
  "Content-Type: text",
  "Content-Type: ;",
  "Content-Type: text/plain (comment); charset=\"a;b\"",
  "Content-Type: multipart/mixed",
  "Content-Type: message/rfc822; name=x",
  "Content-Type: text/plain;\n\tcharset=us-ascii;\n\tname*0*=utf-8''a%20; name*1=b",
);

type Node = { kind: "leaf"; ct: string; headers: string[]; lines: string[] } | { kind: "multipart"; sub: string; b: string; headers: string[]; preamble: string[]; parts: Node[]; close: boolean; junk: string; epilogue: string[] } | { kind: "message"; headers: string[]; inner: Node };

const leaf: fc.Arbitrary<Node> = fc.record({
  kind: fc.constant("leaf" as const),
  ct: leafType,
  headers: fc.array(extraHeader, { maxLength: 3 }),
  lines: fc.array(textLine, { maxLength: 4 }),
});

const { node } = fc.letrec<{ node: Node }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    fc.record({
      kind: fc.constant("multipart" as const),
      sub: fc.constantFrom("mixed", "alternative", "digest", "related"),
      b: fc.constantFrom(...boundaries),
      headers: fc.array(extraHeader, { maxLength: 2 }),
      preamble: fc.array(textLine, { maxLength: 2 }),
      parts: fc.array(tie("node"), { minLength: 0, maxLength: 3 }),
      close: fc.boolean(),
      junk: fc.constantFrom("", "", " ", "garbage", "--"),
      epilogue: fc.array(textLine, { maxLength: 2 }),
    }),
    fc.record({
      kind: fc.constant("message" as const),
      headers: fc.array(extraHeader, { maxLength: 2 }),
      inner: tie("node"),
    }),
  ),
}));

function render(n: Node, inDigest: boolean): string[] {
  if (n.kind === "leaf") {
    const h = [...(n.ct ? [n.ct] : []), ...n.headers];
    return [...h, "", ...n.lines];
  }
  if (n.kind === "message") {
    const h = inDigest ? n.headers : ["Content-Type: message/rfc822", ...n.headers];
    return [...h, "", ...render(n.inner, false)];
  }
  const ct = n.b === "=_x" ? `Content-Type: multipart/${n.sub}; boundary*0="=_"; boundary*1=x` : `Content-Type: multipart/${n.sub}; boundary="${n.b}"`;
  const out = [ct, ...n.headers, "", ...n.preamble];
  for (const p of n.parts) out.push(`--${n.b}${n.junk}`, ...render(p, n.sub === "digest"));
  if (n.close) out.push(`--${n.b}--`, ...n.epilogue);
  return out;
}

/** A whole message: a top node with MIME-Version, in LF or CRLF, with or without a final newline. */
export const mimeMessage: fc.Arbitrary<Buffer> = fc
  .record({ top: node, crlf: fc.boolean(), finalNewline: fc.boolean(), mime: fc.boolean() })
  .map(({ top, crlf, finalNewline, mime }) => {
    const lines = [...(mime ? ["MIME-Version: 1.0"] : []), ...render(top, false)];
    // Folded header values above contain "\n" too; every line break gets the message's ending.
    const text = lines.join("\n") + (finalNewline ? "\n" : "");
    return Buffer.from(crlf ? text.replace(/\n/g, "\r\n") : text, "latin1");
  });
