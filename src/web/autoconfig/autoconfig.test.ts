import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { hostTarget } from "./host.ts";
import { OUTLOOK_SCHEMA, POX_REQUEST_NS, parsePoxRequest, poxResponse } from "./autodiscover.ts";
import { mobileconfig, mobileconfigFileName, uuidV5 } from "./mobileconfig.ts";
import { clientSettings } from "./settings.ts";
import type { ClientSettings } from "./settings.ts";
import { thunderbirdConfig } from "./thunderbird.ts";
import { parseClientAddress, xmlText } from "./xml.ts";

const SETTINGS: ClientSettings = {
  host: "mail.example.test",
  imap: [{ host: "mail.example.test", port: 993, security: "tls" }],
  smtp: [{ host: "mail.example.test", port: 465, security: "tls" }],
};

const pox = (email: string) =>
  `<?xml version="1.0"?><Autodiscover xmlns="${POX_REQUEST_NS}"><Request><EMailAddress>${email}</EMailAddress><AcceptableResponseSchema>${OUTLOOK_SCHEMA}</AcceptableResponseSchema></Request></Autodiscover>`;

test("uuidV5 matches RFC 9562 Appendix A.4 (DNS namespace, www.example.com)", () => {
  const dns = Buffer.from("6ba7b8109dad11d180b400c04fd430c8", "hex");
  assert.equal(uuidV5("www.example.com", dns), "2ED6657D-E927-568B-95E1-2665A8AEA6A2");
});

test("hostTarget: prefixes, ports, case, trailing dot; junk is no host", () => {
  assert.deepEqual(hostTarget("AutoConfig.Example.TEST:8080"), { kind: "autoconfig", domain: "example.test" });
  assert.deepEqual(hostTarget("mta-sts.example.test."), { kind: "mta-sts", domain: "example.test" });
  assert.deepEqual(hostTarget("autodiscover.example.test"), { kind: "autodiscover", domain: "example.test" });
  assert.deepEqual(hostTarget("example.test"), { kind: "bare", domain: "example.test" });
  for (const bad of [undefined, "", "[::1]:80", "a b", "exa<mple>.test", "x".repeat(300)]) assert.equal(hostTarget(bad), null, String(bad));
});

test("settings: implicit TLS first, listeners without TLS left out", () => {
  const s = clientSettings({
    hostname: "mail.example.test",
    listeners: [
      { role: "imap", address: "::", port: 143, tls: "starttls" },
      { role: "imap", address: "::", port: 1143, tls: "none" },
      { role: "imaps", address: "::", port: 993, tls: "implicit" },
      { role: "submission", address: "::", port: 587, tls: "starttls" },
    ] as never,
  });
  assert.deepEqual(s.imap.map((e) => `${e.port}/${e.security}`), ["993/tls", "143/starttls"]);
  assert.deepEqual(s.smtp.map((e) => `${e.port}/${e.security}`), ["587/starttls"]);
});

test("xmlText escapes markup and refuses what XML cannot carry", () => {
  assert.equal(xmlText(`a<b>&"c'`), "a&lt;b&gt;&amp;&quot;c&apos;");
  for (const bad of ["\u0000", "a\u0001", "\ud800", "\uffff"]) assert.throws(() => xmlText(bad));
  assert.equal(parseClientAddress("Ann@Example.TEST")?.address, "ann@example.test");
  for (const bad of ["", "ann", "@example.test", "a\u0000@example.test", `${"a".repeat(250)}@example.test`, "<x>@example.test"]) assert.equal(parseClientAddress(bad), null, bad);
});

test("POX request parsing: the address and schema, nothing else", () => {
  assert.deepEqual(parsePoxRequest(pox("Ann@Example.test")), { ok: true, address: "ann@example.test", domain: "example.test" });
  assert.deepEqual(parsePoxRequest(pox("x").replace(POX_REQUEST_NS, "urn:other")), { ok: false, reason: "malformed" });
  assert.deepEqual(parsePoxRequest(pox("ann@example.test").replace(OUTLOOK_SCHEMA, "urn:mobilesync")), { ok: false, reason: "schema" });
  assert.deepEqual(parsePoxRequest(pox("")), { ok: false, reason: "address" });
  assert.deepEqual(parsePoxRequest(`<!DOCTYPE a>${pox("ann@example.test")}`), { ok: false, reason: "malformed" });
});

test("fuzz: no request text breaks the parser or reaches a document unescaped", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 80, unit: fc.constantFrom("a", "@", ".", "<", ">", "&", ";", "'", '"', "/", "x", "e", " ", "\u0000", "é", "amp", "lt") }), (email) => {
      const r = parsePoxRequest(pox(email));
      if (!r.ok) return;
      const out = poxResponse(r.address, SETTINGS);
      const login = /<LoginName>([^<]*)<\/LoginName>/.exec(out);
      assert.ok(login, out);
      assert.doesNotMatch(login[1], /[<>"]|&(?!(amp|lt|gt|quot|apos);)/);
    }),
    { numRuns: 500 },
  );
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (body) => void parsePoxRequest(body)), { numRuns: 500 });
});

test("thunderbird and mobileconfig: well-formed, no password, names escaped", () => {
  const tb = thunderbirdConfig("example.test", SETTINGS);
  assert.match(tb, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<clientConfig version="1.1">/);
  const mc = mobileconfig({ id: 7, address: "ann@example.test", displayName: `Ann <"&'>` }, SETTINGS)!;
  // CardDAV and CalDAV accounts beside the mail one (issue 11 §4), pointing at the principal.
  assert.match(mc, /<string>com.apple.carddav.account<\/string>/);
  assert.match(mc, /<string>com.apple.caldav.account<\/string>/);
  assert.match(mc, /<key>CardDAVPrincipalURL<\/key>\s*<string>\/dav\/principals\/ann@example.test\/<\/string>/);
  assert.match(mc, /<string>Ann &lt;&quot;&amp;&apos;&gt;<\/string>/);
  assert.doesNotMatch(mc, /Password<\/key>\s*<string>/);
  assert.equal(mobileconfig({ id: 7, address: "a@b.test", displayName: "" }, { ...SETTINGS, smtp: [] }), null);
  assert.equal(mobileconfigFileName("o'neil@example.test"), "o_neil@example.test.mobileconfig");
});
