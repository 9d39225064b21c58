// Collected addresses (issue 11 §2): mail sent through submission (swaks, STARTTLS + AUTH) puts
// its recipients into the sender's "Collected" address book; an address already in an address
// book is not added twice; after the user opts out, nothing more is collected.
// (The submission harness binds 127.0.0.1 on ephemeral ports.)
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { startHarness, run } from "../submission/harness.ts";
import type { Harness } from "../submission/harness.ts";
import { DavStore, openDavDb } from "../../src/dav/store.ts";
import { COLLECTED } from "../../src/dav/collect.ts";
import type { SqliteDb } from "../../src/store/sqlite/db.ts";

const PASSWORD = "a long test password";
let h: Harness;
let db: SqliteDb;
let store: DavStore;
before(async () => {
  h = await startHarness({ domains: ["freehold.test"], users: [{ address: "alice@freehold.test", password: PASSWORD }, { address: "bob@freehold.test", password: PASSWORD }], holdOutbound: true });
  db = openDavDb(h.dir);
  store = new DavStore(db);
});
after(async () => {
  db?.close();
  await h?.close();
});

const send = async (to: string[]) => {
  const r = await run("swaks", ["--server", `127.0.0.1:${h.submissionPort}`, "--tls", "--auth", "PLAIN", "--auth-user", "alice@freehold.test", "--auth-password", PASSWORD, "--from", "alice@freehold.test", "--to", to.join(","), "--helo", "mua.test"]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
};

async function collected(): Promise<string[]> {
  const book = await store.getCollection("alice@freehold.test", "addressbook", COLLECTED);
  if (!book) return [];
  return (await store.listResources(book.id)).map((r) => /^EMAIL:(.*)$/m.exec(r.bytes!.toString())![1].trim()).sort();
}

async function until(want: number): Promise<string[]> {
  for (let i = 0; i < 100; i++) {
    const got = await collected();
    if (got.length >= want) return got;
    await sleep(100);
  }
  return collected();
}

test("recipients are collected once, known contacts skipped, opt-out respected", async () => {
  await store.ensureDefaults("alice@freehold.test");
  const book = (await store.getCollection("alice@freehold.test", "addressbook", "default"))!;
  await store.putResource(book.id, { name: "known.vcf", uid: "k", contentType: "text/vcard", bytes: Buffer.from("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:k\r\nFN:Known\r\nEMAIL;TYPE=work:known@example.org\r\nEND:VCARD\r\n") }, {});
  await send(["carol@example.org", "known@example.org", "bob@freehold.test"]);
  assert.deepEqual(await until(2), ["bob@freehold.test", "carol@example.org"]);
  await send(["carol@example.org"]);
  await sleep(500);
  assert.deepEqual(await collected(), ["bob@freehold.test", "carol@example.org"], "not added twice");
  await store.setCollectAddresses("alice@freehold.test", false);
  await send(["dave@example.org"]);
  await sleep(1000);
  assert.deepEqual(await collected(), ["bob@freehold.test", "carol@example.org"], "opted out");
});
