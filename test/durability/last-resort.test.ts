// The last line (src/server/last-resort.ts): an error that escapes every handler ends
// `freehold serve` in order — a fatal log line naming the component and the connection it came
// from, listeners and storage closed, exit code 70 for systemd to restart on — and nothing that
// was acknowledged is lost. The fault is injected through the test-only trigger of
// src/server/fault-injection.ts (FREEHOLD_TEST_FAULTS=1 + MAIL FROM:<fh-test-throw@…>), in the
// middle of traffic: one session has delivered (250), one is inside DATA without its 250.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, statSync } from "node:fs";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import YAML from "yaml";
import path from "node:path";
import { startFaultServer } from "../support/dns-fault.ts";
import { SmtpTestClient } from "../support/smtp-client.ts";
import { createDataDir, freePort, logLines, mailboxContents, openDataDir, startFreeholdProcess } from "../support/freehold.ts";
import type { DataDir } from "../support/freehold.ts";
import type { FaultServer } from "../support/dns-fault.ts";
import { FATAL_EXIT_CODE } from "../../src/server/last-resort.ts";

const RCPT = "alice@local.test";

function message(subject: string): string {
  return `From: <someone@example.test>\r\nTo: <${RCPT}>\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@example.test>\r\n\r\nbody of ${subject}\r\n`;
}

// One data folder made by the CLI (slow: a password hash), copied for each case.
let template: DataDir;
let dns: FaultServer;
before(async () => {
  // Every name is NXDOMAIN: the checks answer at once (DNS plays no part here).
  dns = await startFaultServer(() => ({ kind: "rcode", rcode: "NXDOMAIN" }));
  template = await createDataDir({ domains: ["local.test"], users: [{ address: RCPT }], dnsServers: [dns.address] });
});
after(async () => {
  await template?.remove();
  await dns?.close();
});

async function copyOfTemplate(): Promise<{ dir: string; mxPort: number; remove(): Promise<void> }> {
  const parent = await mkdtemp(path.join(os.tmpdir(), "freehold-lastresort-"));
  const dir = path.join(parent, "data");
  await cp(template.dir, dir, { recursive: true });
  const file = path.join(dir, "freehold.yaml");
  const doc = YAML.parse(await readFile(file, "utf8")) as { listeners: Array<{ role: string; port: number }> };
  const mxPort = await freePort();
  for (const l of doc.listeners) if (l.role === "mx") l.port = mxPort;
  await writeFile(file, YAML.stringify(doc), { mode: 0o600 });
  return { dir, mxPort, remove: () => rm(parent, { recursive: true, force: true }) };
}

describe("last resort", { concurrency: 2 }, () => {
  for (const [trigger, origin] of [
    ["fh-test-throw", "uncaughtException"],
    ["fh-test-reject", "unhandledRejection"],
  ] as const) {
    test(`an injected ${origin} is logged at fatal with its session, ends serve with ${FATAL_EXIT_CODE}, and loses nothing acknowledged`, async (t) => {
      const data = await copyOfTemplate();
      t.after(() => data.remove());
      const fh = await startFreeholdProcess(data, { env: { FREEHOLD_TEST_FAULTS: "1" } });
      t.after(() => fh.kill9());

      // Acknowledged: three messages, each with its 250 after the final dot.
      const acked = await SmtpTestClient.connect(data.mxPort);
      assert.equal((await acked.read()).code, 220);
      assert.equal((await acked.cmd("EHLO client.example.test")).code, 250);
      for (const s of ["acked-1", "acked-2", "acked-3"]) {
        const r = await acked.send("someone@example.test", [RCPT], message(s));
        assert.equal(r.final.code, 250, `${s}: ${r.final.text}`);
      }

      // Unacknowledged: inside DATA, the final dot never sent.
      const open = await SmtpTestClient.connect(data.mxPort);
      assert.equal((await open.read()).code, 220);
      assert.equal((await open.cmd("EHLO client.example.test")).code, 250);
      assert.equal((await open.cmd("MAIL FROM:<someone@example.test>")).code, 250);
      assert.equal((await open.cmd(`RCPT TO:<${RCPT}>`)).code, 250);
      assert.equal((await open.cmd("DATA")).code, 354);
      open.write("Subject: never-acked\r\n\r\nhalf a message\r\n");

      // The fault, inside a third session.
      const faulty = await SmtpTestClient.connect(data.mxPort);
      assert.equal((await faulty.read()).code, 220);
      assert.equal((await faulty.cmd("EHLO client.example.test")).code, 250);
      const mail = await faulty.cmd(`MAIL FROM:<${trigger}@example.test>`);
      assert.equal(mail.code, 250);

      const { code, signal } = await fh.exited;
      assert.equal(signal, null);
      assert.equal(code, FATAL_EXIT_CODE, fh.output());

      const lines = logLines(fh.output());
      const fatal = lines.filter((l) => l.level === 60);
      assert.ok(fatal.length >= 1, `a fatal line in:\n${fh.output()}`);
      assert.equal(fatal[0].origin, origin);
      assert.equal(fatal[0].component, "smtp:mx");
      assert.match(String((fatal[0].err as { message?: string } | undefined)?.message), /injected fault/);
      // The cid is the faulty session's: the one whose MAIL FROM was the trigger.
      const sessions = lines.filter((l) => l.msg === "connect").map((l) => l.cid);
      assert.equal(sessions.length, 3);
      assert.equal(fatal[0].cid, sessions[2]);
      assert.ok(lines.some((l) => l.msg === "shutdown after fatal error complete"), "storage and listeners closed in order");
      // The session inside DATA was told to go away (421, RFC 5321 §3.8) or cut off; never a 250.
      const late = await open.read().catch(() => null);
      if (late) assert.equal(late.code, 421, late.text);

      // SQLite closed cleanly: closing the last connection checkpoints the WAL into the database
      // and empties it (after a kill -9 the three deliveries would still be in it).
      const wal = path.join(data.dir, "meta.sqlite-wal");
      assert.ok(!existsSync(wal) || statSync(wal).size === 0, `WAL left with ${existsSync(wal) ? statSync(wal).size : 0} octets`);

      const opened = await openDataDir(data.dir);
      t.after(() => opened.close());
      const subjects = (await mailboxContents(opened, RCPT)).map((c) => /^Subject: (.*)$/m.exec(c.blob.toString("utf8"))?.[1]);
      assert.deepEqual(subjects.sort(), ["acked-1", "acked-2", "acked-3"]);
    });
  }
});
