import { test } from "node:test";
import assert from "node:assert/strict";
import { authenticate } from "mailauth";
import { generateDkimKey, dkimRecordName, dkimTxtRecord } from "../emailauth/dkim-keys.ts";
import type { DkimKey } from "../emailauth/dkim-keys.ts";
import { createMemoryResolve } from "../dns/memory-resolver.ts";
import type { MemoryEntry } from "../dns/memory-resolver.ts";
import { arcSeal, authResultsPayload, forwardingDomain } from "./arc-seal.ts";
import type { ArcSealer } from "./arc-seal.ts";

const NOW = Date.UTC(2026, 10, 23, 12);
const MESSAGE = "From: a@origin.test\r\nTo: fwd@one.test\r\nSubject: arc\r\nMessage-ID: <arc@origin.test>\r\n\r\nbody\r\n";

function sealerFor(keys: DkimKey[]): ArcSealer {
  return {
    authservId: "mx.one.test",
    signingKeys: (d) => keys.filter((k) => k.domain === d).map((k) => ({ domain: k.domain, selector: k.selector, type: k.type, privateKeyPem: k.privateKeyPem })),
  };
}

function zoneOf(keys: DkimKey[]): Record<string, MemoryEntry> {
  return Object.fromEntries(keys.map((k) => [dkimRecordName(k), { TXT: [dkimTxtRecord(k)] }]));
}

const trace = (deliveredTo: string, arc: string) =>
  `Delivered-To: ${deliveredTo}\r\nAuthentication-Results: mx.one.test;\r\n\tspf=pass smtp.mailfrom=origin.test;\r\n\tarc=${arc}\r\nReceived: from x by mx.one.test; Mon, 23 Nov 2026 12:00:00 +0000\r\n`;

test("trace fields: the forwarding domain from the top Delivered-To, the A-R payload unfolded", () => {
  const t = trace("Fwd@Sub.One.Test", "none");
  assert.equal(forwardingDomain(t), "sub.one.test");
  assert.equal(forwardingDomain("Received: x\r\n"), null);
  assert.equal(authResultsPayload(t, "id"), "mx.one.test; spf=pass smtp.mailfrom=origin.test; arc=none");
  assert.equal(authResultsPayload("", "mx.one.test"), "mx.one.test; none");
});

test("first hop: i=1, cv=none, key of the parent domain when the forwarding subdomain has none; validates", async () => {
  const key = await generateDkimKey("one.test", "rsa", NOW, []);
  const t = trace("fwd@lists.one.test", "none");
  const content = Buffer.from(t + MESSAGE);
  const r = await arcSeal(content, t, sealerFor([key]), NOW);
  assert.ok(r.sealed, JSON.stringify(r));
  assert.equal(r.domain, "one.test");
  assert.equal(r.instance, 1);
  assert.match(r.headers, /^ARC-Seal: i=1; a=rsa-sha256; .*cv=none/m);
  assert.match(r.headers, /^ARC-Authentication-Results: i=1; mx\.one\.test; spf=pass smtp\.mailfrom=origin\.test; arc=none\r\n/m);
  const sealed = Buffer.concat([Buffer.from(r.headers), content]);
  const res = await authenticate(sealed, { ip: "127.0.0.1", helo: "mx.one.test", sender: "a@origin.test", mta: "mx.two.test", resolver: createMemoryResolve(zoneOf([key])) as never });
  assert.ok(res.arc);
  assert.equal(res.arc.status.result, "pass", JSON.stringify(res.arc.status));
});

test("second hop: a chain we validated (arc=pass) gets i=2 with cv=pass and still validates; arc=fail is not sealed", async () => {
  const k1 = await generateDkimKey("one.test", "rsa", NOW, []);
  const k2 = await generateDkimKey("two.test", "rsa", NOW, []);
  const t1 = trace("fwd@one.test", "none");
  const first = await arcSeal(Buffer.from(t1 + MESSAGE), t1, sealerFor([k1]), NOW);
  assert.ok(first.sealed);
  const hop1 = first.headers + t1 + MESSAGE;
  const t2 = trace("fwd@two.test", "pass").replace(/mx\.one\.test/g, "mx.two.test");
  const second = await arcSeal(Buffer.from(t2 + hop1), t2, sealerFor([k2]), NOW);
  assert.ok(second.sealed, JSON.stringify(second));
  assert.equal(second.instance, 2);
  assert.match(second.headers.replace(/\r\n[ \t]+/g, " "), /^ARC-Seal: i=2; [^\r\n]*cv=pass/m);
  const res = await authenticate(Buffer.from(second.headers + t2 + hop1), { ip: "127.0.0.1", helo: "mx.two.test", sender: "x@two.test", mta: "mx.three.test", resolver: createMemoryResolve(zoneOf([k1, k2])) as never });
  assert.ok(res.arc);
  assert.equal(res.arc.status.result, "pass", JSON.stringify(res.arc.status));
  assert.equal(res.arc.i, 2);

  const failed = trace("fwd@two.test", "fail");
  assert.deepEqual(await arcSeal(Buffer.from(failed + hop1), failed, sealerFor([k2]), NOW), { sealed: false, reason: "the incoming ARC chain failed validation" });
});

test("no key, or no forwarding address: not sealed, with the reason", async () => {
  const t = trace("fwd@nokey.test", "none");
  const r = await arcSeal(Buffer.from(t + MESSAGE), t, sealerFor([]), NOW);
  assert.equal(r.sealed, false);
  assert.match((r as { reason: string }).reason, /no active RSA DKIM key for nokey\.test/);
  const r2 = await arcSeal(Buffer.from(MESSAGE), "", sealerFor([]), NOW);
  assert.deepEqual(r2, { sealed: false, reason: "no Delivered-To in the trace fields" });
});
