import { test } from "node:test";
import assert from "node:assert/strict";
import { SYSTEM } from "./authz.ts";
import type { Actor } from "./authz.ts";
import { isAccountError } from "./errors.ts";
import { accountsFixture } from "./testing.ts";
import { APP_PASSWORD_ALPHABET, normalizeAppPassword } from "./app-passwords.ts";
import { createAuthenticator } from "../login/authenticator.ts";
import { LoginCache } from "../login/cache.ts";
import { LoginLimiter } from "../login/limiter.ts";

const PW = "the account password";
const code = (c: string) => (e: unknown) => isAccountError(e) && e.code === c;

test("app password: shown once, stored hashed, valid for mail login and never for the web login", async () => {
  const f = await accountsFixture();
  try {
    await f.accounts.addDomain(SYSTEM, "example.test");
    await f.accounts.addUser(SYSTEM, { address: "ann@example.test", password: PW });
    const { appPassword, secret } = await f.accounts.addAppPassword(SYSTEM, "ann@example.test", " Phone ");
    assert.equal(appPassword.name, "Phone");
    assert.match(secret, /^([a-z2-9]{4}-){4}[a-z2-9]{4}$/);
    for (const ch of secret.replace(/-/g, "")) assert.ok(APP_PASSWORD_ALPHABET.includes(ch));
    const rows = await f.store.appPasswords.list((await f.store.accounts.getUserByAddress("ann@example.test"))!.id);
    assert.equal(rows.length, 1);
    assert.match(rows[0].passwordHash, /^\$scrypt\$/);
    assert.ok(!JSON.stringify(rows).includes(secret.replace(/-/g, "")), "the secret is not stored");
    assert.ok(!JSON.stringify(await f.store.audit.list()).includes(secret.replace(/-/g, "")), "nor audited");

    const mail = await f.accounts.verifyMailLogin("ann@example.test", secret);
    assert.equal(mail?.user.address, "ann@example.test");
    assert.equal(mail?.appPassword?.id, appPassword.id);
    // Typed without dashes, with spaces, in capitals: the same secret.
    assert.ok(await f.accounts.verifyMailLogin("ann@example.test", secret.replace(/-/g, "")));
    assert.ok(await f.accounts.verifyMailLogin("ann@example.test", secret.replace(/-/g, " ").toUpperCase()));
    assert.equal((await f.accounts.verifyMailLogin("ann@example.test", PW))?.appPassword, null, "the account password works for mail too");

    assert.equal(await f.accounts.verifyWebLogin("ann@example.test", secret), null, "never for the web login");
    assert.equal(await f.accounts.authenticate("ann@example.test", secret), null, "authenticate() is the web login's");
    assert.equal((await f.accounts.verifyWebLogin("ann@example.test", PW))?.address, "ann@example.test");

    const listed = await f.accounts.listAppPasswords(SYSTEM, "ann@example.test");
    assert.deepEqual(Object.keys(listed[0]).sort(), ["createdAt", "id", "lastUsedAt", "name"]);
    assert.equal(typeof listed[0].lastUsedAt, "number", "last use recorded");

    await assert.rejects(f.accounts.addAppPassword(SYSTEM, "ann@example.test", "Phone"), code("exists"));
    await assert.rejects(f.accounts.addAppPassword(SYSTEM, "ann@example.test", "  "), code("invalid"));
    await assert.rejects(f.accounts.addAppPassword(SYSTEM, "ann@example.test", "x".repeat(65)), code("invalid"));

    // Another user's account password or app password is no good for ann.
    await f.accounts.addUser(SYSTEM, { address: "bob@example.test", password: "bob's password!" });
    const bobs = await f.accounts.addAppPassword(SYSTEM, "bob@example.test", "Phone");
    assert.equal(await f.accounts.verifyMailLogin("ann@example.test", bobs.secret), null);

    const revoked = await f.accounts.revokeAppPassword(SYSTEM, "ann@example.test", "Phone");
    assert.equal(revoked.id, appPassword.id);
    assert.equal(await f.accounts.verifyMailLogin("ann@example.test", secret), null);
    await assert.rejects(f.accounts.revokeAppPassword(SYSTEM, "ann@example.test", String(appPassword.id)), code("not-found"));
    assert.ok(await f.accounts.verifyMailLogin("bob@example.test", bobs.secret), "bob's stays");
    const log = (await f.store.audit.list()).map((e) => `${e.action} ${e.target}`);
    assert.ok(log.includes("app-password.add ann@example.test") && log.includes("app-password.revoke ann@example.test"));

    // Removing the user removes their app passwords with them.
    const bob = (await f.store.accounts.getUserByAddress("bob@example.test"))!;
    await f.accounts.removeUser(SYSTEM, "bob@example.test");
    assert.deepEqual(await f.store.appPasswords.list(bob.id), []);
  } finally {
    await f.close();
  }
});

test("app passwords: a user manages their own, a domain admin their domain's, nobody another's", async () => {
  const f = await accountsFixture();
  try {
    await f.accounts.addDomain(SYSTEM, "example.test");
    await f.accounts.addDomain(SYSTEM, "other.test");
    const ann = await f.accounts.addUser(SYSTEM, { address: "ann@example.test", password: PW });
    const da = await f.accounts.addUser(SYSTEM, { address: "da@other.test", password: PW, role: "domain-admin" });
    await f.accounts.addUser(SYSTEM, { address: "zed@other.test", password: PW });
    const asAnn: Actor = { kind: "user", user: ann };
    const asDa: Actor = { kind: "user", user: da };
    const mine = await f.accounts.addAppPassword(asAnn, "ann@example.test", "Laptop");
    await assert.rejects(f.accounts.addAppPassword(asAnn, "zed@other.test", "x"), code("forbidden"));
    await assert.rejects(f.accounts.listAppPasswords(asDa, "ann@example.test"), code("forbidden"));
    await assert.rejects(f.accounts.revokeAppPassword(asDa, "ann@example.test", mine.appPassword.id), code("forbidden"));
    await f.accounts.addAppPassword(asDa, "zed@other.test", "Phone");
    assert.equal((await f.accounts.listAppPasswords(asDa, "zed@other.test")).length, 1);
    // An id belonging to someone else is "not found" for this user.
    await assert.rejects(f.accounts.revokeAppPassword(SYSTEM, "zed@other.test", mine.appPassword.id), code("not-found"));
    assert.equal((await f.accounts.usage(asAnn, "ann@example.test")).usedBytes, 0);
    assert.equal((await f.accounts.usage(asAnn, "ann@example.test")).quotaBytes, 1000);
    await assert.rejects(f.accounts.usage(asAnn, "zed@other.test"), code("forbidden"));
  } finally {
    await f.close();
  }
});

test("change password: the current one is required for oneself; an admin resets without it", async () => {
  const f = await accountsFixture();
  try {
    await f.accounts.addDomain(SYSTEM, "example.test");
    const ann = await f.accounts.addUser(SYSTEM, { address: "ann@example.test", password: PW });
    const da = await f.accounts.addUser(SYSTEM, { address: "da@example.test", password: PW, role: "domain-admin" });
    const asAnn: Actor = { kind: "user", user: ann };
    await assert.rejects(f.accounts.changePassword(asAnn, "ann@example.test", "not it at all", "new password 1"), code("forbidden"));
    await assert.rejects(f.accounts.changePassword(asAnn, "ann@example.test", PW, "short"), code("invalid"));
    await assert.rejects(f.accounts.setPassword(asAnn, "ann@example.test", "new password 1"), code("forbidden"));
    await assert.rejects(f.accounts.changePassword(asAnn, "da@example.test", PW, "new password 1"), code("forbidden"));
    assert.ok(await f.accounts.verifyWebLogin("ann@example.test", PW), "nothing changed by the refusals");
    await f.accounts.changePassword(asAnn, "ann@example.test", PW, "new password 1");
    assert.equal(await f.accounts.verifyWebLogin("ann@example.test", PW), null);
    assert.ok(await f.accounts.verifyWebLogin("ann@example.test", "new password 1"));
    await f.accounts.setPassword({ kind: "user", user: da }, "ann@example.test", "reset by admin");
    assert.ok(await f.accounts.verifyWebLogin("ann@example.test", "reset by admin"));
  } finally {
    await f.close();
  }
});

test("login cache: a revoked app password fails at the next login though the login was cached", async () => {
  const f = await accountsFixture();
  try {
    await f.accounts.addDomain(SYSTEM, "example.test");
    await f.accounts.addUser(SYSTEM, { address: "ann@example.test", password: PW });
    const { secret } = await f.accounts.addAppPassword(SYSTEM, "ann@example.test", "Phone");
    const cache = new LoginCache({ secret: "k", clock: f.clock });
    const limiter = new LoginLimiter({ clock: f.clock });
    const auth = createAuthenticator({ accounts: f.accounts, store: f.store, limiter, cache, delay: async () => {} });
    const first = await auth("ann@example.test", secret, "127.0.27.9");
    assert.ok(first.ok && !first.cached && first.appPasswordId !== undefined);
    const second = await auth("ann@example.test", secret, "127.0.27.9");
    assert.ok(second.ok && second.cached, "the second login is a cache hit");
    await f.accounts.revokeAppPassword(SYSTEM, "ann@example.test", "Phone");
    assert.deepEqual(await auth("ann@example.test", secret, "127.0.27.9"), { ok: false, reason: "failed" });
    // A new app password with the same name is a new secret and a new id: the old one stays dead.
    const again = await f.accounts.addAppPassword(SYSTEM, "ann@example.test", "Phone");
    assert.deepEqual(await auth("ann@example.test", secret, "127.0.27.9"), { ok: false, reason: "failed" });
    assert.ok((await auth("ann@example.test", again.secret, "127.0.27.9")).ok);
  } finally {
    await f.close();
  }
});

test("normalizeAppPassword accepts only the 20-character alphabet", () => {
  assert.equal(normalizeAppPassword("abcd-efgh-ijkm-npqr-stuv"), "abcdefghijkmnpqrstuv");
  assert.equal(normalizeAppPassword("ABCD EFGH IJKM NPQR STUV"), "abcdefghijkmnpqrstuv");
  for (const bad of ["", "abcd", "abcd-efgh-ijkm-npqr-stu1", "abcd-efgh-ijkm-npqr-stuvw", "a".repeat(100), "abcd-efgh-ijkm-npqr-stul"]) assert.equal(normalizeAppPassword(bad), null, bad);
});
