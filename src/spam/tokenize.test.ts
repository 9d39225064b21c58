import { test } from "node:test";
import assert from "node:assert/strict";
import { extractFeatures, htmlText, MAX_PARTS, registeredDomain } from "./tokenize.ts";

const msg = (head: string, body: string) => Buffer.from(`${head.replace(/\n/g, "\r\n")}\r\n\r\n${body.replace(/\n/g, "\r\n")}`);

test("tokens from subject, From, decoded quoted-printable text and URL hosts", () => {
  const f = extractFeatures(
    msg(
      "From: Seller <Deals@Shop.Example>\nSubject: =?utf-8?q?Gro=C3=9Fe_Angebote?=\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable",
      "Buy now at https://www.cheap.example.co.uk/x?y=1 and caf=C3=A9 deals\n",
    ),
  );
  assert.equal(f.fromAddress, "deals@shop.example");
  assert.equal(f.fromDomain, "shop.example");
  assert.ok(f.tokens.includes("s:große"), f.tokens.join(" "));
  assert.ok(f.tokens.includes("café"));
  assert.ok(f.tokens.includes("u:www.cheap.example.co.uk"));
  assert.ok(f.tokens.includes("u:example.co.uk"));
  assert.deepEqual(f.urlHosts, ["www.cheap.example.co.uk"]);
  assert.equal(f.limited, false);
});

test("HTML: tags dropped, style/script contents skipped, href hosts kept, tag tokens", () => {
  const f = extractFeatures(
    msg(
      "From: a@b.example\nContent-Type: text/html",
      '<html><style>.x{color:red}</style><body><a href="http://track.example.net/c">Click</a> <img src="x"> here&nbsp;now</body></html>',
    ),
  );
  assert.ok(f.tokens.includes("click"));
  assert.ok(f.tokens.includes("now"));
  assert.ok(!f.tokens.includes("color"));
  assert.ok(f.tokens.includes("tag:img") && f.tokens.includes("tag:a"));
  assert.ok(f.urlHosts.includes("track.example.net"));
  assert.equal(htmlText("a&lt;b&#65;", new Set()), "a<bA");
});

test("base64 parts are decoded; non-text parts only give their type", () => {
  const body = [
    "--b",
    "Content-Type: text/plain",
    "Content-Transfer-Encoding: base64",
    "",
    Buffer.from("secret lottery winnings").toString("base64"),
    "--b",
    "Content-Type: application/pdf",
    "Content-Transfer-Encoding: base64",
    "",
    Buffer.from("notwords inside pdf").toString("base64"),
    "--b--",
    "",
  ].join("\n");
  const f = extractFeatures(msg('From: x@y.example\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"', body));
  assert.ok(f.tokens.includes("lottery"));
  assert.ok(f.tokens.includes("ct:application/pdf"));
  assert.ok(!f.tokens.includes("notwords"));
});

test("hostile input is bounded: deep nesting, many parts, HTML bomb, huge base64", () => {
  let nested = "";
  for (let i = 0; i < 500; i++) nested += `Content-Type: multipart/mixed; boundary="n${i}"\r\n\r\n--n${i}\r\n`;
  const many = Array.from({ length: MAX_PARTS * 4 }, (_, i) => `--m\r\nContent-Type: text/plain\r\n\r\npart${i}\r\n`).join("") + "--m--\r\n";
  const bomb = "<div>".repeat(400_000) + "x";
  const b64 = Buffer.alloc(30 * 1024 * 1024, 0x41).toString("base64");
  const cases: Array<[string, Buffer]> = [
    ["nested", Buffer.from(`From: a@b.example\r\nMIME-Version: 1.0\r\n${nested}`)],
    ["many", Buffer.from(`From: a@b.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="m"\r\n\r\n${many}`)],
    ["bomb", msg("From: a@b.example\nContent-Type: text/html", bomb)],
    ["b64", msg("From: a@b.example\nContent-Type: text/plain\nContent-Transfer-Encoding: base64", b64)],
  ];
  for (const [name, m] of cases) {
    const t0 = process.cpuUsage();
    const f = extractFeatures(m);
    const cpu = process.cpuUsage(t0);
    assert.ok(f.limited, `${name} should hit a bound`);
    assert.ok(f.tokens.length <= 4000);
    // Generous: a bound that works keeps this in the tens of ms; unbounded would take seconds.
    assert.ok((cpu.user + cpu.system) / 1000 < 3000, `${name}: ${(cpu.user + cpu.system) / 1000} ms CPU`);
  }
});

test("registeredDomain: last two labels, three under ccTLD second levels", () => {
  assert.equal(registeredDomain("a.b.example.com"), "example.com");
  assert.equal(registeredDomain("x.shop.co.uk"), "shop.co.uk");
  assert.equal(registeredDomain("example.org"), "example.org");
  assert.equal(registeredDomain("a.b.c.de"), "c.de");
});
