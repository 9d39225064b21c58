// `freehold setup` without the package (any user): the preflight's port 25 advice for a refused
// and a silent (filtered) target, the production config it writes, and the production rules
// `serve` enforces (no AUTH without TLS, no dev logins). The package test (test/package/) runs
// setup through /usr/bin/freehold as root.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { parseConfigText } from "../../src/config/load.ts";
import { hasStackTrace, runCli, withTmpDir } from "./run.ts";

const LISTEN = "127.0.23.10";
const NO_DNS = "127.0.23.11:53";

function setupArgs(dir: string, target: string): string[] {
  return ["--data", dir, "setup", "--hostname", "mail.setup.test", "--ip", "192.0.2.50", "--listen", LISTEN, "--port25-target", target, "--port25-timeout-ms", "1500", "--dns-server", NO_DNS];
}

test("setup: outbound 25 refused → relay advice; the config is production and loads; the admin password is printed once", { timeout: 120_000 }, async () => {
  await withTmpDir(async (dir) => {
    const r = await runCli(setupArgs(dir, "127.0.23.12:25"));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /FAIL outbound TCP 25: 127\.0\.23\.12:25: ECONNREFUSED/);
    assert.match(r.stdout, /Outbound port 25 looks blocked.*\n.*--relay smtp2go/);
    assert.match(r.stdout, /FAIL host name: mail\.setup\.test does not resolve/);
    assert.match(r.stdout, /Password for postmaster@setup\.test \(shown only now; store it safely\): \S{12,}/);
    assert.match(r.stdout, /setup\.test\.\s+MX\s+10 mail\.setup\.test\./);
    const text = await readFile(path.join(dir, "freehold.yaml"), "utf8");
    const config = parseConfigText(text, { file: "freehold.yaml", dataDir: dir });
    assert.equal(config.dev, false);
    assert.deepEqual(config.listeners.map((l) => `${l.role}:${l.port}:${l.tls}`).sort(), ["http:80:none", "https:443:implicit", "imap:143:starttls", "imaps:993:implicit", "mx:25:starttls", "submission:587:starttls", "submissions:465:implicit"]);
    assert.ok(config.listeners.every((l) => l.address === LISTEN));
    assert.deepEqual(config.server.publicIps, ["192.0.2.50"]);
    // Once set up, setup refuses to run again.
    const again = await runCli(setupArgs(dir, "127.0.23.12:25"));
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already set up/);

    // Production refuses AUTH without TLS and dev logins (the listeners are never opened).
    await writeFile(path.join(dir, "freehold.yaml"), text.replace(/role: submission, address: "127\.0\.23\.10", port: 587 \}/, 'role: submission, address: "127.0.23.10", port: 587, tls: none }'));
    const plain = await runCli(["--data", dir, "serve"]);
    assert.equal(plain.code, 1);
    assert.match(plain.stderr, /refusing to start a production server:[\s\S]*tls: none would offer AUTH without TLS/);
    assert.ok(!hasStackTrace(plain.stderr), plain.stderr);
    await writeFile(path.join(dir, "freehold.yaml"), text);
    await writeFile(path.join(dir, "dev-admin.password"), "x\n", { mode: 0o600 });
    const devLogin = await runCli(["--data", dir, "serve"]);
    assert.equal(devLogin.code, 1);
    assert.match(devLogin.stderr, /dev-admin\.password: a dev-mode login/);
  });
});

test("setup: outbound 25 silently dropped (a full accept queue on loopback) → 'no answer' and the relay advice", { timeout: 120_000 }, async () => {
  // A listener that never accepts, with backlog 0: once its queue is full, Linux drops new SYNs,
  // which is what a provider's filter looks like from here.
  const py = spawn("python3", ["-c", `import socket,time,sys
s=socket.socket(); s.bind(("127.0.23.13",0)); s.listen(0); print(s.getsockname()[1], flush=True); time.sleep(120)`], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    const port = await new Promise<number>((resolve) => py.stdout!.once("data", (d) => resolve(Number(String(d).trim()))));
    const fillers: net.Socket[] = [];
    // Fill the queue: connect until one connection does not complete within 1 s.
    for (let i = 0; i < 8; i++) {
      const ok = await new Promise<boolean>((resolve) => {
        const s = net.connect({ host: "127.0.23.13", port });
        fillers.push(s);
        const t = setTimeout(() => resolve(false), 1000);
        s.once("connect", () => (clearTimeout(t), resolve(true)));
        s.once("error", () => (clearTimeout(t), resolve(false)));
      });
      if (!ok) break;
    }
    await withTmpDir(async (dir) => {
      const r = await runCli(setupArgs(dir, `127.0.23.13:${port}`));
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /FAIL outbound TCP 25: 127\.0\.23\.13:\d+: no answer within 1500 ms \(filtered\)/);
      assert.match(r.stdout, /--relay smtp2go/);
    });
    for (const s of fillers) s.destroy();
  } finally {
    py.kill();
  }
});
