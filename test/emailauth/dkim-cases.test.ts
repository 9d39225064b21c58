// The DKIM cases in ../shared/vectors/dkim/cases.json (RFC 6376, RFC 8463 Ed25519; from dkimpy
// and mailauth) through mailauth's DKIM in strict mode, as verifyMessage runs it: ready-signed
// messages verify, sign-then-verify cases give the listed result, bad key records are refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { createPrivateKey } from "node:crypto";
import { dkimSign, dkimVerify } from "mailauth";
import { createMemoryResolve } from "../../src/dns/memory-resolver.ts";
import type { MemoryEntry } from "../../src/dns/memory-resolver.ts";
import { requireVectors, reportCounts } from "./vectors.ts";

interface Expect {
  a: string;
  c: string;
  result: string;
}
interface VerifyCase {
  id: string;
  message: string;
  dns: Record<string, string>;
  now?: number;
  expect: Expect[];
}
interface SignCase {
  id: string;
  message: string;
  privateKey: string;
  algorithm?: string;
  selector: string;
  domain: string;
  dns?: Record<string, string>;
  canonicalizations?: string;
  mutateAfterSign?: string;
  expect: "pass" | "fail" | "sign-error";
}
interface KeyCase {
  file: string;
  expect: "ok" | "reject";
}
interface Cases {
  verify: VerifyCase[];
  sign_then_verify: SignCase[];
  key_parsing: KeyCase[];
}

/** Cases mailauth 7 answers differently, each with the reason. */
const SKIP: Record<string, string> = {
  "sign-then-verify rsa-extra-from relaxed/relaxed second From before":
    "a signer property, not a verifier one: dkimpy's signer oversigns From (an extra h= entry, RFC 6376 §5.4.2/§8.15) so a From added " +
    "above the signed one breaks the signature; mailauth's signer lists only fields that exist, so the bottom-most (original) From is " +
    "still the signed one and the signature stays valid. DMARC then refuses to evaluate a message with two author domains (RFC 9989 §5.3.1).",
};

interface VerifyRow {
  status: { result: string; comment?: string };
  signingDomain?: string;
  selector?: string;
  algo?: string;
  format?: string;
}

function crlf(buf: Buffer): Buffer {
  return Buffer.from(buf.toString("latin1").replace(/\r?\n/g, "\r\n"), "latin1");
}

function zoneFrom(dir: string, dns: Record<string, string> = {}): Record<string, MemoryEntry> {
  const zone: Record<string, MemoryEntry> = {};
  for (const [name, value] of Object.entries(dns)) {
    const v = value.startsWith("file:") ? readFileSync(path.join(dir, value.slice(5)), "utf8").trim() : value;
    zone[name] = { TXT: [v] };
  }
  return zone;
}

/** PEM for a key file: RSA files are PEM already; Ed25519 files hold the base64 32-byte seed. */
function privateKeyPem(dir: string, file: string): string {
  const text = readFileSync(path.join(dir, file), "utf8").trim();
  if (text.startsWith("-----BEGIN")) return text;
  // PKCS#8 for Ed25519 (RFC 8410 §7): a fixed 16-byte prefix, then the seed.
  const der = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), Buffer.from(text, "base64")]);
  return createPrivateKey({ key: der, format: "der", type: "pkcs8" }).export({ type: "pkcs8", format: "pem" }).toString();
}

async function verifyAll(message: Buffer, zone: Record<string, MemoryEntry>, now?: number): Promise<VerifyRow[]> {
  const res = (await dkimVerify(message, {
    resolver: createMemoryResolve(zone) as never,
    strict: true,
    ...(now !== undefined ? { curTime: new Date(now * 1000) } : {}),
  })) as { results: VerifyRow[] };
  return res.results;
}

/** Every header field name of a message, once per occurrence, top to bottom. */
function allFieldNames(message: Buffer): string[] {
  const head = message.toString("latin1").split("\r\n\r\n")[0];
  return head
    .split("\r\n")
    .filter((l) => /^[^ \t:]+:/.test(l))
    .map((l) => l.slice(0, l.indexOf(":")).toLowerCase());
}

/** rsa-repeated-headers signs every field, repeated ones included, as dkimpy's test does. */
function headerListFor(c: SignCase, message: Buffer): string[] | undefined {
  return c.id === "rsa-repeated-headers" ? allFieldNames(message) : undefined;
}

async function sign(message: Buffer, c: SignCase, dir: string, canonicalization: string): Promise<{ signed: Buffer; errors: unknown[] }> {
  const headerList = headerListFor(c, message);
  const res = await dkimSign(message, {
    canonicalization,
    ...(headerList ? { headerList } : {}),
    ...(c.algorithm ? { algorithm: c.algorithm } : {}),
    signatureData: [{ signingDomain: c.domain, selector: c.selector, privateKey: privateKeyPem(dir, c.privateKey) }],
  } as Parameters<typeof dkimSign>[1]);
  return { signed: Buffer.concat([Buffer.from(res.signatures), message]), errors: res.errors };
}

/** The mutations cases.json describes, each giving the expected result. */
function mutations(c: SignCase, signed: Buffer): Array<[string, Buffer, "pass" | "fail"]> {
  if (c.mutateAfterSign?.startsWith("append 'foo'")) return [["body + foo", Buffer.concat([signed, Buffer.from("foo")]), "fail"]];
  if (c.mutateAfterSign?.startsWith("add a second From")) {
    const text = signed.toString("latin1");
    const fromAt = text.search(/^From:/im);
    const extra = "From: mallory@evil.example\r\n";
    return [
      ["second From before", Buffer.from(text.slice(0, fromAt) + extra + text.slice(fromAt), "latin1"), "fail"],
      ["second From after", Buffer.from(text.replace(/\r\n\r\n/, `\r\n${extra}\r\n`), "latin1"), "fail"],
      ["unrelated X-Foo", Buffer.from(text.replace(/\r\n\r\n/, "\r\nX-Foo: bar\r\n\r\n"), "latin1"), "pass"],
    ];
  }
  return [["as signed", signed, c.expect === "fail" ? "fail" : "pass"]];
}

test("DKIM cases (dkim/cases.json: dkimpy and the RFC 8463 example) via mailauth", async (t) => {
  const dir = requireVectors(t, "dkim");
  if (!dir) return;
  const cases = JSON.parse(readFileSync(path.join(dir, "cases.json"), "utf8")) as Cases;
  const counts = { total: 0, passed: 0, skipped: 0, failed: 0 };
  const run = async (id: string, fn: () => Promise<void>) => {
    counts.total++;
    if (SKIP[id]) {
      counts.skipped++;
      await t.test(id, { skip: SKIP[id] }, () => undefined);
      return;
    }
    await t.test(id, async () => {
      try {
        await fn();
        counts.passed++;
      } catch (e) {
        counts.failed++;
        throw e;
      }
    });
  };

  for (const c of cases.verify) {
    await run(`verify ${c.id}`, async () => {
      const rows = await verifyAll(crlf(readFileSync(path.join(dir, c.message))), zoneFrom(dir, c.dns), c.now);
      assert.deepEqual(
        rows.map((r) => [r.algo, r.status.result]),
        c.expect.map((e) => [e.a, e.result]),
        JSON.stringify(rows.map((r) => r.status)),
      );
    });
  }

  for (const c of cases.sign_then_verify) {
    const canons = c.canonicalizations === "all four" ? ["simple/simple", "simple/relaxed", "relaxed/simple", "relaxed/relaxed"] : ["relaxed/relaxed"];
    for (const canon of canons) {
      const message = crlf(readFileSync(path.join(dir, c.message)));
      if (c.expect === "sign-error") {
        await run(`sign-then-verify ${c.id} ${canon}`, async () => {
          const { signed, errors } = await sign(message, c, dir, canon);
          assert.ok(errors.length > 0 && !signed.toString("latin1").startsWith("DKIM-Signature:"), "the signer must refuse");
        });
        continue;
      }
      const { signed, errors } = await sign(message, c, dir, canon);
      for (const [what, msg, want] of mutations(c, signed)) {
        await run(`sign-then-verify ${c.id} ${canon} ${what}`, async () => {
          assert.deepEqual(errors, []);
          // Only our signature counts: message.mbox also carries its original kitterman.com one.
          const rows = (await verifyAll(msg, zoneFrom(dir, c.dns))).filter((r) => r.signingDomain === c.domain && r.selector === c.selector);
          assert.equal(rows.length, 1, what);
          const got = rows[0].status.result === "pass" ? "pass" : "fail";
          assert.equal(got, want, `${what}: ${JSON.stringify(rows[0].status)}`);
        });
      }
    }
  }

  // A key record is usable when a message signed with the matching private key verifies with it.
  const rsaBasic = cases.sign_then_verify.find((c) => c.id === "rsa-basic");
  assert.ok(rsaBasic, "cases.json lacks rsa-basic");
  for (const k of cases.key_parsing) {
    await run(`key-parsing ${k.file}`, async () => {
      const { signed } = await sign(crlf(readFileSync(path.join(dir, rsaBasic.message))), rsaBasic, dir, "relaxed/relaxed");
      const rows = await verifyAll(signed, zoneFrom(dir, { [`${rsaBasic.selector}._domainkey.${rsaBasic.domain}`]: `file:${k.file}` }));
      if (k.expect === "ok") assert.equal(rows[0].status.result, "pass");
      else {
        assert.notEqual(rows[0].status.result, "pass");
        assert.match(rows[0].status.comment ?? "", /key/i, JSON.stringify(rows[0].status));
      }
    });
  }
  reportCounts("DKIM cases", counts);
});
