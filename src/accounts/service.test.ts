import { test } from "node:test";
import assert from "node:assert/strict";
import { SYSTEM } from "./authz.ts";
import type { Actor } from "./authz.ts";
import { isAccountError } from "./errors.ts";
import { accountsFixture } from "./testing.ts";
import type { AccountsFixture } from "./testing.ts";
import { checkQuota, checkUserQuota, effectiveQuota } from "./quota.ts";

const PW = "correct horse battery";

async function withAccounts(fn: (f: AccountsFixture) => Promise<void>): Promise<void> {
  const f = await accountsFixture({ defaultQuotaBytes: 1000 });
  try {
    await f.accounts.addDomain(SYSTEM, "example.com");
    await fn(f);
  } finally {
    await f.close();
  }
}

function code(c: string) {
  return (e: unknown) => isAccountError(e) && e.code === c;
}

test("a new user gets the six standard mailboxes with RFC 6154 special-use", async () => {
  await withAccounts(async ({ accounts, store }) => {
    const u = await accounts.addUser(SYSTEM, { address: "ann@example.com", password: PW });
    const boxes = (await store.mail.listMailboxes(u.id)).map((m) => `${m.name}:${m.specialUse ?? "-"}`).sort();
    assert.deepEqual(boxes, ["Archive:\\Archive", "Drafts:\\Drafts", "INBOX:-", "Junk:\\Junk", "Sent:\\Sent", "Trash:\\Trash"]);
  });
});

test("domains: add, duplicate, invalid, list, remove refused while users remain", async () => {
  await withAccounts(async ({ accounts }) => {
    await assert.rejects(accounts.addDomain(SYSTEM, "EXAMPLE.com"), code("exists"));
    await assert.rejects(accounts.addDomain(SYSTEM, "bad_domain!"), code("invalid"));
    const d = await accounts.addDomain(SYSTEM, "Bücher.example");
    assert.equal(d.name, "xn--bcher-kva.example");
    assert.deepEqual((await accounts.listDomains(SYSTEM)).map((x) => x.name), ["example.com", "xn--bcher-kva.example"]);
    await accounts.addUser(SYSTEM, { address: "ann@example.com", password: PW });
    await accounts.addAlias(SYSTEM, "team@example.com", ["ann@example.com"]);
    await assert.rejects(accounts.removeDomain(SYSTEM, "example.com"), (e: unknown) => code("in-use")(e) && /1 user/.test((e as Error).message));
    await accounts.removeUser(SYSTEM, "ann@example.com");
    await accounts.removeDomain(SYSTEM, "example.com");
    assert.deepEqual((await accounts.listDomains(SYSTEM)).map((x) => x.name), ["xn--bcher-kva.example"]);
    await assert.rejects(accounts.removeDomain(SYSTEM, "example.com"), code("not-found"));
  });
});

test("users: validation, duplicates with users and aliases, unknown domain", async () => {
  await withAccounts(async ({ accounts }) => {
    await assert.rejects(accounts.addUser(SYSTEM, { address: "ann@nowhere.test", password: PW }), code("not-found"));
    await assert.rejects(accounts.addUser(SYSTEM, { address: "ann", password: PW }), code("invalid"));
    await assert.rejects(accounts.addUser(SYSTEM, { address: "a+b@example.com", password: PW }), code("invalid"));
    await assert.rejects(accounts.addUser(SYSTEM, { address: "a..b@example.com", password: PW }), code("invalid"));
    await assert.rejects(accounts.addUser(SYSTEM, { address: `${"x".repeat(65)}@example.com`, password: PW }), code("invalid"));
    await assert.rejects(accounts.addUser(SYSTEM, { address: "ann@example.com", password: "short" }), code("invalid"));
    await assert.rejects(accounts.addUser(SYSTEM, { address: "ann@example.com", password: "with\nnewline" }), code("invalid"));
    await assert.rejects(accounts.addUser(SYSTEM, { address: "ann@example.com", password: PW, quotaBytes: -1 }), code("invalid"));
    await accounts.addUser(SYSTEM, { address: "Ann@example.com", password: PW });
    await assert.rejects(accounts.addUser(SYSTEM, { address: "ANN@example.com", password: PW }), code("exists"));
    await accounts.addAlias(SYSTEM, "team@example.com", ["ann@example.com"]);
    await assert.rejects(accounts.addUser(SYSTEM, { address: "team@example.com", password: PW }), code("exists"));
    // UTF-8 local parts (RFC 6531) are allowed and compared case-insensitively.
    await accounts.addUser(SYSTEM, { address: "Jörg@example.com", password: PW });
    assert.equal((await accounts.getUser(SYSTEM, "JÖRG@example.com")).address, "jörg@example.com");
  });
});

test("passwords: authenticate, change, disable; hashes are scrypt, never the password", async () => {
  await withAccounts(async ({ accounts, store }) => {
    await accounts.addUser(SYSTEM, { address: "ann@example.com", password: PW });
    const u = await store.accounts.getUserByAddress("ann@example.com");
    assert.match(u!.passwordHash, /^\$scrypt\$/);
    assert.ok(!u!.passwordHash.includes(PW));
    assert.equal((await accounts.authenticate("ANN@example.com", PW))?.address, "ann@example.com");
    assert.equal(await accounts.authenticate("ann@example.com", "wrong password"), null);
    assert.equal(await accounts.authenticate("nobody@example.com", PW), null);
    assert.equal(await accounts.authenticate("not an address", PW), null);
    await accounts.setPassword(SYSTEM, "ann@example.com", "a new long password");
    assert.equal(await accounts.authenticate("ann@example.com", PW), null);
    assert.ok(await accounts.authenticate("ann@example.com", "a new long password"));
    await accounts.setDisabled(SYSTEM, "ann@example.com", true);
    assert.equal(await accounts.authenticate("ann@example.com", "a new long password"), null);
  });
});

test("aliases: add merges targets, catch-all, remove targets or all, self-reference refused", async () => {
  await withAccounts(async ({ accounts }) => {
    const a = await accounts.addAlias(SYSTEM, "Team@example.com", ["ANN@example.com", "Bob@Outside.Example"]);
    assert.equal(a.created, true);
    assert.deepEqual(a.alias.targets, ["ann@example.com", "Bob@outside.example"]);
    const b = await accounts.addAlias(SYSTEM, "team@example.com", ["carl@example.com", "ann@example.com"]);
    assert.equal(b.created, false);
    assert.deepEqual(b.alias.targets, ["ann@example.com", "Bob@outside.example", "carl@example.com"]);
    await accounts.addAlias(SYSTEM, "@example.com", ["ann@example.com"]);
    assert.deepEqual((await accounts.listAliases(SYSTEM)).map((x) => x.address), ["@example.com", "team@example.com"]);
    await assert.rejects(accounts.addAlias(SYSTEM, "loop@example.com", ["LOOP@example.com"]), code("invalid"));
    await assert.rejects(accounts.addAlias(SYSTEM, "x@example.com", []), code("invalid"));
    await assert.rejects(accounts.addAlias(SYSTEM, "x@example.com", ["not-an-address"]), code("invalid"));
    await accounts.removeAlias(SYSTEM, "team@example.com", ["bob@outside.example"]);
    assert.deepEqual((await accounts.listAliases(SYSTEM, "example.com")).find((x) => x.address === "team@example.com")?.targets, [
      "ann@example.com",
      "carl@example.com",
    ]);
    await assert.rejects(accounts.removeAlias(SYSTEM, "team@example.com", ["zed@example.com"]), code("not-found"));
    await accounts.removeAlias(SYSTEM, "team@example.com");
    await accounts.removeAlias(SYSTEM, "@example.com");
    assert.deepEqual(await accounts.listAliases(SYSTEM), []);
    await assert.rejects(accounts.removeAlias(SYSTEM, "team@example.com"), code("not-found"));
  });
});

test("roles: domain admins manage their own domain only; users only their password", async () => {
  await withAccounts(async ({ accounts }) => {
    await accounts.addDomain(SYSTEM, "other.test");
    const root = await accounts.addUser(SYSTEM, { address: "root@example.com", password: PW, role: "admin" });
    const da = await accounts.addUser(SYSTEM, { address: "da@example.com", password: PW, role: "domain-admin" });
    const ann = await accounts.addUser(SYSTEM, { address: "ann@example.com", password: PW });
    await accounts.addUser(SYSTEM, { address: "zed@other.test", password: PW });
    const asDa: Actor = { kind: "user", user: da };
    const asAnn: Actor = { kind: "user", user: ann };
    const asRoot: Actor = { kind: "user", user: root };

    await accounts.addUser(asDa, { address: "new@example.com", password: PW });
    await assert.rejects(accounts.addUser(asDa, { address: "new@other.test", password: PW }), code("forbidden"));
    await assert.rejects(accounts.addUser(asDa, { address: "boss@example.com", password: PW, role: "admin" }), code("forbidden"));
    await assert.rejects(accounts.setPassword(asDa, "root@example.com", "another long one"), code("forbidden"));
    await assert.rejects(accounts.addDomain(asDa, "third.test"), code("forbidden"));
    await accounts.setPassword(asDa, "ann@example.com", "another long one");
    assert.deepEqual((await accounts.listUsers(asDa)).map((u) => u.address), ["ann@example.com", "da@example.com", "new@example.com", "root@example.com"]);
    assert.deepEqual((await accounts.listDomains(asDa)).map((d) => d.name), ["example.com"]);
    await accounts.addAlias(asDa, "sales@example.com", ["ann@example.com"]);
    await assert.rejects(accounts.addAlias(asDa, "sales@other.test", ["ann@example.com"]), code("forbidden"));

    await assert.rejects(accounts.setPassword(asAnn, "ann@example.com", "my own new password"), code("forbidden"));
    await accounts.changePassword(asAnn, "ann@example.com", "another long one", "my own new password");
    await assert.rejects(accounts.setPassword(asAnn, "new@example.com", "my own new password"), code("forbidden"));
    await assert.rejects(accounts.listUsers(asAnn), code("forbidden"));
    await assert.rejects(accounts.setDisabled(asAnn, "ann@example.com", true), code("forbidden"));

    await accounts.addDomain(asRoot, "third.test");
    await accounts.setRole(asRoot, "ann@example.com", "domain-admin");
    assert.equal((await accounts.getUser(SYSTEM, "ann@example.com")).role, "domain-admin");
  });
});

test("quota: own value or the default, 0 unlimited; list shows usage", async () => {
  await withAccounts(async ({ accounts, store }) => {
    const ann = await accounts.addUser(SYSTEM, { address: "ann@example.com", password: PW });
    const bob = await accounts.addUser(SYSTEM, { address: "bob@example.com", password: PW, quotaBytes: 50 });
    const cat = await accounts.addUser(SYSTEM, { address: "cat@example.com", password: PW, quotaBytes: 0 });
    assert.equal(effectiveQuota(ann, 1000), 1000);
    assert.equal(effectiveQuota(bob, 1000), 50);
    assert.equal(accounts.quotaOf(cat), 0);
    const views = await accounts.listUsers(SYSTEM);
    assert.deepEqual(
      views.map((v) => [v.address, v.quotaBytes, v.quotaIsDefault, v.usedBytes]),
      [
        ["ann@example.com", 1000, true, 0],
        ["bob@example.com", 50, false, 0],
        ["cat@example.com", 0, false, 0],
      ],
    );
    assert.deepEqual(await checkUserQuota(store.mail, bob, 50, 1000), { ok: true });
    assert.deepEqual(await checkUserQuota(store.mail, bob, 51, 1000), { ok: false, usedBytes: 0, quotaBytes: 50, messageBytes: 51 });
    assert.deepEqual(await checkUserQuota(store.mail, cat, 10 ** 12, 1000), { ok: true });
    await accounts.setQuota(SYSTEM, "bob@example.com", null);
    assert.equal((await accounts.listUsers(SYSTEM)).find((v) => v.address === "bob@example.com")?.quotaBytes, 1000);
  });
});

test("checkQuota: usage + size over the quota is refused, exactly full is allowed", () => {
  assert.deepEqual(checkQuota(900, 1000, 100), { ok: true });
  assert.deepEqual(checkQuota(900, 1000, 101), { ok: false, usedBytes: 900, quotaBytes: 1000, messageBytes: 101 });
  assert.deepEqual(checkQuota(5000, 1000, 1), { ok: false, usedBytes: 5000, quotaBytes: 1000, messageBytes: 1 });
  assert.deepEqual(checkQuota(10 ** 15, 0, 10 ** 9), { ok: true });
});

test("every change is audited with its actor", async () => {
  await withAccounts(async ({ accounts, store }) => {
    await accounts.addUser(SYSTEM, { address: "ann@example.com", password: PW });
    await accounts.setPassword(SYSTEM, "ann@example.com", "another long one");
    const log = (await store.audit.list()).map((e) => `${e.actor} ${e.action} ${e.target}`);
    assert.deepEqual(log, ["cli user.passwd ann@example.com", "cli user.add ann@example.com", "cli domain.add example.com"]);
  });
});
