// `freehold user app-password add|list|revoke` and `user passwd` as an operator runs them:
// the secret is printed once and never again, list shows no secret, errors are one line each.
import { test } from "node:test";
import assert from "node:assert/strict";
import { openSqliteStore } from "../../src/store/sqlite/store.ts";
import { hasStackTrace, runCli, withTmpDir } from "./run.ts";

test("CLI app passwords: add prints the secret once, list and --json never show it, revoke by id or name; errors are clean", async () => {
  await withTmpDir(async (data) => {
    const cli = (args: string[], stdin?: string) => runCli([...args, "--data", data], { stdin });
    assert.equal((await cli(["init", "--hostname", "mail.example.com"])).code, 0);
    assert.equal((await cli(["domain", "add", "example.com"])).code, 0);
    assert.equal((await cli(["user", "add", "ann@example.com", "--password-stdin"], "first password\n")).code, 0);

    const add = await cli(["user", "app-password", "add", "ann@example.com", "Phone"]);
    assert.equal(add.code, 0, add.stderr);
    const secret = /: ([a-z2-9]{4}(?:-[a-z2-9]{4}){4})\s*$/.exec(add.stdout)?.[1];
    assert.ok(secret, add.stdout);
    const add2 = await cli(["user", "app-password", "add", "ann@example.com", "Laptop"]);
    assert.equal(add2.code, 0);

    // Independent commands side by side (each is a Node start): the test stays quick on CI.
    const [list, jsonOut, dup, nobody] = await Promise.all([
      cli(["user", "app-password", "list", "ann@example.com"]),
      cli(["user", "app-password", "list", "ann@example.com", "--json"]),
      cli(["user", "app-password", "add", "ann@example.com", "Phone"]),
      cli(["user", "app-password", "list", "nobody@example.com"]),
    ]);
    assert.match(list.stdout, /^ID\s+NAME\s+CREATED\s+LAST USED/m);
    assert.match(list.stdout, /Phone/);
    assert.ok(!list.stdout.includes(secret) && !list.stdout.includes(secret.replace(/-/g, "")));
    const json = JSON.parse(jsonOut.stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(json.map((a) => a.name), ["Phone", "Laptop"]);
    assert.deepEqual(Object.keys(json[0]).sort(), ["createdAt", "id", "lastUsedAt", "name"]);

    assert.notEqual(dup.code, 0);
    assert.match(dup.stderr, /already has an app password named "Phone"/);
    assert.ok(!hasStackTrace(dup.stderr), dup.stderr);
    assert.notEqual(nobody.code, 0);
    assert.match(nobody.stderr, /no user nobody@example.com/);

    assert.match((await cli(["user", "app-password", "revoke", "ann@example.com", String(json[1].id)])).stdout, /Revoked app password "Laptop"/);
    assert.match((await cli(["user", "app-password", "revoke", "ann@example.com", "Phone"])).stdout, /Revoked app password "Phone"/);
    const again = await cli(["user", "app-password", "revoke", "ann@example.com", "Phone"]);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /has no app password "Phone"/);
    assert.match((await cli(["user", "app-password", "list", "ann@example.com"])).stdout, /No app passwords\./);

    // `user passwd` is the admin reset: no current password asked.
    assert.equal((await cli(["user", "passwd", "ann@example.com", "--password-stdin"], "second password\n")).code, 0);
    const store = openSqliteStore(data);
    try {
      const log = (await store.audit.list()).map((e) => `${e.action} ${e.target}`);
      for (const a of ["app-password.add", "app-password.revoke", "user.passwd"]) assert.ok(log.includes(`${a} ann@example.com`), a);
      assert.ok(!JSON.stringify(await store.audit.list()).includes(secret.replace(/-/g, "")));
    } finally {
      await store.close();
    }
  });
});
