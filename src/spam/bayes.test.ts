import { test } from "node:test";
import assert from "node:assert/strict";
import { chi2Q, classify, MemoryModel, MIN_TRAINED, tokenHash, tokenProbability } from "./bayes.ts";

test("chi2Q matches known values of the chi-squared survival function", () => {
  // Q(x², 2): e^(-x²/2). Q(2, 2) = e^-1.
  assert.ok(Math.abs(chi2Q(2, 2) - Math.exp(-1)) < 1e-12);
  // Q(x², 4) = e^-m (1 + m), m = x²/2.
  assert.ok(Math.abs(chi2Q(6, 4) - Math.exp(-3) * 4) < 1e-12);
  assert.equal(chi2Q(0, 10), 1);
});

test("a token seen only in spam is spammy, shrunk towards 0.5 while rare", () => {
  const t = { ham: 100, spam: 100 };
  const once = tokenProbability({ ham: 0, spam: 1 }, t);
  const often = tokenProbability({ ham: 0, spam: 50 }, t);
  assert.ok(once > 0.6 && once < 0.9, `once ${once}`);
  assert.ok(often > 0.99, `often ${often}`);
  assert.equal(tokenProbability({ ham: 5, spam: 5 }, t), 0.5);
  assert.equal(tokenProbability({ ham: 0, spam: 0 }, t), 0.5);
});

test("trained model separates spam-like from ham-like token sets; unknown tokens stay unsure", () => {
  const m = new MemoryModel();
  for (let i = 0; i < MIN_TRAINED + 5; i++) {
    m.train(["viagra", "cheap", "offer", `s${i}`], "spam");
    m.train(["meeting", "agenda", "thanks", `h${i}`], "ham");
  }
  const spam = m.classify(["cheap", "viagra", "new"]);
  const ham = m.classify(["agenda", "meeting"]);
  const unsure = m.classify(["zebra", "quux"]);
  assert.ok(spam.trained);
  assert.ok(spam.probability > 0.95, `spam ${spam.probability}`);
  assert.ok(ham.probability < 0.05, `ham ${ham.probability}`);
  assert.equal(unsure.probability, 0.5);
  assert.equal(unsure.used, 0);
  // Contradictory evidence lands in the middle.
  const mixed = m.classify(["cheap", "viagra", "agenda", "meeting"]);
  assert.ok(mixed.probability > 0.2 && mixed.probability < 0.8, `mixed ${mixed.probability}`);
});

test("untraining restores the counts exactly", () => {
  const m = new MemoryModel();
  m.train(["a", "b"], "spam");
  m.train(["b", "c"], "ham");
  m.train(["a", "b"], "spam", -1);
  assert.deepEqual(m.totals, { ham: 1, spam: 0 });
  assert.equal(m.counts.get(tokenHash("a")), undefined);
  assert.deepEqual(m.counts.get(tokenHash("b")), { ham: 1, spam: 0 });
});

test("tokenHash is a stable safe integer of 52 bits", () => {
  assert.equal(tokenHash("hello"), tokenHash("hello"));
  assert.notEqual(tokenHash("hello"), tokenHash("hellp"));
  for (const t of ["", "a", "s:subject", "ü".repeat(100)]) {
    const h = tokenHash(t);
    assert.ok(Number.isSafeInteger(h) && h >= 0 && h < 2 ** 52, String(h));
  }
});

test("classify never returns NaN, even with extreme counts", () => {
  const tokens = Array.from({ length: 300 }, (_, i) => `t${i}`);
  const r = classify(tokens, () => ({ ham: 0, spam: 1e9 }), { ham: 1, spam: 1e9 });
  assert.ok(Number.isFinite(r.probability) && r.probability > 0.99);
  assert.equal(r.used, 150);
});
