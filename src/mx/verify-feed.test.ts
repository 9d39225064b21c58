// VerifyFeed: unsigned messages reach verification as their header block only, signed ones
// whole, whatever the chunking; and the verdict is the same as from the whole message.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { generateKeyPairSync } from "node:crypto";
import { dkimSign } from "mailauth";
import { VerifyFeed, headerEnd } from "./verify-feed.ts";
import { verifyMessage } from "../emailauth/verify.ts";
import { createMemoryResolve } from "../dns/memory-resolver.ts";

async function feedAll(msg: Buffer, splits: number[]): Promise<{ out: Buffer; ended: boolean; skipped: boolean }> {
  const got: Buffer[] = [];
  let ended = false;
  const feed = new VerifyFeed({
    write: async (c) => {
      assert.equal(ended, false, "no write after end");
      got.push(Buffer.from(c));
    },
    end: () => {
      assert.equal(ended, false, "ended once");
      ended = true;
    },
  });
  let at = 0;
  for (const s of [...splits, msg.length]) {
    await feed.write(msg.subarray(at, s));
    at = s;
  }
  feed.end();
  return { out: Buffer.concat(got), ended, skipped: feed.bodySkipped };
}

const UNSIGNED = Buffer.from("From: a@sender.test\r\nSubject: hi\r\n\r\nbody line\r\n\r\nmore\r\n");
const HEADER = UNSIGNED.subarray(0, UNSIGNED.indexOf("\r\n\r\n") + 4);
const SIGNED = Buffer.from("Subject: hi\r\nDKIM-Signature: v=1; d=x\r\n\r\nbody\r\n");
const FOLDED_ARC = Buffer.from("Subject: hi\r\narc-seal :\r\n i=1\r\n\r\nbody\r\n");

test("an unsigned message yields its header block only, split at every byte", async () => {
  for (let i = 0; i <= UNSIGNED.length; i++) {
    const r = await feedAll(UNSIGNED, [i]);
    assert.deepEqual(r.out, HEADER, `split at ${i}`);
    assert.ok(r.ended && r.skipped);
  }
});

test("a message with a DKIM-Signature or ARC-Seal field is streamed whole, split at every byte", async () => {
  for (const msg of [SIGNED, FOLDED_ARC]) {
    for (let i = 0; i <= msg.length; i++) {
      const r = await feedAll(msg, [i, Math.min(msg.length, i + 3)]);
      assert.deepEqual(r.out, msg);
      assert.ok(r.ended && !r.skipped);
    }
  }
});

test("a field merely mentioning a signature does not count; a header without a blank line goes whole", async () => {
  const mention = Buffer.from("Subject: about DKIM-Signature: fields\r\n\r\nbody\r\n");
  assert.equal((await feedAll(mention, [])).skipped, true);
  const noBlank = Buffer.from("Subject: hi\r\nX: y\r\n");
  const r = await feedAll(noBlank, [5]);
  assert.deepEqual(r.out, noBlank);
  assert.ok(r.ended && !r.skipped);
});

test("headerEnd finds CRLF and bare-LF blank lines and an empty header", () => {
  assert.equal(headerEnd(Buffer.from("\r\nbody"), 0), 2);
  assert.equal(headerEnd(Buffer.from("\nbody"), 0), 1);
  assert.equal(headerEnd(Buffer.from("A: b\n\nbody"), 0), 6);
  assert.equal(headerEnd(Buffer.from("A: b\r\n\r\nbody"), 0), 8);
  assert.equal(headerEnd(Buffer.from("A: b\r\n\r"), 0), -1);
  assert.equal(headerEnd(Buffer.from("A: b\r\nC: d\r\n"), 0), -1);
});

test("the verdict from the header block equals the verdict from the whole message (unsigned and signed)", async () => {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 1024 });
  const resolve = createMemoryResolve({
    "sender.test": { TXT: ["v=spf1 ip4:192.0.2.10 -all"] },
    "_dmarc.sender.test": { TXT: ["v=DMARC1; p=reject"] },
    "sel._domainkey.sender.test": { TXT: [`v=DKIM1; k=rsa; p=${publicKey.export({ type: "spki", format: "der" }).toString("base64")}`] },
  });
  const body = "Hello.\r\n".repeat(50);
  const raw = Buffer.from(`From: a@sender.test\r\nTo: b@x.test\r\nSubject: s\r\nMessage-ID: <1@x>\r\n\r\n${body}`);
  const sig = await dkimSign(raw, {
    signatureData: [{ signingDomain: "sender.test", selector: "sel", privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString() }],
  } as Parameters<typeof dkimSign>[1]);
  const signedMsg = Buffer.concat([Buffer.from(sig.signatures), raw]);
  for (const [msg, ip] of [
    [raw, "192.0.2.10"],
    [raw, "192.0.2.99"],
    [signedMsg, "192.0.2.99"],
  ] as const) {
    const opts = { resolve, authservId: "mx.test", random: () => 0.5 };
    const input = { ip, helo: "mx.sender.test", mailFrom: "a@sender.test" };
    const whole = await verifyMessage({ ...input, message: msg }, opts);
    const stream = new PassThrough();
    const viaFeed = verifyMessage({ ...input, message: stream }, opts);
    const feed = new VerifyFeed({
      write: async (c) => {
        stream.write(c);
      },
      end: () => stream.end(),
    });
    for (let at = 0; at < msg.length; at += 100) await feed.write(msg.subarray(at, at + 100));
    feed.end();
    const v = await viaFeed;
    assert.equal(feed.bodySkipped, msg === raw);
    assert.deepEqual(v, whole);
  }
});
