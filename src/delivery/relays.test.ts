import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { RelayFileCache, RelayFileSchema, chooseRoutes, loadRelayFile, loadRelaySecrets, saveRelayFile, saveRelaySecrets } from "./relays.ts";

const file = RelayFileSchema.parse({
  relays: [
    { name: "smtp2go", host: "mail.smtp2go.com", port: 2525, tls: "starttls" },
    { name: "ses", host: "email-smtp.eu-west-1.amazonaws.com", port: 465, tls: "implicit" },
  ],
  routes: {
    recipientDomains: { "bigcorp.example": ["direct"], "Partner.Example": ["ses"] },
    senderDomains: { "news.example.com": ["smtp2go"] },
    default: ["direct", "smtp2go"],
  },
});

test("a recipient-domain rule wins over a sender-domain rule, which wins over the default", () => {
  assert.deepEqual(chooseRoutes(file.routes, "x@news.example.com", "a@bigcorp.example"), ["direct"]);
  assert.deepEqual(chooseRoutes(file.routes, "x@news.example.com", "a@other.example"), ["smtp2go"]);
  assert.deepEqual(chooseRoutes(file.routes, "x@example.com", "a@other.example"), ["direct", "smtp2go"]);
  assert.deepEqual(chooseRoutes(file.routes, "", "a@other.example"), ["direct", "smtp2go"], "the null sender has no sender rule");
});

test("rules match case-insensitively and cover subdomains", () => {
  assert.deepEqual(chooseRoutes(file.routes, "x@example.com", "A@MAIL.partner.example"), ["ses"]);
  assert.deepEqual(chooseRoutes(file.routes, "x@lists.news.example.com", "a@other.example"), ["smtp2go"]);
  assert.deepEqual(chooseRoutes(file.routes, "x@example.com", "a@notbigcorp.example"), ["direct", "smtp2go"], "a suffix is not a parent domain");
});

test("the schema refuses unknown routes, duplicate names, the reserved name and clear text off loopback", () => {
  const bad = (v: unknown) => assert.equal(RelayFileSchema.safeParse(v).success, false, JSON.stringify(v));
  bad({ routes: { default: ["nosuch"] } });
  bad({ relays: [{ name: "a", host: "h", port: 25, tls: "starttls" }, { name: "a", host: "h2", port: 25, tls: "starttls" }] });
  bad({ relays: [{ name: "direct", host: "h", port: 25, tls: "starttls" }] });
  bad({ relays: [{ name: "p", host: "relay.example.net", port: 25, tls: "none" }] });
  assert.equal(RelayFileSchema.safeParse({ relays: [{ name: "p", host: "127.0.0.1", port: 25, tls: "none" }] }).success, true);
  assert.deepEqual(RelayFileSchema.parse({}).routes.default, ["direct"], "without rules everything goes direct");
});

test("files round-trip; the secrets file is 0600 in a 0700 folder", async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "fh-relays-"));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  assert.deepEqual(await loadRelayFile(dir), RelayFileSchema.parse({}));
  assert.deepEqual(await loadRelaySecrets(dir), {});
  await saveRelayFile(dir, file);
  await saveRelaySecrets(dir, { smtp2go: { username: "u", password: "p w" } });
  assert.deepEqual(await loadRelayFile(dir), file);
  assert.deepEqual(await loadRelaySecrets(dir), { smtp2go: { username: "u", password: "p w" } });
  assert.equal((await fs.stat(path.join(dir, "secrets", "relays.yaml"))).mode & 0o777, 0o600);
  assert.equal((await fs.stat(path.join(dir, "secrets"))).mode & 0o777, 0o700);
});

test("the relay file cache reads again only after a save (relays or secrets), and sees a removal", async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "freehold-relays-cache-"));
  try {
    const cache = new RelayFileCache(dir);
    const empty = await cache.load();
    assert.deepEqual(empty.file.relays, []);
    await saveRelayFile(dir, file);
    const a = await cache.load();
    assert.deepEqual(a.file.relays.map((r) => r.name), ["smtp2go", "ses"]);
    assert.equal(await cache.load(), a, "unchanged files: the same object, nothing parsed");
    await saveRelaySecrets(dir, { ses: { username: "u", password: "p" } });
    const b = await cache.load();
    assert.notEqual(b, a);
    assert.deepEqual(b.secrets, { ses: { username: "u", password: "p" } });
    // A save of the same size within the same millisecond still replaces the inode.
    await saveRelayFile(dir, { ...file, relays: file.relays.map((r) => (r.name === "ses" ? { ...r, port: 587 } : r)) });
    assert.equal((await cache.load()).file.relays.find((r) => r.name === "ses")?.port, 587);
    await fs.rm(path.join(dir, "relays.yaml"));
    assert.deepEqual((await cache.load()).file.relays, []);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
