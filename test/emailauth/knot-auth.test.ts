// Email authentication against a real DNS server: knotd on 127.0.0.1 serves SPF, DKIM and
// DMARC records for test domains, our Resolver queries it, verifyMessage decides. Faults
// (SERVFAIL, no answer) come from the dns-packet fault server.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { generateKeyPairSync } from "node:crypto";
import { dkimSign } from "mailauth";
import { createResolver } from "../../src/dns/resolver.ts";
import type { Resolver } from "../../src/dns/resolver.ts";
import { verifyMessage } from "../../src/emailauth/verify.ts";
import type { VerifyInput } from "../../src/emailauth/verify.ts";
import { findKnotd, startKnot } from "../support/knot.ts";
import type { KnotServer } from "../support/knot.ts";
import { startFaultServer } from "../support/dns-fault.ts";
import { connectViaResolver } from "../support/dns-connect.ts";

const ID = "mx.freehold.test";
const knotd = findKnotd();
const noKnot = knotd === null ? "knotd is not installed (apt-get install knot; scripts/install-peers.sh does it)" : false;
if (noKnot && process.env.CI === "true") throw new Error(`CI: ${noKnot}`);
if (noKnot) console.warn(`\n!!!!! SKIPPING real-DNS email authentication tests: ${noKnot} !!!!!\n`);

const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const PRIVATE_PEM = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
// A 2048-bit key makes a TXT record longer than 255 octets: several character-strings.
const DKIM_TXT = `v=DKIM1; k=rsa; p=${publicKey.export({ type: "spki", format: "der" }).toString("base64")}`;

let knot: KnotServer;
let resolver: Resolver;

before(async () => {
  if (noKnot) return;
  // One zone "test." so that DMARC's DNS Tree Walk (RFC 9989 §4.10) up to "test" gets answers.
  knot = await startKnot({
    test: {
      sender: { TXT: ["v=spf1 ip4:127.0.0.1 -all"], A: ["127.0.0.1"] },
      "mx.sender": { A: ["127.0.0.1"], TXT: ["v=spf1 a -all"] },
      "sel._domainkey.sender": { TXT: [DKIM_TXT] },
      "_dmarc.sender": { TXT: ["v=DMARC1; p=reject"] },
      attacker: { TXT: ["v=spf1 ip4:127.0.0.1 -all"] },
      "_dmarc.victim": { TXT: ["v=DMARC1; p=reject"] },
      victim: { A: ["192.0.2.1"] },
      "_dmarc.quar": { TXT: ["v=DMARC1; p=quarantine"] },
      quar: { A: ["192.0.2.1"] },
      // p for the domain itself, sp for existing subdomains (RFC 7489 §6.3), np for
      // non-existent ones (RFC 9091 §4).
      "_dmarc.parent": { TXT: ["v=DMARC1; p=none; sp=reject; np=quarantine"] },
      parent: { A: ["192.0.2.1"] },
      "sub.parent": { A: ["192.0.2.1"] },
      "_dmarc.zero": { TXT: ["v=DMARC1; p=reject; pct=0"] },
      zero: { A: ["192.0.2.1"] },
      app: { A: ["127.0.0.1"] },
    },
  });
  resolver = createResolver({ servers: [knot.address], timeoutMs: 1000, tries: 2 });
});

after(async () => {
  await knot?.stop();
});

function message(from: string, body = "Hello from the test.\r\n"): Buffer {
  return Buffer.from(
    `From: Someone <${from}>\r\nTo: user@freehold.test\r\nSubject: knot test\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <${Math.random()}@x>\r\n\r\n${body}`,
  );
}

async function signed(from: string): Promise<Buffer> {
  const raw = message(from);
  const res = await dkimSign(raw, {
    canonicalization: "relaxed/relaxed",
    signatureData: [{ signingDomain: "sender.test", selector: "sel", privateKey: PRIVATE_PEM }],
  } as Parameters<typeof dkimSign>[1]);
  assert.deepEqual(res.errors, []);
  return Buffer.concat([Buffer.from(res.signatures), raw]);
}

const client = { ip: "127.0.0.1", helo: "mx.sender.test" };
const verify = (input: Omit<VerifyInput, "ip" | "helo">, random = Math.random) =>
  verifyMessage({ ...client, ...input }, { resolve: resolver.resolve, authservId: ID, random });

test("a DKIM-signed message from an SPF-authorised host passes SPF, DKIM and DMARC", { skip: noKnot }, async () => {
  const v = await verify({ mailFrom: "alice@sender.test", message: await signed("alice@sender.test") });
  assert.equal(v.spf.result, "pass");
  assert.equal(v.spfHelo?.result, "pass");
  assert.deepEqual(
    v.dkim.map((d) => [d.result, d.domain]),
    [["pass", "sender.test"]],
  );
  assert.equal(v.dmarc?.result, "pass");
  assert.equal(v.action, "accept");
  assert.match(v.authenticationResults, /^Authentication-Results: mx\.freehold\.test;/);
  assert.match(v.authenticationResults, /dkim=pass/);
  assert.match(v.authenticationResults, /dmarc=pass/);
});

test("a tampered message fails DKIM; forwarded (SPF not aligned) it fails DMARC and is rejected", { skip: noKnot }, async () => {
  const good = await signed("alice@sender.test");
  const tampered = Buffer.from(good.toString("latin1").replace("Hello from the test.", "Hello from the attacker."), "latin1");
  const direct = await verify({ mailFrom: "alice@sender.test", message: tampered });
  assert.equal(direct.dkim[0].result, "fail");
  assert.equal(direct.dmarc?.result, "pass", "aligned SPF still passes DMARC");
  const forwarded = await verify({ mailFrom: "bounce@attacker.test", message: tampered });
  assert.equal(forwarded.dkim[0].result, "fail");
  assert.equal(forwarded.dmarc?.result, "fail");
  assert.equal(forwarded.action, "reject");
});

test("a spoofed From under p=reject is rejected with 550 5.7.1", { skip: noKnot }, async () => {
  const v = await verify({ mailFrom: "x@attacker.test", message: message("ceo@victim.test") });
  assert.equal(v.spf.result, "pass");
  assert.equal(v.dmarc?.result, "fail");
  assert.equal(v.action, "reject");
  assert.deepEqual([v.reply?.code, v.reply?.enhanced], [550, "5.7.1"]);
});

test("p=quarantine files into Junk", { skip: noKnot }, async () => {
  const v = await verify({ mailFrom: "x@attacker.test", message: message("news@quar.test") });
  assert.equal(v.action, "quarantine");
});

test("sp= applies to existing subdomains, np= to non-existent ones, p= to the domain", { skip: noKnot }, async () => {
  const own = await verify({ mailFrom: "x@attacker.test", message: message("a@parent.test") });
  assert.deepEqual([own.dmarc?.result, own.dmarc?.policy, own.action], ["fail", "none", "accept"]);
  const sub = await verify({ mailFrom: "x@attacker.test", message: message("a@sub.parent.test") });
  assert.deepEqual([sub.dmarc?.policyDomain, sub.dmarc?.policy, sub.action], ["parent.test", "reject", "reject"]);
  const ghost = await verify({ mailFrom: "x@attacker.test", message: message("a@ghost.parent.test") });
  assert.deepEqual([ghost.dmarc?.policy, ghost.action], ["quarantine", "quarantine"]);
});

test("pct=0 never rejects", { skip: noKnot }, async () => {
  for (const r of [0, 0.5, 0.9999]) {
    const v = await verify({ mailFrom: "x@attacker.test", message: message("a@zero.test") }, () => r);
    assert.equal(v.dmarc?.result, "fail");
    assert.equal(v.dmarc?.selected, false);
    assert.notEqual(v.action, "reject");
  }
});

test("SERVFAIL or no answer from DNS: temperror everywhere and the message is accepted", { skip: noKnot }, async (t) => {
  const fault = await startFaultServer(() => ({ kind: "rcode", rcode: "SERVFAIL" }));
  t.after(() => fault.close());
  const msg = await signed("alice@sender.test");
  for (const mode of ["servfail", "timeout"] as const) {
    fault.setHandler(() => (mode === "servfail" ? { kind: "rcode", rcode: "SERVFAIL" } : { kind: "drop" }));
    const r = createResolver({ servers: [fault.address], timeoutMs: 150, tries: 1 });
    const v = await verifyMessage({ ...client, mailFrom: "alice@sender.test", message: msg }, { resolve: r.resolve, authservId: ID });
    assert.equal(v.spf.result, "temperror", mode);
    assert.equal(v.dkim[0].result, "temperror", mode);
    assert.equal(v.dmarc?.result, "temperror", mode);
    assert.equal(v.action, "accept", mode);
    assert.match(v.authenticationResults, /spf=temperror/);
    assert.match(v.authenticationResults, /dkim=temperror/);
  }
});

test("the Resolver's lookup takes net.connect to a name served by knot", { skip: noKnot }, async (t) => {
  assert.deepEqual(await resolver.a("app.test"), ["127.0.0.1"]);
  const listener = net.createServer((s) => s.end("hi from app.test"));
  await new Promise<void>((res) => listener.listen(0, "127.0.0.1", () => res()));
  t.after(() => listener.close());
  const port = (listener.address() as net.AddressInfo).port;
  assert.equal(await connectViaResolver(knot.address, "app.test", port), "hi from app.test");
});
