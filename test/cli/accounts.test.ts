import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { openSqliteStore } from "../../src/store/sqlite/store.ts";
import { verifyPassword } from "../../src/login/password.ts";
import { ensureDevSetup } from "../../src/cli/dev-setup.ts";
import { hasStackTrace, runCli, withTmpDir } from "./run.ts";
import type { RunResult } from "./run.ts";

/** A data folder after `init` and `domain add example.com`. */
async function withSetup(fn: (cli: (args: string[], stdin?: string) => Promise<RunResult>, data: string) => Promise<void>): Promise<void> {
  await withTmpDir(async (data) => {
    const cli = (args: string[], stdin?: string) => runCli([...args, "--data", data], { stdin });
    assert.equal((await cli(["init", "--hostname", "mail.example.com"])).code, 0);
    assert.equal((await cli(["domain", "add", "example.com"])).code, 0);
    await fn(cli, data);
  });
}

async function storedHash(data: string, address: string): Promise<string> {
  const store = openSqliteStore(data);
  try {
    const u = await store.accounts.getUserByAddress(address);
    assert.ok(u, `no user ${address}`);
    return u.passwordHash;
  } finally {
    await store.close();
  }
}

function ok(r: RunResult): RunResult {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
  return r;
}

function fails(r: RunResult, code: number, message: RegExp): void {
  assert.equal(r.code, code, `expected exit ${code}, got ${r.code}: ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, message);
  assert.ok(!hasStackTrace(r.stderr), r.stderr);
}

test("domain add, list, remove", async () => {
  await withSetup(async (cli) => {
    assert.match(ok(await cli(["domain", "add", "Other.TEST", "third.test"])).stdout, /Added domain other\.test\nAdded domain third\.test/);
    const list = JSON.parse(ok(await cli(["domain", "list", "--json"])).stdout);
    assert.deepEqual(list.map((d: { name: string }) => d.name), ["example.com", "other.test", "third.test"]);
    fails(await cli(["domain", "add", "example.com"]), 1, /freehold: domain example\.com already exists/);
    fails(await cli(["domain", "add", "bad_name!"]), 2, /freehold: "bad_name!" is not a valid domain name/);
    ok(await cli(["domain", "remove", "third.test"]));
    assert.doesNotMatch(ok(await cli(["domain", "list"])).stdout, /third\.test/);
    fails(await cli(["domain", "remove", "third.test"]), 1, /freehold: no domain third\.test/);
  });
});

test("user add: generated password printed once, or read from stdin; never stored in clear", async () => {
  await withSetup(async (cli, data) => {
    const gen = ok(await cli(["user", "add", "ann@example.com"]));
    const m = /Password for ann@example\.com \(shown only now; store it safely\): (\S+)\n/.exec(gen.stdout);
    assert.ok(m, gen.stdout);
    const generated = m[1];
    assert.equal(gen.stdout.split(generated).length, 2, "printed exactly once");
    assert.equal(await verifyPassword(generated, await storedHash(data, "ann@example.com")), true);

    const piped = ok(await cli(["user", "add", "bob@example.com", "--quota", "2G", "--name", "Bob B"], "piped password 1\nignored second line\n"));
    assert.doesNotMatch(piped.stdout, /Password for/);
    assert.match(piped.stdout, /Added user bob@example\.com, quota 2 GiB/);
    assert.equal(await verifyPassword("piped password 1", await storedHash(data, "bob@example.com")), true);

    ok(await cli(["user", "add", "carl@example.com", "--password-stdin"], "flagged password\r\n"));
    assert.equal(await verifyPassword("flagged password", await storedHash(data, "carl@example.com")), true);

    // The clear passwords appear in no file of the data folder.
    for (const f of await readdir(data, { recursive: true })) {
      const p = path.join(data, f);
      if (!(await stat(p)).isFile()) continue;
      const bytes = await readFile(p, "latin1");
      for (const pw of [generated, "piped password 1", "flagged password"]) assert.ok(!bytes.includes(pw), `${pw} in ${f}`);
    }
  });
});

test("user passwd from stdin; empty stdin with --password-stdin is refused", async () => {
  await withSetup(async (cli, data) => {
    ok(await cli(["user", "add", "ann@example.com"], "first password\n"));
    assert.match(ok(await cli(["user", "passwd", "Ann@Example.com"], "second password\n")).stdout, /Password changed for ann@example\.com/);
    const h = await storedHash(data, "ann@example.com");
    assert.equal(await verifyPassword("second password", h), true);
    assert.equal(await verifyPassword("first password", h), false);
    fails(await cli(["user", "passwd", "ann@example.com", "--password-stdin"], ""), 2, /--password-stdin: no password on standard input/);
    fails(await cli(["user", "passwd", "ann@example.com"], "short\n"), 2, /password too short \(at least 8 characters\)/);
    fails(await cli(["user", "passwd", "nobody@example.com"], "whatever long\n"), 1, /freehold: no user nobody@example\.com/);
    assert.equal(await verifyPassword("second password", await storedHash(data, "ann@example.com")), true);
    // Without stdin and without the flag, a new password is generated and shown.
    assert.match(ok(await cli(["user", "passwd", "ann@example.com"])).stdout, /Password for ann@example\.com .*: \S{20}\n/);
  });
});

test("user list, quota, disable, enable, remove", async () => {
  await withSetup(async (cli) => {
    ok(await cli(["user", "add", "ann@example.com"], "ann password\n"));
    ok(await cli(["user", "add", "bob@example.com", "--quota", "500M", "--role", "domain-admin"], "bob password\n"));
    type U = { address: string; role: string; disabled: boolean; quotaBytes: number; quotaIsDefault: boolean };
    const users = async () => JSON.parse(ok(await cli(["user", "list", "--json"])).stdout) as U[];
    assert.deepEqual((await users()).map((u) => [u.address, u.role, u.quotaBytes, u.quotaIsDefault]), [
      ["ann@example.com", "user", 5 * 1024 ** 3, true],
      ["bob@example.com", "domain-admin", 500 * 1024 ** 2, false],
    ]);
    assert.match(ok(await cli(["user", "list"])).stdout, /^ADDRESS\s+ROLE\s+STATE\s+USED\s+QUOTA\s+NAME\nann@example\.com\s+user\s+active\s+0 B\s+5 GiB \(default\)/);
    ok(await cli(["user", "quota", "ann@example.com", "unlimited"]));
    assert.equal((await users())[0].quotaBytes, 0);
    fails(await cli(["user", "quota", "ann@example.com", "lots"]), 2, /"lots" is not a size/);
    fails(await cli(["user", "add", "cat@example.com", "--role", "king"], "cat password\n"), 2, /--role: expected one of user, domain-admin, admin/);
    ok(await cli(["user", "disable", "ann@example.com"]));
    assert.equal((await users())[0].disabled, true);
    ok(await cli(["user", "enable", "ann@example.com"]));
    assert.equal((await users())[0].disabled, false);
    fails(await cli(["user", "remove", "ann@example.com"]), 2, /removing ann@example\.com deletes 0 messages \(0 B\); add --yes to confirm/);
    ok(await cli(["user", "remove", "ann@example.com", "--yes"]));
    assert.deepEqual((await users()).map((u) => u.address), ["bob@example.com"]);
    fails(await cli(["domain", "remove", "example.com"]), 1, /domain example\.com still has 1 user; remove them first/);
  });
});

test("user add rejects bad addresses and unknown domains clearly", async () => {
  await withSetup(async (cli) => {
    fails(await cli(["user", "add", "no-at-sign"], "some password\n"), 2, /"no-at-sign" is not an address \(expected name@domain\)/);
    fails(await cli(["user", "add", "a+b@example.com"], "some password\n"), 2, /reserved for tags/);
    fails(await cli(["user", "add", "ann@nowhere.test"], "some password\n"), 1, /no domain nowhere\.test \(add it with: freehold domain add nowhere\.test\)/);
    fails(await cli(["user", "add"]), 2, /missing required argument 'address'/);
    ok(await cli(["user", "add", "ann@example.com"], "some password\n"));
    fails(await cli(["user", "add", "ANN@example.com"], "some password\n"), 1, /ann@example\.com already exists/);
  });
});

test("alias add, list, remove: local, external, catch-all", async () => {
  await withSetup(async (cli) => {
    ok(await cli(["user", "add", "ann@example.com"], "ann password\n"));
    assert.match(
      ok(await cli(["alias", "add", "Sales@example.com", "ann@example.com", "Partner@Outside.Example"])).stdout,
      /Added alias sales@example\.com -> ann@example\.com, Partner@outside\.example/,
    );
    assert.match(ok(await cli(["alias", "add", "sales@example.com", "bob@example.com"])).stdout, /Updated alias sales@example\.com -> .*bob@example\.com/);
    ok(await cli(["alias", "add", "@example.com", "ann@example.com"]));
    const list = JSON.parse(ok(await cli(["alias", "list", "--json"])).stdout);
    assert.deepEqual(list, [
      { address: "@example.com", targets: ["ann@example.com"] },
      { address: "sales@example.com", targets: ["ann@example.com", "Partner@outside.example", "bob@example.com"] },
    ]);
    assert.match(ok(await cli(["alias", "list", "example.com"])).stdout, /^ALIAS\s+TARGETS\n@example\.com\s+ann@example\.com\nsales@example\.com/);
    fails(await cli(["alias", "add", "ann@example.com", "x@example.com"]), 1, /ann@example\.com is already a user/);
    fails(await cli(["alias", "add", "team@example.com"]), 2, /missing required argument 'target'/);
    fails(await cli(["alias", "add", "team@example.com", "not-an-address"]), 2, /alias target "not-an-address" is not an address/);
    ok(await cli(["alias", "remove", "sales@example.com", "bob@example.com"]));
    ok(await cli(["alias", "remove", "@example.com"]));
    assert.deepEqual(JSON.parse(ok(await cli(["alias", "list", "--json"])).stdout), [
      { address: "sales@example.com", targets: ["ann@example.com", "Partner@outside.example"] },
    ]);
    fails(await cli(["alias", "remove", "nothing@example.com"]), 1, /no alias nothing@example\.com/);
  });
});

test("dev setup: created once, read back, secrets 0600, printed logins stay true", async () => {
  await withTmpDir(async (tmp) => {
    const data = path.join(tmp, ".freehold-dev");
    const scrypt = { ln: 4, r: 8, p: 1 };
    const first = await ensureDevSetup(data, { scrypt });
    assert.equal(first.demo.address, "demo@example.test");
    assert.equal(first.admin.address, "admin@example.test");
    assert.deepEqual(first.config.listeners.map((l) => `${l.role} ${l.address}:${l.port} ${l.tls}`), [
      "mx 127.0.0.1:2525 starttls",
      "submission 127.0.0.1:2587 starttls",
      "submissions 127.0.0.1:2465 implicit",
      "imap 127.0.0.1:2143 starttls",
      "imaps 127.0.0.1:2993 implicit",
      "http 127.0.0.1:8080 none",
    ]);
    assert.equal(first.config.dev, true);
    assert.equal(first.config.queue.holdOutbound, true);
    for (const f of ["dev-demo.password", "dev-admin.password", "tls/key.pem", "freehold.yaml"]) {
      assert.equal((await stat(path.join(data, f))).mode & 0o777, 0o600, f);
    }
    const second = await ensureDevSetup(data, { scrypt });
    assert.deepEqual(second.demo, first.demo);
    assert.deepEqual(second.admin, first.admin);
    assert.equal(await verifyPassword(first.demo.password, await storedHash(data, "demo@example.test")), true);

    // The CLI works beside it; a changed demo password is put back on the next dev start.
    ok(await runCli(["user", "passwd", "demo@example.test", "--data", data], { stdin: "changed by hand\n" }));
    const third = await ensureDevSetup(data, { scrypt });
    assert.equal(third.demo.password, first.demo.password);
    assert.equal(await verifyPassword(first.demo.password, await storedHash(data, "demo@example.test")), true);
    const users = JSON.parse(ok(await runCli(["user", "list", "--json", "--data", data])).stdout);
    assert.deepEqual(users.map((u: { address: string; role: string }) => `${u.address} ${u.role}`), ["admin@example.test admin", "demo@example.test user"]);
  });
});
