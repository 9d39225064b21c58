// verifyMessage on the in-memory resolver: SPF (MAIL FROM and HELO), DKIM, DMARC with pct,
// the disposition, and the Authentication-Results text. The same scenarios against a real DNS
// server (knot) are in test/emailauth/knot-auth.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { dkimSign } from "mailauth";
import { verifyMessage } from "./verify.ts";
import { createMemoryResolve } from "../dns/memory-resolver.ts";
import type { MemoryEntry } from "../dns/memory-resolver.ts";

const ID = "mx.freehold.test";
const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 1024 });
const PRIVATE_PEM = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const DKIM_TXT = `v=DKIM1; k=rsa; p=${publicKey.export({ type: "spki", format: "der" }).toString("base64")}`;

function message(from: string): Buffer {
  return Buffer.from(`From: ${from}\r\nTo: user@freehold.test\r\nSubject: hello\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@x>\r\n\r\nHello there.\r\n`);
}

async function signed(from: string, domain: string): Promise<Buffer> {
  const raw = message(from);
  const res = await dkimSign(raw, {
    canonicalization: "relaxed/relaxed",
    signatureData: [{ signingDomain: domain, selector: "sel", privateKey: PRIVATE_PEM }],
  } as Parameters<typeof dkimSign>[1]);
  assert.equal(res.errors.length, 0);
  assert.match(res.signatures, /^DKIM-Signature: /);
  return Buffer.concat([Buffer.from(res.signatures), raw]);
}

function zone(extra: Record<string, MemoryEntry> = {}): Record<string, MemoryEntry> {
  return {
    "sender.test": { TXT: ["v=spf1 ip4:192.0.2.10 -all"], A: ["192.0.2.10"] },
    "mx.sender.test": { TXT: ["v=spf1 a:mx.sender.test -all"], A: ["192.0.2.10"] },
    "sel._domainkey.sender.test": { TXT: [DKIM_TXT] },
    "_dmarc.sender.test": { TXT: ["v=DMARC1; p=reject"] },
    "_dmarc.reject.test": { TXT: ["v=DMARC1; p=reject"] },
    "_dmarc.half.test": { TXT: ["v=DMARC1; p=reject; pct=50"] },
    "_dmarc.zero.test": { TXT: ["v=DMARC1; p=reject; pct=0"] },
    "_dmarc.quar.test": { TXT: ["v=DMARC1; p=quarantine"] },
    ...extra,
  };
}

const base = { ip: "192.0.2.10", helo: "mx.sender.test", mailFrom: "alice@sender.test" };

test("aligned SPF and DKIM pass DMARC; the header has our id, both SPF identities, DKIM and DMARC", async () => {
  const v = await verifyMessage({ ...base, message: await signed("alice@sender.test", "sender.test") }, { resolve: createMemoryResolve(zone()), authservId: ID });
  assert.equal(v.spf.result, "pass");
  assert.equal(v.spfHelo?.result, "pass");
  assert.deepEqual(
    v.dkim.map((d) => [d.result, d.domain, d.aligned]),
    [["pass", "sender.test", true]],
  );
  assert.equal(v.dmarc?.result, "pass");
  assert.equal(v.action, "accept");
  assert.equal(v.reply, null);
  const ar = v.authenticationResults;
  assert.match(ar, /^Authentication-Results: mx\.freehold\.test;\r\n /);
  assert.match(ar, /spf=pass [^;]*smtp\.mailfrom=alice@sender\.test/);
  assert.match(ar, /spf=pass [^;]*smtp\.helo=mx\.sender\.test/);
  assert.match(ar, /dkim=pass [^;]*header\.i=@sender\.test/);
  assert.match(ar, /dmarc=pass [^;]*header\.from=sender\.test/);
  assert.ok(ar.endsWith("\r\n") && !ar.split("\r\n").some((l) => l.length > 200));
  assert.match(v.receivedSpf, /^Received-SPF: pass /);
});

test("a Readable message works like a Buffer", async () => {
  const { Readable } = await import("node:stream");
  const buf = await signed("alice@sender.test", "sender.test");
  const v = await verifyMessage({ ...base, message: Readable.from([buf.subarray(0, 50), buf.subarray(50)]) }, { resolve: createMemoryResolve(zone()), authservId: ID });
  assert.equal(v.dkim[0].result, "pass");
  assert.equal(v.action, "accept");
});

test("a spoofed From under p=reject is rejected with 550 5.7.1", async () => {
  const v = await verifyMessage({ ...base, message: message("ceo@reject.test") }, { resolve: createMemoryResolve(zone()), authservId: ID });
  assert.equal(v.dmarc?.result, "fail");
  assert.equal(v.dmarc?.appliedPolicy, "reject");
  assert.equal(v.action, "reject");
  assert.deepEqual([v.reply?.code, v.reply?.enhanced], [550, "5.7.1"]);
});

test("p=quarantine files into Junk", async () => {
  const v = await verifyMessage({ ...base, message: message("x@quar.test") }, { resolve: createMemoryResolve(zone()), authservId: ID });
  assert.equal(v.action, "quarantine");
  assert.equal(v.reply, null);
});

test("pct samples with the injected randomness: selected rejects, not selected quarantines", async () => {
  const opts = (r: number) => ({ resolve: createMemoryResolve(zone()), authservId: ID, random: () => r });
  const selected = await verifyMessage({ ...base, message: message("x@half.test") }, opts(0.49));
  assert.deepEqual([selected.dmarc?.pct, selected.dmarc?.selected, selected.action], [50, true, "reject"]);
  const spared = await verifyMessage({ ...base, message: message("x@half.test") }, opts(0.5));
  assert.deepEqual([spared.dmarc?.selected, spared.dmarc?.appliedPolicy, spared.action], [false, "quarantine", "quarantine"]);
  assert.match(spared.authenticationResults, /policy\.dmarc=quarantine/);
  for (const r of [0, 0.5, 0.999]) {
    const zero = await verifyMessage({ ...base, message: message("x@zero.test") }, opts(r));
    assert.notEqual(zero.action, "reject", "pct=0 never rejects");
  }
});

test("a DKIM key SERVFAIL for the From domain under p=reject asks the sender to retry", async () => {
  const resolve = createMemoryResolve(zone({ "sel._domainkey.sender.test": "SERVFAIL", "sender.test": { TXT: ["v=spf1 -all"] } }));
  const v = await verifyMessage({ ...base, message: await signed("alice@sender.test", "sender.test") }, { resolve, authservId: ID });
  assert.equal(v.dkim[0].result, "temperror");
  assert.equal(v.dmarc?.result, "fail");
  assert.equal(v.action, "tempfail");
  assert.deepEqual([v.reply?.code, v.reply?.enhanced], [451, "4.4.3"]);
});

test("an SPF timeout is temperror; unrelated to the From domain it does not save a spoof", async () => {
  const resolve = createMemoryResolve(zone({ "other.test": "TIMEOUT" }));
  const v = await verifyMessage({ ...base, mailFrom: "bob@other.test", message: message("ceo@reject.test") }, { resolve, authservId: ID });
  assert.equal(v.spf.result, "temperror");
  assert.equal(v.action, "reject");
});

test("a DMARC record lookup failure is temperror and the message is accepted", async () => {
  const resolve = createMemoryResolve(zone({ "_dmarc.reject.test": "SERVFAIL" }));
  const v = await verifyMessage({ ...base, message: message("ceo@reject.test") }, { resolve, authservId: ID });
  assert.equal(v.dmarc?.result, "temperror");
  assert.equal(v.action, "accept");
  assert.match(v.authenticationResults, /dmarc=temperror/);
});

test("null reverse-path: one SPF check of the HELO identity; address-literal HELO is not checked", async () => {
  const v = await verifyMessage({ ...base, mailFrom: "", message: message("alice@sender.test") }, { resolve: createMemoryResolve(zone()), authservId: ID });
  assert.equal(v.spf.result, "pass");
  assert.equal(v.spfHelo, v.spf);
  assert.doesNotMatch(v.authenticationResults, /smtp\.mailfrom/);
  assert.match(v.authenticationResults, /spf=pass [^;]*smtp\.helo=mx\.sender\.test/);
  const lit = await verifyMessage({ ...base, helo: "[192.0.2.10]", message: message("alice@sender.test") }, { resolve: createMemoryResolve(zone()), authservId: ID });
  assert.equal(lit.spfHelo, null);
  assert.equal(lit.spf.result, "pass");
});

test("a message without From is not DMARC-evaluated and is accepted", async () => {
  const raw = Buffer.from("To: a@b.test\r\nSubject: x\r\n\r\nbody\r\n");
  const v = await verifyMessage({ ...base, message: raw }, { resolve: createMemoryResolve(zone()), authservId: ID });
  assert.equal(v.dmarc, null);
  assert.equal(v.action, "accept");
  assert.ok(v.dmarcSkipReason);
});
