import { test } from "node:test";
import assert from "node:assert/strict";
import { createPublicKey } from "node:crypto";
import { ManualClock } from "../clock.ts";
import {
  DkimTransitionError,
  MIN_RETIRING_MS,
  activate,
  discard,
  dkimRecordName,
  dkimTxtRecord,
  generateDkimKey,
  isPublished,
  markPublished,
  nextRotationActions,
  publicKeyFromPrivate,
  recordsToPublish,
  retire,
  selectorFor,
  signingKeys,
  txtStrings,
} from "./dkim-keys.ts";
import type { DkimKey } from "./dkim-keys.ts";

const DAY = 86_400_000;
const NOV = Date.UTC(2026, 10, 23);

test("selectors are named by month and type, numbered when taken", () => {
  assert.equal(selectorFor("rsa", NOV, []), "fh202611r");
  assert.equal(selectorFor("ed25519", NOV, ["fh202611r"]), "fh202611e");
  assert.equal(selectorFor("rsa", NOV, ["fh202611r", "FH202611R2"]), "fh202611r3");
  assert.equal(selectorFor("rsa", Date.UTC(2027, 0, 1), ["fh202611r"]), "fh202701r");
});

test("generated keys: RSA-2048 with an SPKI p=, Ed25519 with the raw 32-byte p=", async () => {
  const rsa = await generateDkimKey("Example.COM", "rsa", NOV, []);
  assert.equal(rsa.domain, "example.com");
  assert.equal(rsa.state, "new");
  const spki = createPublicKey({ key: Buffer.from(rsa.publicKey, "base64"), format: "der", type: "spki" });
  assert.equal(spki.asymmetricKeyType, "rsa");
  assert.equal(spki.asymmetricKeyDetails?.modulusLength, 2048);
  assert.equal(publicKeyFromPrivate("rsa", rsa.privateKeyPem), rsa.publicKey);

  const ed = await generateDkimKey("example.com", "ed25519", NOV, [rsa.selector]);
  assert.equal(ed.selector, "fh202611e");
  assert.equal(Buffer.from(ed.publicKey, "base64").length, 32);
  assert.equal(publicKeyFromPrivate("ed25519", ed.privateKeyPem), ed.publicKey);

  assert.equal(dkimRecordName(ed), "fh202611e._domainkey.example.com");
  assert.equal(dkimTxtRecord(ed), `v=DKIM1; k=ed25519; p=${ed.publicKey}`);
  const record = dkimTxtRecord(rsa);
  assert.match(record, /^v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]+$/);
  const parts = txtStrings(record);
  assert.ok(parts.length >= 2 && parts.every((p) => p.length <= 255));
  assert.equal(parts.join(""), record);
});

function fakeKey(selector: string, type: DkimKey["type"], createdAt: number, state: DkimKey["state"] = "new"): DkimKey {
  return { domain: "example.com", selector, type, privateKeyPem: "PEM", publicKey: `pub-${selector}`, state, createdAt };
}

test("a key is published only when the live record carries its exact key", () => {
  const k = fakeKey("fh202611r", "rsa", NOV);
  const live = [["v=DKIM1; k=rsa; ", "p=pub-fh202611r"]];
  assert.equal(isPublished(k, live), true);
  assert.equal(isPublished(k, [["v=DKIM1; k=rsa; p=pub-other"]]), false);
  assert.equal(isPublished(k, [["v=DKIM1; k=ed25519; p=pub-fh202611r"]]), false);
  assert.equal(isPublished(k, []), false);
  assert.throws(() => markPublished(k, [], NOV), DkimTransitionError);
  const p = markPublished(k, live, NOV + 1);
  assert.equal(p.state, "published");
  assert.equal(p.publishedAt, NOV + 1);
  assert.throws(() => markPublished(p, live, NOV), DkimTransitionError, "only from new");
});

test("a full rotation walked with the clock: new → published → active → retiring ≥ 7 days → retired", () => {
  const clock = new ManualClock(NOV);
  let keys: DkimKey[] = [fakeKey("fh202610r", "rsa", NOV - 40 * DAY, "active"), fakeKey("fh202610e", "ed25519", NOV - 40 * DAY, "active")];
  keys[0].activatedAt = keys[1].activatedAt = NOV - 39 * DAY;
  assert.deepEqual(nextRotationActions(keys, clock.now()), []);

  keys.push(fakeKey("fh202611r", "rsa", clock.now()));
  assert.deepEqual(
    nextRotationActions(keys, clock.now()).map((a) => a.kind),
    ["publish-and-check"],
  );
  assert.throws(() => activate(keys, "fh202611r", clock.now()), DkimTransitionError, "not before it is published");

  clock.advance(3600_000);
  keys = keys.map((k) => (k.selector === "fh202611r" ? markPublished(k, [[dkimTxtRecord(k)]], clock.now()) : k));
  assert.deepEqual(nextRotationActions(keys, clock.now()), [{ kind: "activate", selector: "fh202611r" }]);

  keys = activate(keys, "fh202611r", clock.now());
  const by = (s: string) => keys.find((k) => k.selector === s)!;
  assert.equal(by("fh202611r").state, "active");
  assert.equal(by("fh202610r").state, "retiring");
  assert.equal(by("fh202610e").state, "active", "the other type is untouched");
  assert.deepEqual(signingKeys(keys).map((k) => k.selector).sort(), ["fh202610e", "fh202611r"]);
  assert.deepEqual(
    recordsToPublish(keys).map((r) => r.name).sort(),
    ["fh202610e._domainkey.example.com", "fh202610r._domainkey.example.com", "fh202611r._domainkey.example.com"],
  );

  // Every day for a week the old key stays published; on day 7 it may go.
  for (let day = 1; day < 7; day++) {
    clock.advance(DAY);
    assert.deepEqual(nextRotationActions(keys, clock.now()), [], `day ${day}`);
    assert.throws(() => retire(by("fh202610r"), clock.now()), DkimTransitionError);
  }
  clock.advance(DAY);
  assert.deepEqual(nextRotationActions(keys, clock.now()), [{ kind: "retire", selector: "fh202610r" }]);
  const retired = retire(by("fh202610r"), clock.now());
  assert.equal(retired.state, "retired");
  assert.equal(retired.privateKeyPem, "", "the private key is dropped");
  assert.equal(clock.now() - by("fh202610r").retiringAt!, MIN_RETIRING_MS);
  keys = keys.map((k) => (k.selector === retired.selector ? retired : k));
  assert.ok(!recordsToPublish(keys).some((r) => r.name.startsWith("fh202610r.")));
});

test("an older published key does not displace a newer active one; abandoned keys are discarded", () => {
  const keys = [fakeKey("fh202611r", "rsa", NOV, "active"), fakeKey("fh202610r", "rsa", NOV - 30 * DAY, "published")];
  assert.deepEqual(nextRotationActions(keys, NOV), []);
  assert.equal(discard(keys[1], NOV).state, "retired");
  assert.throws(() => discard(keys[0], NOV), DkimTransitionError, "an active key is retired through rotation");
});
