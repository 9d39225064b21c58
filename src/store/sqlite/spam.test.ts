// The spam filter's SQLite tables (migration 150) on the side connection: training and
// retraining by blob, token counts, decayed reputation, counters, and that a removed user's
// rows go with it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { accountsFixture } from "../../accounts/testing.ts";
import { SYSTEM } from "../../accounts/authz.ts";
import { openSpamDb, SqliteSpamRepo } from "./spam.ts";
import { tokenHash } from "../../spam/bayes.ts";

async function fixture() {
  const f = await accountsFixture();
  await f.accounts.addDomain(SYSTEM, "example.test");
  const user = await f.accounts.addUser(SYSTEM, { address: "u@example.test", password: "a long test password" });
  const side = openSpamDb(f.dir, { clock: f.clock });
  return { f, user, side, repo: new SqliteSpamRepo(side) };
}

test("train, retrain as the other class, untrain: counts follow exactly", async () => {
  const { f, user, side, repo } = await fixture();
  try {
    const a = ["cheap", "pills", "now"].map(tokenHash);
    const b = ["meeting", "now"].map(tokenHash);
    assert.equal(await repo.train(user.id, 1, "spam", a, 1), true);
    assert.equal(await repo.train(user.id, 1, "spam", a, 2), false, "same class twice is a no-op");
    assert.equal(await repo.train(user.id, 2, "ham", b, 3), true);
    assert.equal(await repo.train(user.id, 3, "spam", b, 3), true);
    let t = await repo.totals(user.id);
    assert.deepEqual([t.ham, t.spam], [1, 2]);
    let c = await repo.tokenCounts(user.id, [tokenHash("now"), tokenHash("meeting")]);
    assert.deepEqual(c.get(tokenHash("now")), { ham: 1, spam: 2 });
    // The user changes their mind about message 1: ham now.
    assert.equal(await repo.train(user.id, 1, "ham", a, 4), true);
    assert.equal(await repo.trainedClass(user.id, 1), "ham");
    t = await repo.totals(user.id);
    assert.deepEqual([t.ham, t.spam], [2, 1]);
    c = await repo.tokenCounts(user.id, [tokenHash("cheap"), tokenHash("now")]);
    assert.deepEqual(c.get(tokenHash("cheap")), { ham: 1, spam: 0 });
    assert.deepEqual(c.get(tokenHash("now")), { ham: 2, spam: 1 });
    // Untrain removes tokens whose counts drop to zero.
    assert.equal(await repo.train(user.id, 1, null, a, 5), true);
    c = await repo.tokenCounts(user.id, [tokenHash("cheap")]);
    assert.equal(c.size, 0);
    // Many tokens (more than one IN chunk) train and untrain.
    const many = Array.from({ length: 1700 }, (_, i) => tokenHash(`t${i}`));
    await repo.train(user.id, 9, "spam", many, 6);
    assert.equal((await repo.tokenCounts(user.id, many)).size, 1700);
    await repo.train(user.id, 9, null, many, 7);
    assert.equal((await repo.tokenCounts(user.id, many)).size, 0);
  } finally {
    side.close();
    await f.close();
  }
});

test("reputation decays with its half-life; counters add up; a removed user's rows are purged", async () => {
  const { f, user, side, repo } = await fixture();
  try {
    const day = 86_400_000;
    await repo.updateReputation(user.id, [{ kind: "addr", key: "a@x.test", wrote: 1, seen: 2 }], 0, 10 * day);
    const r = await repo.reputation(user.id, "addr", "a@x.test", 10 * day, 10 * day);
    assert.ok(r && Math.abs(r.wrote - 0.5) < 1e-9 && Math.abs(r.seen - 1) < 1e-9, JSON.stringify(r));
    await repo.updateReputation(user.id, [{ kind: "addr", key: "a@x.test", wrote: 1 }], 10 * day, 10 * day);
    const r2 = await repo.reputation(user.id, "addr", "a@x.test", 10 * day, 10 * day);
    assert.ok(r2 && Math.abs(r2.wrote - 1.5) < 1e-9);
    assert.equal(await repo.reputation(user.id, "addr", "nobody@x.test", 0, day), null);
    await repo.count(user.id, "junk");
    await repo.count(user.id, "junk", 2);
    assert.deepEqual((await repo.counters(user.id)).map((r) => ({ ...r })), [{ userId: user.id, name: "junk", value: 3 }]);
    await repo.train(user.id, 1, "spam", [1, 2, 3], 1);
    await f.store.accounts.removeUser(user.id);
    assert.ok((await repo.purgeUsersExcept((await f.store.accounts.listUsers()).map((u) => u.id))) >= 4);
    assert.deepEqual(await repo.counters(), []);
    assert.deepEqual(await repo.tokenRows(), []);
    assert.equal((await repo.totals(user.id)).spam, 0);
  } finally {
    side.close();
    await f.close();
  }
});
