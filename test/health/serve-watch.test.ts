// `freehold serve` wiring (in process): the watcher runs the injected checks on start and on its
// schedule, alerts reach postmaster@ (the admin) by local delivery, and /metrics shows the
// check states. knot serves the DNSBL zone; the clock is a ManualClock.
import { test } from "node:test";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import YAML from "yaml";
import { createDataDir, freePort, openDataDir } from "../support/freehold.ts";
import { startKnot } from "../support/knot.ts";
import { loadConfig } from "../../src/config/load.ts";
import { openServices } from "../../src/server/services.ts";
import { startServer } from "../../src/server/run.ts";
import { protocolStarters } from "../../src/server/starters.ts";
import { ManualClock } from "../../src/clock.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { createResolver } from "../../src/dns/resolver.ts";
import { blocklistRunChecks } from "../../src/health/watch/blocklist-checks.ts";
import { dnsblZone } from "./watch-support.ts";

const IP = "127.0.24.6";
const run = promisify(execFile);

test("serve: scheduled checks alert the postmaster by local delivery; /metrics shows the check state, a refused RCPT (swaks) and a failed IMAP login (imaplib)", async (t) => {
  const knot = await startKnot({ "bl.test": dnsblZone("bl.test", { [IP]: "127.0.0.3" }) });
  t.after(() => knot.stop());
  const data = await createDataDir({ admin: "boss@example.test", dnsServers: [knot.address], imap: true });
  t.after(() => data.remove());
  const file = path.join(data.dir, "freehold.yaml");
  const doc = YAML.parse(await fs.readFile(file, "utf8")) as Record<string, unknown>;
  const port = await freePort();
  doc.metrics = { listen: `127.0.0.1:${port}` };
  await fs.writeFile(file, YAML.stringify(doc));

  const clock = new ManualClock(Date.UTC(2026, 11, 7, 9));
  const config = await loadConfig(data.dir);
  const services = await openServices(config, { logger: silentLogger(), clock });
  const resolver = createResolver({ servers: [knot.address], timeoutMs: 2000, tries: 2, cache: false });
  t.after(() => resolver.cancel());
  const server = await startServer(services, { starters: protocolStarters(), runChecks: blocklistRunChecks(resolver.resolve, { ips: [IP], domains: [] }, [{ zone: "bl.test", kind: "ip" }], () => clock.now()) });
  let stopped = false;
  t.after(async () => {
    if (!stopped) await server.stop();
  });
  const watcher = server.watching?.watcher;
  assert.ok(watcher, "serve started a watcher");
  await watcher.tick(); // the start's run (already made or in progress)
  clock.advance(3_600_000);
  await watcher.tick(); // second listed run: confirmed

  // Real clients for the counters: swaks to an unknown user, imaplib with a wrong password.
  await run("swaks", ["--server", `127.0.0.1:${data.mxPort}`, "--from", "x@remote.test", "--to", "nobody@example.test", "--quit-after", "RCPT", "--silent", "2"]).catch(() => undefined);
  const py = `import imaplib,sys\nm=imaplib.IMAP4("127.0.0.1",${data.imapPort})\ntry:\n  m.login("boss@example.test","wrong password")\nexcept imaplib.IMAP4.error:\n  print("refused")\n`;
  assert.match((await run("python3", ["-c", py])).stdout, /refused/);

  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.match(text, new RegExp(`^freehold_check_status\\{check="blocklist\\.bl\\.test\\.${IP.replace(/\./g, "\\.")}",group="blocklist",status="fail"\\} 1$`, "m"));
  assert.match(text, /^freehold_smtp_rejections_total\{reason="unknownUser",role="mx"\} 1$/m);
  assert.match(text, /^freehold_logins_total\{protocol="imap",result="failed"\} 1$/m);
  await server.stop();
  stopped = true;

  const opened = await openDataDir(data.dir);
  try {
    const admin = await opened.store.accounts.getUserByAddress("boss@example.test");
    const inbox = await opened.store.mail.getMailbox(admin!.id, "INBOX");
    const msgs = await opened.store.mail.listMessages(inbox!.id);
    assert.equal(msgs.length, 1, "one alert in the admin's INBOX (via postmaster@)");
    const text = (await opened.blobs.readAll(msgs[0].blobId)).toString("utf8");
    assert.match(text, /^To: <postmaster@example\.test>$/m);
    assert.match(text, /^Subject: \[Freehold mx\.freehold\.test\] fail: blocklist\.bl\.test\.127\.0\.24\.6$/m);
    assert.match(text, /\(SBL\)/);
  } finally {
    await opened.close();
  }
});
