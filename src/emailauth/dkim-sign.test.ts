import { test, before } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { dkimVerify } from "mailauth/lib/dkim/verify.js";
import { dkimRecordName, dkimTxtRecord, generateDkimKey, txtStrings } from "./dkim-keys.ts";
import type { DkimKey } from "./dkim-keys.ts";
import { headerList, relaxedHeader, signMessage } from "./dkim-sign.ts";
import { dkimpyVerifyAll } from "../../test/support/dkimpy.ts";

const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);
let rsa: DkimKey;
let ed: DkimKey;
let zone: Map<string, string>;

before(async () => {
  rsa = await generateDkimKey("example.com", "rsa", NOW, []);
  ed = await generateDkimKey("example.com", "ed25519", NOW, [rsa.selector]);
  zone = new Map([rsa, ed].map((k) => [dkimRecordName(k), dkimTxtRecord(k)]));
});

// An in-memory resolver in node:dns shape, as mailauth expects.
async function resolver(name: string, rrtype: string): Promise<string[][]> {
  const rec = rrtype === "TXT" ? zone.get(name.replace(/\.$/, "").toLowerCase()) : undefined;
  if (!rec) throw Object.assign(new Error("ENOTFOUND"), { code: "ENOTFOUND" });
  return [txtStrings(rec)];
}

const message = Buffer.from(
  [
    "Received: from client (client [192.0.2.9]) by mail.example.com",
    "From: Alice Example <alice@example.com>",
    "To: Bob <bob@dest.example>,",
    "\tCarol <carol@dest.example>",
    "Subject:   Quarterly    report",
    "Date: Mon, 23 Nov 2026 12:00:00 +0000",
    "Message-ID: <q4@example.com>",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "",
    "Hello Bob,  ",
    "numbers \t attached.",
    "",
    "",
  ].join("\r\n"),
);

async function mailauthResults(signed: Buffer) {
  const res = await dkimVerify(signed, { resolver: resolver as never, curTime: new Date(NOW + 60_000) });
  return res.results.map((r) => ({ s: r.signingDomain, sel: r.selector, result: r.status.result, algo: r.algo }));
}

// dkimpy through its Python API (test/support/dkimpy.ts).
function dkimpy(signed: Buffer): (boolean | string)[] {
  return dkimpyVerifyAll(signed, Object.fromEntries(zone));
}

test("RSA and Ed25519 signatures with From oversigned verify in mailauth and dkimpy", async () => {
  const { header, errors } = await signMessage(message, [rsa, ed], { now: NOW });
  assert.deepEqual(errors, []);
  const sigs = header.split(/\r\n(?=DKIM-Signature:)/);
  assert.equal(sigs.length, 2);
  for (const s of sigs) {
    const h = /h=([^;]+);/.exec(s.replace(/\r\n[ \t]/g, ""))![1].replace(/\s/g, "");
    const names = h.split(":").map((n) => n.toLowerCase());
    assert.equal(names.filter((n) => n === "from").length, 2, "From listed once more than present");
    assert.ok(!names.includes("received"), "trace fields are not signed");
    assert.ok(names.includes("subject") && names.includes("to") && names.includes("message-id"));
    assert.ok(!names.includes("reply-to"), "absent fields are not listed unless oversigned");
    assert.match(s, /c=relaxed\/relaxed/);
    assert.match(s, new RegExp(`t=${NOW / 1000};`));
  }
  const signed = Buffer.concat([Buffer.from(header), message]);
  const ma = await mailauthResults(signed);
  assert.deepEqual(
    ma.map((r) => [r.sel, r.algo, r.result]),
    [
      [rsa.selector, "rsa-sha256", "pass"],
      [ed.selector, "ed25519-sha256", "pass"],
    ],
  );
  assert.deepEqual(dkimpy(signed), [true, true]);
});

test("adding a second From breaks the oversigned signature; without oversigning it would not", async () => {
  const over = await signMessage(message, [rsa, ed], { now: NOW });
  const plain = await signMessage(message, [rsa, ed], { now: NOW, oversign: [] });
  assert.deepEqual(plain.errors, []);
  const forge = (m: Buffer) => Buffer.from(m.toString("latin1").replace("\r\nTo:", "\r\nFrom: CEO <ceo@example.com>\r\nTo:"), "latin1");
  // A From added *above* the signed one: verifiers pick fields bottom-up, so the plain
  // signature still covers the original and passes; the oversigned one sees the extra From.
  const forgeTop = (sig: string) => Buffer.concat([Buffer.from(sig + "From: CEO <ceo@example.com>\r\n"), message]);

  const plainOk = Buffer.concat([Buffer.from(plain.header), message]);
  assert.deepEqual((await mailauthResults(plainOk)).map((r) => r.result), ["pass", "pass"], "mailauth's own signatures verify");
  assert.deepEqual(dkimpy(plainOk), [true, true]);

  assert.deepEqual((await mailauthResults(forgeTop(plain.header))).map((r) => r.result), ["pass", "pass"]);
  assert.deepEqual((await mailauthResults(forgeTop(over.header))).map((r) => r.result), ["fail", "fail"]);
  assert.deepEqual(dkimpy(forgeTop(over.header)), [false, false]);
  // Any change to a signed field or the body fails too.
  const tampered = forge(Buffer.concat([Buffer.from(over.header), message]));
  assert.deepEqual((await mailauthResults(tampered)).map((r) => r.result), ["fail", "fail"]);
  const body = Buffer.from(Buffer.concat([Buffer.from(over.header), message]).toString("latin1").replace("numbers", "Numbers"), "latin1");
  // dkimpy raises on a body hash mismatch rather than returning False.
  for (const r of dkimpy(body)) assert.match(String(r), /body hash mismatch/);
});

test("relaxed canonicalization tolerates refolding and whitespace changes in transit", async () => {
  const { header } = await signMessage(message, [rsa, ed], { now: NOW });
  const refolded = Buffer.from(
    message.toString("latin1").replace("Subject:   Quarterly    report", "Subject: Quarterly\r\n report").replace("Hello Bob,  ", "Hello  Bob,"),
    "latin1",
  );
  const signed = Buffer.concat([Buffer.from(header), refolded]);
  assert.deepEqual((await mailauthResults(signed)).map((r) => r.result), ["pass", "pass"]);
  assert.deepEqual(dkimpy(signed), [true, true]);
});

test("a key that cannot sign is reported, the others still sign", async () => {
  const broken = { ...rsa, selector: "broken", privateKeyPem: "not a key" };
  const res = await signMessage(message, [broken, ed], { now: NOW });
  assert.equal(res.errors.length, 1);
  assert.equal(res.errors[0].selector, "broken");
  assert.equal((res.header.match(/^DKIM-Signature:/gm) ?? []).length, 1);
  assert.deepEqual(await signMessage(message, [], { now: NOW }), { header: "", errors: [] });
});

test("header helpers: relaxed form and h= construction", () => {
  assert.equal(relaxedHeader("SUBJECT :  a \t b\r\n\t c  "), "subject:a b c");
  assert.equal(relaxedHeader("X-Bin: caf\xe9\xa0"), "x-bin:caf\xe9\xa0", "0xA0 is not whitespace");
  const fields = [{ key: "from" }, { key: "to" }, { key: "to" }, { key: "subject" }];
  assert.deepEqual(headerList(fields, ["From", "To", "Subject", "Cc"], ["From", "Sender"]), ["From", "From", "To", "To", "Subject", "Sender"]);
});
