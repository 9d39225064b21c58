import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ManualClock } from "../clock.ts";
import { deriveSrsKey, isSrsLocalPart, srsBounceTarget, srsForward, srsReverse, srsTimestamp } from "./srs.ts";
import type { SrsOptions } from "./srs.ts";

const DAY = 86_400_000;

function opts(forwarderDomain = "fwd.example", secret = "server secret one"): SrsOptions {
  return {
    key: deriveSrsKey(secret),
    forwarderDomain,
    isLocalDomain: (d) => d === "fwd.example" || d === "local.example",
  };
}

test("SRS0 round trip: the bounce goes back to the original sender", () => {
  const clock = new ManualClock(Date.UTC(2026, 10, 23));
  const o = opts();
  const fwd = srsForward("Alice.Smith@Sender.Example", o, clock.now());
  assert.match(fwd, /^SRS0=[A-Za-z0-9+/]{6}=[A-Z2-7]{2}=sender\.example=Alice\.Smith@fwd\.example$/);
  assert.deepEqual(srsReverse(fwd, o, clock.now()), { ok: true, address: "Alice.Smith@sender.example" });
});

test("the timestamp is the day number mod 1024 in base32", () => {
  assert.equal(srsTimestamp(0), "AA");
  assert.equal(srsTimestamp(DAY * 33), "BB");
  assert.equal(srsTimestamp(DAY * 1023), "77");
  assert.equal(srsTimestamp(DAY * 1024), "AA", "wraps");
});

test("addresses expire after 21 days, also across the 1024-day wrap", () => {
  const o = opts();
  for (const start of [Date.UTC(2026, 0, 1), DAY * 1020 + 5]) {
    const clock = new ManualClock(start);
    const fwd = srsForward("a@b.example", o, clock.now());
    clock.advance(21 * DAY);
    assert.equal(srsReverse(fwd, o, clock.now()).ok, true, "day 21 still valid");
    clock.advance(DAY);
    assert.deepEqual(srsReverse(fwd, o, clock.now()), { ok: false, reason: "expired" });
  }
});

test("tampering with any field or using another key is detected", () => {
  const now = Date.UTC(2026, 5, 1);
  const o = opts();
  const fwd = srsForward("user@example.com", o, now);
  const [local, dom] = fwd.split("@");
  const f = local.split("=");
  const variants = [
    `${f[0]}=${f[1]}=${f[2]}=example.co=muser@${dom}`, // shifted domain/local boundary
    `${f[0]}=${f[1]}=${f[2]}=evil.example=${f[4]}@${dom}`,
    `${f[0]}=${f[1]}=${f[2]}=${f[3]}=victim@${dom}`,
    `${f[0]}=${f[1]}=${srsTimestamp(now + DAY)}=${f[3]}=${f[4]}@${dom}`,
  ];
  for (const v of variants) assert.deepEqual(srsReverse(v, o, now), { ok: false, reason: "bad-hash" }, v);
  assert.deepEqual(srsReverse(fwd, opts("fwd.example", "another secret"), now), { ok: false, reason: "bad-hash" });
});

test("the hash compares case-insensitively (some hops lower-case the local part)", () => {
  const now = Date.UTC(2026, 5, 1);
  const o = opts();
  const fwd = srsForward("User@Example.com", o, now);
  const lower = fwd.toLowerCase();
  assert.deepEqual(srsReverse(lower, o, now), { ok: true, address: "user@example.com" });
  assert.deepEqual(srsReverse(fwd.toUpperCase(), o, now), { ok: true, address: "USER@EXAMPLE.COM" });
});

test("no rewriting for the null sender or for our own domains", () => {
  const o = opts();
  assert.equal(srsForward("", o, 0), "");
  assert.equal(srsForward("boss@local.example", o, 0), "boss@local.example");
  assert.equal(srsForward("boss@LOCAL.example", o, 0), "boss@LOCAL.example");
});

test("forwarding an SRS0 address makes SRS1 that bounces to the first forwarder", () => {
  const now = Date.UTC(2026, 5, 1);
  const first = opts("first.example", "first secret");
  const second: SrsOptions = { ...opts("second.example", "second secret"), isLocalDomain: () => false };
  const srs0 = srsForward("alice@origin.example", first, now);
  const srs1 = srsForward(srs0, second, now);
  assert.match(srs1, /^SRS1=[^=]{6}=first\.example==[^=]{6}=[A-Z2-7]{2}=origin\.example=alice@second\.example$/);
  const back = srsReverse(srs1, second, now);
  assert.deepEqual(back, { ok: true, address: srs0 });
  assert.deepEqual(srsReverse(srs0, first, now), { ok: true, address: "alice@origin.example" });

  // A third forwarder keeps the first forwarder, so the bounce path does not grow.
  const third: SrsOptions = { ...opts("third.example", "third secret"), isLocalDomain: () => false };
  const again = srsForward(srs1, third, now);
  assert.match(again, /^SRS1=[^=]{6}=first\.example==.*@third\.example$/);
  assert.deepEqual(srsReverse(again, third, now), { ok: true, address: srs0 });
  // Tampered SRS1 host.
  assert.deepEqual(srsReverse(srs1.replace("=first.example=", "=evil.example="), second, now), {
    ok: false,
    reason: "bad-hash",
  });
});

test("addresses that are not SRS or are cut short are told apart", () => {
  const o = opts();
  assert.deepEqual(srsReverse("plain@fwd.example", o, 0), { ok: false, reason: "not-srs" });
  assert.deepEqual(srsReverse("SRS0=abc@fwd.example", o, 0), { ok: false, reason: "malformed" });
  assert.deepEqual(srsReverse("SRS0=abcdef=!!=d=l@fwd.example", o, 0), { ok: false, reason: "malformed" });
  assert.deepEqual(srsReverse("SRS1=abc@fwd.example", o, 0), { ok: false, reason: "malformed" });
  assert.equal(isSrsLocalPart("srs0+x"), true);
  assert.equal(isSrsLocalPart("srs2=x"), false);
});

test("round trip holds for arbitrary local parts, including '=' and '+'", () => {
  const o = opts();
  const atext = fc.constantFrom(..."abcXYZ019!#$%&'*+-/=?^_`{|}~.".split(""));
  fc.assert(
    fc.property(fc.string({ unit: atext, minLength: 1, maxLength: 30 }), fc.integer({ min: 0, max: 4e12 }), (local, now) => {
      const fwd = srsForward(`${local}@remote.example`, o, now);
      const r = srsReverse(fwd, o, now);
      return r.ok && r.address === `${local}@remote.example`;
    }),
  );
});

test("srsBounceTarget: SRS at the forwarder domain or a hosted domain is reversed or refused; others are not SRS", async () => {
  const now = Date.UTC(2026, 5, 1);
  const o = opts();
  const hosted = async (d: string) => d === "local.example";
  const fwd = srsForward("alice@origin.example", o, now);
  const check = { ...o, forwarderDomain: "fwd.example" };
  assert.deepEqual(await srsBounceTarget(fwd, check, hosted, now), { kind: "reverse", address: "alice@origin.example" });
  assert.deepEqual(await srsBounceTarget(fwd.replace("@fwd.example", "@LOCAL.example"), check, hosted, now), { kind: "reverse", address: "alice@origin.example" });
  // Not one of ours: left to the usual recipient rules (which refuse relaying).
  assert.deepEqual(await srsBounceTarget(fwd.replace("@fwd.example", "@elsewhere.example"), check, hosted, now), { kind: "not-srs" });
  assert.deepEqual(await srsBounceTarget("alice@fwd.example", check, hosted, now), { kind: "not-srs" });
  assert.deepEqual(await srsBounceTarget(fwd.replace(/^SRS0=../, "SRS0=zz"), check, hosted, now), { kind: "refused", reason: "bad-hash" });
  assert.deepEqual(await srsBounceTarget(fwd, check, hosted, now + 22 * DAY), { kind: "refused", reason: "expired" });
  assert.deepEqual(await srsBounceTarget("SRS0=abc@fwd.example", check, hosted, now), { kind: "refused", reason: "malformed" });
});
