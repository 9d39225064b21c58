import { test } from "node:test";
import assert from "node:assert/strict";
import { SYSTEM } from "./authz.ts";
import { accountsFixture } from "./testing.ts";
import type { AccountsFixture } from "./testing.ts";
import { MAX_ALIAS_DEPTH, MAX_EXPANSION } from "./resolve.ts";
import type { Resolution } from "./resolve.ts";

const PW = "correct horse battery";

async function withAccounts(fn: (f: AccountsFixture) => Promise<void>): Promise<void> {
  const f = await accountsFixture();
  try {
    await f.accounts.addDomain(SYSTEM, "example.com");
    await f.accounts.addDomain(SYSTEM, "other.test");
    await fn(f);
  } finally {
    await f.close();
  }
}

/** "user → [deliveredTo...]" lines plus external addresses, for compact assertions. */
function summary(r: Resolution): { local: string[]; external: string[] } | string {
  if (r.kind !== "deliver") return r.kind;
  return { local: r.local.map((l) => `${l.user.address} via ${l.deliveredTo.join(" > ")}`), external: r.external };
}

test("a user is found by exact address, case-insensitively in both parts", async () => {
  await withAccounts(async ({ accounts }) => {
    await accounts.addUser(SYSTEM, { address: "Bob@Example.com", password: PW });
    for (const a of ["bob@example.com", "BOB@EXAMPLE.COM", "bOb@example.COM."]) {
      assert.deepEqual(summary(await accounts.resolveRecipient(a)), { local: ["bob@example.com via bob@example.com"], external: [] }, a);
    }
  });
});

test("unknown recipients, foreign domains and disabled users are told apart", async () => {
  await withAccounts(async ({ accounts }) => {
    await accounts.addUser(SYSTEM, { address: "carol@example.com", password: PW });
    assert.equal((await accounts.resolveRecipient("nobody@example.com")).kind, "unknown");
    assert.equal((await accounts.resolveRecipient("bob@elsewhere.test")).kind, "not-local");
    assert.equal((await accounts.resolveRecipient("not an address")).kind, "unknown");
    await accounts.setDisabled(SYSTEM, "carol@example.com", true);
    assert.equal((await accounts.resolveRecipient("carol@example.com")).kind, "disabled");
    assert.equal((await accounts.resolveRecipient("carol+x@example.com")).kind, "disabled");
    await accounts.setDisabled(SYSTEM, "carol@example.com", false);
    assert.equal((await accounts.resolveRecipient("carol@example.com")).kind, "deliver");
  });
});

test("order: exact user, then alias, then the untagged name, then the catch-all", async () => {
  await withAccounts(async ({ accounts }) => {
    await accounts.addUser(SYSTEM, { address: "bob@example.com", password: PW });
    await accounts.addUser(SYSTEM, { address: "sales-desk@example.com", password: PW });
    await accounts.addUser(SYSTEM, { address: "catcher@example.com", password: PW });
    await accounts.addAlias(SYSTEM, "sales@example.com", ["sales-desk@example.com"]);
    await accounts.addAlias(SYSTEM, "@example.com", ["catcher@example.com"]);

    // exact user beats the catch-all
    assert.deepEqual(summary(await accounts.resolveRecipient("bob@example.com")), { local: ["bob@example.com via bob@example.com"], external: [] });
    // alias
    assert.deepEqual(summary(await accounts.resolveRecipient("Sales@example.com")), {
      local: ["sales-desk@example.com via sales@example.com > sales-desk@example.com"],
      external: [],
    });
    // +tag reaches the untagged user, and the alias; Delivered-To keeps the tagged address
    assert.deepEqual(summary(await accounts.resolveRecipient("bob+news@example.com")), { local: ["bob@example.com via bob+news@example.com"], external: [] });
    assert.deepEqual(summary(await accounts.resolveRecipient("sales+eu@example.com")), {
      local: ["sales-desk@example.com via sales+eu@example.com > sales-desk@example.com"],
      external: [],
    });
    // the catch-all takes the rest (a tagged unknown name included)
    assert.deepEqual(summary(await accounts.resolveRecipient("whoever@example.com")), {
      local: ["catcher@example.com via whoever@example.com > catcher@example.com"],
      external: [],
    });
    assert.deepEqual(summary(await accounts.resolveRecipient("who+ever@example.com")), {
      local: ["catcher@example.com via who+ever@example.com > catcher@example.com"],
      external: [],
    });
    // the catch-all is per domain
    assert.equal((await accounts.resolveRecipient("whoever@other.test")).kind, "unknown");
  });
});

test("an alias with a +tag in its own name wins over the untagged user", async () => {
  await withAccounts(async ({ accounts, store }) => {
    await accounts.addUser(SYSTEM, { address: "bob@example.com", password: PW });
    await accounts.addUser(SYSTEM, { address: "lists@example.com", password: PW });
    // The service refuses "+" in names; a store-level alias stands in for an imported one.
    const d = await store.accounts.getDomain("example.com");
    await store.accounts.createAlias({ domainId: d!.id, localPart: "bob+lists", targets: ["lists@example.com"] });
    assert.deepEqual(summary(await accounts.resolveRecipient("bob+lists@example.com")), {
      local: ["lists@example.com via bob+lists@example.com > lists@example.com"],
      external: [],
    });
  });
});

test("aliases expand recursively to local and external targets, one copy per mailbox", async () => {
  await withAccounts(async ({ accounts }) => {
    await accounts.addUser(SYSTEM, { address: "ann@example.com", password: PW });
    await accounts.addUser(SYSTEM, { address: "bob@example.com", password: PW });
    await accounts.addAlias(SYSTEM, "team@example.com", ["ann@example.com", "bob@example.com", "Partner@Outside.Example"]);
    await accounts.addAlias(SYSTEM, "all@example.com", ["team@example.com", "ANN@example.com", "partner@outside.example", "Partner@outside.example"]);
    const r = await accounts.resolveRecipient("all@example.com");
    assert.deepEqual(summary(r), {
      local: [
        "ann@example.com via all@example.com > team@example.com > ann@example.com",
        "bob@example.com via all@example.com > team@example.com > bob@example.com",
      ],
      // external local parts keep their case: two distinct external addresses
      external: ["Partner@outside.example", "partner@outside.example"],
    });
    assert.equal(r.kind === "deliver" && r.problems.length, 0);
  });
});

test("alias loops are cut and reported; the rest still delivers", async () => {
  await withAccounts(async ({ accounts }) => {
    await accounts.addUser(SYSTEM, { address: "ann@example.com", password: PW });
    await accounts.addAlias(SYSTEM, "a@example.com", ["b@example.com", "ann@example.com"]);
    await accounts.addAlias(SYSTEM, "b@example.com", ["a@example.com"]);
    const r = await accounts.resolveRecipient("a@example.com");
    assert.equal(r.kind, "deliver");
    if (r.kind !== "deliver") return;
    assert.deepEqual(r.local.map((l) => l.user.address), ["ann@example.com"]);
    assert.deepEqual(r.problems, [{ kind: "loop", address: "a@example.com", path: ["a@example.com", "b@example.com"] }]);

    // A pure loop delivers nothing.
    await accounts.addAlias(SYSTEM, "x@example.com", ["y+tag@example.com"]);
    await accounts.addAlias(SYSTEM, "y@example.com", ["x@example.com"]);
    const pure = await accounts.resolveRecipient("x@example.com");
    assert.equal(pure.kind, "failed");
    assert.equal(pure.kind === "failed" && pure.problems[0].kind, "loop");
  });
});

test("a catch-all pointing at an unknown name of its own domain does not loop forever", async () => {
  await withAccounts(async ({ accounts }) => {
    await accounts.addAlias(SYSTEM, "@example.com", ["nobody@example.com"]);
    const r = await accounts.resolveRecipient("someone@example.com");
    assert.equal(r.kind, "failed");
    assert.ok(r.kind === "failed" && r.problems.some((p) => p.kind === "loop"));
  });
});

test(`alias chains: ${MAX_ALIAS_DEPTH} hops deliver, one more is cut`, async () => {
  await withAccounts(async ({ accounts }) => {
    await accounts.addUser(SYSTEM, { address: "end@example.com", password: PW });
    // c1 -> c2 -> ... -> c{N} -> end : N alias hops
    const N = MAX_ALIAS_DEPTH + 1;
    for (let i = 1; i <= N; i++) {
      await accounts.addAlias(SYSTEM, `c${i}@example.com`, [i === N ? "end@example.com" : `c${i + 1}@example.com`]);
    }
    const ok = await accounts.resolveRecipient(`c2@example.com`); // MAX_ALIAS_DEPTH hops
    assert.equal(ok.kind, "deliver");
    assert.equal(ok.kind === "deliver" && ok.local[0].deliveredTo.length, MAX_ALIAS_DEPTH + 1);
    const tooDeep = await accounts.resolveRecipient(`c1@example.com`);
    assert.equal(tooDeep.kind, "failed");
    assert.equal(tooDeep.kind === "failed" && tooDeep.problems[0].kind, "depth");
  });
});

test(`expansion stops after ${MAX_EXPANSION} addresses`, async () => {
  await withAccounts(async ({ accounts }) => {
    // 2 × 600 external targets: 1,200 addresses looked at, over the cap.
    const big = (n: number) => Array.from({ length: 600 }, (_, i) => `u${n}-${i}@outside.example`);
    await accounts.addAlias(SYSTEM, "big1@example.com", big(1));
    await accounts.addAlias(SYSTEM, "big2@example.com", big(2));
    await accounts.addAlias(SYSTEM, "both@example.com", ["big1@example.com", "big2@example.com"]);
    const r = await accounts.resolveRecipient("both@example.com");
    assert.equal(r.kind, "deliver");
    if (r.kind !== "deliver") return;
    assert.ok(r.external.length < MAX_EXPANSION, String(r.external.length));
    assert.deepEqual(r.problems.map((p) => p.kind), ["expansion"]);
    const one = await accounts.resolveRecipient("big1@example.com");
    assert.equal(one.kind === "deliver" && one.external.length, 600);
  });
});

test("postmaster@ and abuse@ reach the server admins unless a user or alias takes the name", async () => {
  await withAccounts(async ({ accounts }) => {
    await accounts.addUser(SYSTEM, { address: "root@example.com", password: PW, role: "admin" });
    await accounts.addUser(SYSTEM, { address: "boss@other.test", password: PW, role: "admin" });
    await accounts.addUser(SYSTEM, { address: "ops@other.test", password: PW, role: "domain-admin" });
    await accounts.addUser(SYSTEM, { address: "catcher@example.com", password: PW });
    await accounts.addAlias(SYSTEM, "@example.com", ["catcher@example.com"]);
    const admins = (r: Resolution) => (r.kind === "deliver" ? r.local.map((l) => l.user.address).sort() : r.kind);
    for (const a of ["postmaster@example.com", "POSTMASTER@other.test", "abuse@example.com", "Postmaster", "postmaster+x@example.com"]) {
      assert.deepEqual(admins(await accounts.resolveRecipient(a)), ["boss@other.test", "root@example.com"], a);
    }
    const pm = await accounts.resolveRecipient("postmaster@example.com");
    assert.deepEqual(pm.kind === "deliver" && pm.local.find((l) => l.user.address === "boss@other.test")?.deliveredTo, [
      "postmaster@example.com",
      "boss@other.test",
    ]);
    // an explicit alias overrides
    await accounts.addAlias(SYSTEM, "abuse@example.com", ["catcher@example.com"]);
    assert.deepEqual(admins(await accounts.resolveRecipient("abuse@example.com")), ["catcher@example.com"]);
    assert.deepEqual(admins(await accounts.resolveRecipient("abuse@other.test")), ["boss@other.test", "root@example.com"]);
    // a disabled admin receives nothing
    await accounts.setDisabled(SYSTEM, "boss@other.test", true);
    assert.deepEqual(admins(await accounts.resolveRecipient("postmaster@other.test")), ["root@example.com"]);
    // "postmaster" is not a catch-all for other names without a domain
    assert.equal((await accounts.resolveRecipient("abuse")).kind, "unknown");
  });
});

test("postmaster with no admin at all fails visibly", async () => {
  await withAccounts(async ({ accounts }) => {
    const r = await accounts.resolveRecipient("postmaster@example.com");
    assert.deepEqual(r, { kind: "failed", problems: [{ kind: "no-admin", address: "postmaster@example.com" }] });
  });
});

test("disabled targets and unknown local targets are skipped and reported", async () => {
  await withAccounts(async ({ accounts }) => {
    await accounts.addUser(SYSTEM, { address: "ann@example.com", password: PW });
    await accounts.addUser(SYSTEM, { address: "gone@example.com", password: PW });
    await accounts.addAlias(SYSTEM, "team@example.com", ["ann@example.com", "gone@example.com", "ghost@example.com"]);
    await accounts.setDisabled(SYSTEM, "gone@example.com", true);
    const r = await accounts.resolveRecipient("team@example.com");
    assert.equal(r.kind, "deliver");
    if (r.kind !== "deliver") return;
    assert.deepEqual(r.local.map((l) => l.user.address), ["ann@example.com"]);
    assert.deepEqual(r.problems.map((p) => `${p.kind} ${p.address}`), ["disabled-target gone@example.com", "unknown-target ghost@example.com"]);
    await accounts.setDisabled(SYSTEM, "ann@example.com", true);
    assert.equal((await accounts.resolveRecipient("team@example.com")).kind, "failed");
  });
});
