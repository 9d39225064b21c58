// App passwords against real clients: Python's imaplib (LOGIN and AUTHENTICATE PLAIN over
// implicit TLS) and smtplib (AUTH on submissions) log in with an app password; after a revoke
// from the CLI — another process, while the server keeps its login cache — the same app password
// fails at the next login; the web login never accepts it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { loadConfig } from "../../src/config/load.ts";
import { openServices } from "../../src/server/services.ts";
import { startServer } from "../../src/server/run.ts";
import { protocolStarters } from "../../src/server/starters.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { SYSTEM } from "../../src/accounts/authz.ts";
import { runFreeholdCli } from "../support/freehold.ts";

const run = promisify(execFile);
const HOST = "127.0.27.1";
const SCRIPT = path.join(import.meta.dirname, "clients", "mail_login.py");
const ACCOUNT_PW = "the account password";

async function logins(imaps: number, subs: number, user: string, password: string): Promise<Record<string, string>> {
  const r = await run("/usr/bin/python3", [SCRIPT, HOST, String(imaps), String(subs), user, password], { timeout: 90_000 });
  return JSON.parse(r.stdout.trim()) as Record<string, string>;
}

test("imaplib and smtplib log in with an app password, fail after a CLI revoke; the web login refuses it", async () => {
  const parent = await mkdtemp(path.join(os.tmpdir(), "freehold-apppw-"));
  const dir = path.join(parent, "data");
  const cli = async (args: string[], stdin?: string) => {
    const r = await runFreeholdCli(["--data", dir, ...args], stdin);
    assert.equal(r.code, 0, `freehold ${args.join(" ")}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  try {
    await cli(["init", "--hostname", "mx.freehold.test"]);
    await cli(["domain", "add", "example.test"]);
    await cli(["user", "add", "ann@example.test", "--password-stdin"], `${ACCOUNT_PW}\n`);
    const added = await cli(["user", "app-password", "add", "ann@example.test", "Phone"]);
    const secret = /: ([a-z2-9]{4}(?:-[a-z2-9]{4}){4})\s*$/.exec(added)?.[1];
    assert.ok(secret, added);
    assert.match(await cli(["user", "app-password", "list", "ann@example.test"]), /Phone\s+\S+\s+never/);

    const config = await loadConfig(dir);
    config.listeners = [
      { role: "mx", address: HOST, port: 0, tls: "starttls" },
      { role: "imaps", address: HOST, port: 0, tls: "implicit" },
      { role: "submissions", address: HOST, port: 0, tls: "implicit" },
    ];
    config.smtp.pregreet.enabled = false;
    config.login.failureDelayMs = 0; // the back-off is tested elsewhere; here it would only add seconds
    const services = await openServices(config, { logger: silentLogger() });
    const server = await startServer(services, { starters: protocolStarters() });
    try {
      const port = (role: string) => server.listeners.find((l) => l.role === role)!.port;
      const imaps = port("imaps");
      const subs = port("submissions");
      const ok = { imap_login: "ok", imap_auth: "ok", smtp: "ok" };
      assert.deepEqual(await logins(imaps, subs, "ann@example.test", secret), ok);
      // Typed without the dashes, as some clients' fields make people do: still the same secret.
      assert.deepEqual(await logins(imaps, subs, "ann@example.test", secret.replace(/-/g, "")), ok);
      assert.deepEqual(await logins(imaps, subs, "ann@example.test", ACCOUNT_PW), ok, "the account password still works for mail");

      assert.equal(await services.accounts.verifyWebLogin("ann@example.test", secret), null, "an app password never opens the web login");
      assert.ok(await services.accounts.verifyWebLogin("ann@example.test", ACCOUNT_PW));
      const listed = await services.accounts.listAppPasswords(SYSTEM, "ann@example.test");
      assert.equal(typeof listed[0].lastUsedAt, "number", "last use recorded");

      // The logins above are in the server's login cache; the revoke comes from another process.
      assert.match(await cli(["user", "app-password", "revoke", "ann@example.test", "Phone"]), /Revoked app password "Phone"/);
      const after = await logins(imaps, subs, "ann@example.test", secret);
      assert.match(after.imap_login, /^no: .*AUTHENTICATIONFAILED/, JSON.stringify(after));
      assert.match(after.imap_auth, /^no: /, JSON.stringify(after));
      assert.equal(after.smtp, "no: 535");
      assert.deepEqual(await logins(imaps, subs, "ann@example.test", ACCOUNT_PW), ok, "revoking an app password leaves the account password");
    } finally {
      await server.stop();
    }
  } finally {
    await rm(parent, { recursive: true, force: true });
  }
});
