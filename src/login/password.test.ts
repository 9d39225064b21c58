import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_SCRYPT, PASSWORD_ALPHABET, generatePassword, hashPassword, needsRehash, verifyPassword } from "./password.ts";

// Cheap parameters keep the suite fast; one test uses the real ones.
const FAST = { ln: 10, r: 8, p: 1 };

test("a hash verifies its password and no other", async () => {
  const h = await hashPassword("correct horse", FAST);
  assert.match(h, /^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
  assert.equal(await verifyPassword("correct horse", h), true);
  assert.equal(await verifyPassword("correct horsf", h), false);
  assert.equal(await verifyPassword("", h), false);
});

test("the same password hashes differently each time (random salt)", async () => {
  const a = await hashPassword("pw", FAST);
  const b = await hashPassword("pw", FAST);
  assert.notEqual(a, b);
  assert.equal(await verifyPassword("pw", a), true);
  assert.equal(await verifyPassword("pw", b), true);
});

test("passwords are compared after NFC normalisation", async () => {
  const h = await hashPassword("caf\u00e9", FAST);
  assert.equal(await verifyPassword("cafe\u0301", h), true);
});

test("default parameters: encoded in the hash and memory-hard enough to slow offline guessing", async () => {
  const h = await hashPassword("pw");
  assert.ok(h.startsWith(`$scrypt$ln=${DEFAULT_SCRYPT.ln},r=${DEFAULT_SCRYPT.r},p=${DEFAULT_SCRYPT.p}$`));
  assert.equal(await verifyPassword("pw", h), true);
  // scrypt's memory per hash is 128·r·N·p bytes (RFC 7914 §2, §5); that, not wall time, is what
  // makes offline guessing expensive. A cost property instead of a stopwatch: tests never assert
  // speed. 16 MiB is the floor we accept (the scrypt paper's interactive setting, N=2^14 r=8).
  const memory = 128 * DEFAULT_SCRYPT.r * 2 ** DEFAULT_SCRYPT.ln * DEFAULT_SCRYPT.p;
  assert.ok(memory >= 16 * 1024 * 1024, `scrypt memory per hash is ${memory} bytes`);
  assert.equal(needsRehash(h), false);
});

test("malformed or over-expensive hashes never verify", async () => {
  const good = await hashPassword("pw", FAST);
  for (const bad of ["", "!", "pw", good.replace("$scrypt$", "$argon2$"), good.replace("ln=10", "ln=40"), good.replace("p=1", "p=0"), good.slice(0, -30)]) {
    assert.equal(await verifyPassword("pw", bad), false, bad);
    assert.equal(needsRehash(bad), true, bad);
  }
});

test("needsRehash notices weaker parameters", async () => {
  const h = await hashPassword("pw", FAST);
  assert.equal(needsRehash(h), true);
  assert.equal(needsRehash(h, FAST), false);
});

test("generated passwords: 20 readable characters, all different", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const p = generatePassword();
    assert.equal(p.length, 20);
    for (const ch of p) assert.ok(PASSWORD_ALPHABET.includes(ch), ch);
    assert.doesNotMatch(p, /[0O1lI]/);
    seen.add(p);
  }
  assert.equal(seen.size, 200);
});
