import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { hasStackTrace, ROOT, runCli, withTmpDir } from "./run.ts";

const mode = async (p: string) => (await stat(p)).mode & 0o777;

test("init creates the data folder, config, certificate and database with private modes", async () => {
  await withTmpDir(async (tmp) => {
    const data = path.join(tmp, "data");
    const r = await runCli(["init", "--hostname", "mail.example.com", "--data", data]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await mode(data), 0o700);
    assert.equal(await mode(path.join(data, "freehold.yaml")), 0o600);
    assert.equal(await mode(path.join(data, "tls/key.pem")), 0o600);
    assert.match(await readFile(path.join(data, "tls/cert.pem"), "utf8"), /^-----BEGIN CERTIFICATE-----/);
    assert.match(await readFile(path.join(data, "freehold.yaml"), "utf8"), /^hostname: mail\.example\.com$/m);
    await stat(path.join(data, "meta.sqlite"));

    const check = await runCli(["config", "check", "--data", data]);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /freehold\.yaml: ok/);
    assert.match(check.stdout, /certificate CN=mail\.example\.com, expires in \d+ days/);
    assert.equal(check.stderr, "");

    await chmod(path.join(data, "tls/key.pem"), 0o644);
    const loose = await runCli(["config", "check", "--data", data]);
    assert.equal(loose.code, 0);
    assert.match(loose.stderr, /warning: .*key\.pem is readable by others \(mode 644\); run: chmod 600/);
  });
});

test("init refuses to overwrite an existing setup and leaves it untouched", async () => {
  await withTmpDir(async (data) => {
    assert.equal((await runCli(["init", "--hostname", "mail.example.com", "--data", data])).code, 0);
    const before = await Promise.all(["freehold.yaml", "tls/key.pem", "tls/cert.pem"].map((f) => readFile(path.join(data, f), "utf8")));
    const again = await runCli(["init", "--hostname", "other.example.com", "--data", data]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already holds a Freehold setup \(freehold\.yaml\); refusing to overwrite it/);
    assert.ok(!hasStackTrace(again.stderr));
    const after = await Promise.all(["freehold.yaml", "tls/key.pem", "tls/cert.pem"].map((f) => readFile(path.join(data, f), "utf8")));
    assert.deepEqual(after, before);
  });
});

test("init --admin creates the domain and a server admin with a generated password", async () => {
  await withTmpDir(async (data) => {
    const r = await runCli(["init", "--hostname", "mail.example.com", "--admin", "Root@Example.com", "--data", data]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Created server admin root@example\.com/);
    assert.match(r.stdout, /Password for root@example\.com \(shown only now; store it safely\): [A-Za-z0-9]{20}\n/);
    const list = await runCli(["user", "list", "--json", "--data", data]);
    assert.deepEqual(JSON.parse(list.stdout).map((u: { address: string; role: string }) => `${u.address} ${u.role}`), ["root@example.com admin"]);
  });
});

test("init rejects bad input with usage errors, not stack traces", async () => {
  await withTmpDir(async (tmp) => {
    const data = path.join(tmp, "d");
    const noHost = await runCli(["init", "--data", data]);
    assert.equal(noHost.code, 2);
    assert.match(noHost.stderr, /required option '--hostname <name>' not specified/);
    const badHost = await runCli(["init", "--hostname", "not a host", "--data", data]);
    assert.equal(badHost.code, 2);
    assert.match(badHost.stderr, /--hostname: "not a host" is not a fully qualified host name/);
    const noData = await runCli(["init", "--hostname", "mail.example.com"]);
    assert.equal(noData.code, 2);
    assert.match(noData.stderr, /no data folder: pass --data DIR or set FREEHOLD_DATA/);
    for (const r of [noHost, badHost, noData]) assert.ok(!hasStackTrace(r.stderr), r.stderr);
    await assert.rejects(stat(data), "nothing created");
  });
});

test("FREEHOLD_DATA stands in for --data", async () => {
  await withTmpDir(async (data) => {
    const r = await runCli(["init", "--hostname", "mail.example.com"], { env: { FREEHOLD_DATA: data } });
    assert.equal(r.code, 0, r.stderr);
    const d = await runCli(["domain", "add", "example.com"], { env: { FREEHOLD_DATA: data } });
    assert.equal(d.code, 0, d.stderr);
    assert.match((await runCli(["domain", "list", "--data", data])).stdout, /example\.com/);
  });
});

test("config check reports every problem with file and key; config example matches the docs", async () => {
  await withTmpDir(async (data) => {
    const missing = await runCli(["config", "check", "--data", data]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /freehold\.yaml: not found \(run `freehold init` first\)/);
    assert.equal((await runCli(["init", "--hostname", "mail.example.com", "--data", data])).code, 0);
    await writeFile(path.join(data, "freehold.yaml"), "hostname: mail.example.com\nlisteners:\n  - {role: mx, port: 0}\nsmtp: {maxErrors: many}\n");
    const bad = await runCli(["config", "check", "--data", data]);
    assert.equal(bad.code, 1);
    const file = path.join(data, "freehold.yaml");
    assert.deepEqual(bad.stderr.trim().split("\n").sort(), [
      `${file}: listeners[0].port: expected a number from 1 to 65535`,
      `${file}: smtp.maxErrors: expected a number from 1 to 1000`,
    ]);
    // Every other command refuses to run on a broken config, with the same messages.
    const list = await runCli(["domain", "list", "--data", data]);
    assert.equal(list.code, 1);
    assert.match(list.stderr, /listeners\[0\]\.port: expected a number from 1 to 65535/);
  });
  const ex = await runCli(["config", "example"]);
  assert.equal(ex.code, 0);
  assert.equal(ex.stdout, await readFile(path.join(ROOT, "docs/config.example.yaml"), "utf8"));
});

test("no arguments and unknown commands print usage and exit 2", async () => {
  const none = await runCli([]);
  assert.equal(none.code, 2);
  assert.match(none.stdout, /Usage: freehold/);
  const unknown = await runCli(["frobnicate"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /freehold: unknown command 'frobnicate'/);
});
