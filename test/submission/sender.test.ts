// Who may send as whom (src/submission/sender-policy.ts through the listener): MAIL FROM and
// every From:/Sender: mailbox must be the user's own address, an alias that delivers to them
// (or a +tag form), or — for a domain admin — any address of their domain.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { authed, inbox, startHarness, transaction } from "./harness.ts";
import type { Harness } from "./harness.ts";

const PW = "sender-Passw0rd-1";
let h: Harness;

before(async () => {
  h = await startHarness({
    domains: ["freehold.test", "other.test"],
    users: [
      { address: "alice@freehold.test", password: PW },
      { address: "boss@freehold.test", password: PW },
      { address: "bob@freehold.test", password: PW },
      { address: "admin@other.test", password: PW, role: "domain-admin" },
    ],
    aliases: [
      { address: "sales@freehold.test", targets: ["alice@freehold.test"] },
      { address: "team@freehold.test", targets: ["sales@freehold.test", "bob@freehold.test"] },
      { address: "@other.test", targets: ["alice@freehold.test"] },
    ],
  });
});
after(() => h.close());

function msg(headers: string[], body = "hello"): string {
  return [...headers, "To: bob@freehold.test", "Subject: sender test", "", body].join("\r\n");
}

async function send(user: string, mailFrom: string, headers: string[]) {
  const c = await authed(h, user, PW);
  try {
    return await transaction(c, `<${mailFrom}>`, ["<bob@freehold.test>"], msg(headers));
  } finally {
    c.close();
  }
}

test("MAIL FROM someone else's address: 550 5.7.1", async () => {
  const r = await send("alice@freehold.test", "boss@freehold.test", ["From: boss@freehold.test"]);
  assert.equal(r.mail.code, 550);
  assert.match(r.mail.raw, /^550 5\.7\.1 Sender address rejected/);
});

test("forged From:, misleading display name, two From: fields, foreign Sender: are refused at end of data", async () => {
  const cases: Array<[string, string[]]> = [
    ["forged From", ["From: The Boss <boss@freehold.test>"]],
    ["address-like display name", ['From: "boss@freehold.test" <alice@freehold.test>']],
    ["encoded address-like display name", ["From: =?utf-8?q?boss=40freehold=2Etest?= <alice@freehold.test>"]],
    ["two From fields", ["From: alice@freehold.test", "From: boss@freehold.test"]],
    ["foreign Sender", ["From: alice@freehold.test", "Sender: boss@freehold.test"]],
    ["group hiding the boss", ["From: Staff: alice@freehold.test, boss@freehold.test;", "Sender: alice@freehold.test"]],
    ["upper-case forged From", ["From: BOSS@FREEHOLD.TEST"]],
    ["catch-all does not grant", ["From: anyone@other.test"]],
  ];
  const before = (await inbox(h, "bob@freehold.test")).length;
  for (const [name, headers] of cases) {
    const r = await send("alice@freehold.test", "alice@freehold.test", headers);
    assert.equal(r.end?.code, 550, `${name}: ${r.end?.raw}`);
    assert.match(r.end!.raw, /^550 5\.7\.1 Message rejected: /, name);
  }
  assert.equal((await inbox(h, "bob@freehold.test")).length, before, "nothing refused was delivered");
});

test("own address, +tag, aliases that deliver to the user (also through another alias) are accepted", async () => {
  for (const from of ["alice@freehold.test", "Alice@Freehold.Test", "alice+news@freehold.test", "sales@freehold.test", "team@freehold.test"]) {
    const r = await send("alice@freehold.test", from, [`From: Alice <${from}>`, "Sender: alice@freehold.test"]);
    assert.equal(r.end?.code, 250, `${from}: ${r.mail.raw} ${r.end?.raw}`);
  }
  // bob is reached by team@ too, but not by sales@.
  assert.equal((await send("bob@freehold.test", "team@freehold.test", ["From: team@freehold.test"])).end?.code, 250);
  assert.equal((await send("bob@freehold.test", "sales@freehold.test", ["From: sales@freehold.test"])).mail.code, 550);
});

test("a domain admin may send as any address of their domain, not of another", async () => {
  assert.equal((await send("admin@other.test", "newsletter@other.test", ["From: News <newsletter@other.test>"])).end?.code, 250);
  const r = await send("admin@other.test", "admin@other.test", ["From: alice@freehold.test"]);
  assert.equal(r.end?.code, 550);
});

test("the null sender is allowed (it claims no one) but From: is still checked", async () => {
  const c = await authed(h, "alice@freehold.test", PW);
  const ok = await transaction(c, "<>", ["<bob@freehold.test>"], msg(["From: alice@freehold.test"]));
  assert.equal(ok.end?.code, 250);
  const bad = await transaction(c, "<>", ["<bob@freehold.test>"], msg(["From: boss@freehold.test"]));
  assert.equal(bad.end?.code, 550);
  c.close();
});
