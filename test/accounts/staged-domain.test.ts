// Staged domains (issue 10 §2): `freehold domain stage` before the MX moves. While staged, mail
// is imported into the domain's account (freehold import --from-mbox), the MX answers RCPT for
// it with 451 4.3.2 (a sender retries, through the MX the domain still publishes) while another
// domain still receives, and submission refuses MAIL FROM it; `domain list` says so. Then
// `freehold domain unstage`, run beside the serving server, makes it live in one command: the
// next SMTP delivery and submission go through. Real SMTP clients (nodemailer).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import nodemailer from "nodemailer";
import { createDataDir, runFreeholdCli, TEST_PASSWORD } from "../support/freehold.ts";
import { loadConfig } from "../../src/config/load.ts";
import { openServices } from "../../src/server/services.ts";
import { startServer } from "../../src/server/run.ts";
import { protocolStarters } from "../../src/server/starters.ts";
import { silentLogger } from "../../src/log/logger.ts";

const ANN = "ann@moving.test";
const BOB = "bob@live.test";

test("a staged domain takes imports but no mail from outside and sends none; unstage makes it live at once", async (t) => {
  const data = await createDataDir({ submission: true, domains: ["moving.test", "live.test"], users: [{ address: ANN }, { address: BOB }], config: { queue: { holdOutbound: true } } });
  t.after(() => data.remove());
  const cli = async (...args: string[]) => {
    const r = await runFreeholdCli([...args, "--data", data.dir]);
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  assert.match(await cli("domain", "stage", "moving.test"), /^Staged moving\.test/);
  assert.match(await cli("domain", "stage", "moving.test"), /already staged/);
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), "fh-staged-"));
  t.after(() => fs.rm(tmp, { recursive: true, force: true }));
  const mbox = path.join(tmp, "old.mbox");
  await fs.writeFile(mbox, "From a@old.test Mon Dec  7 10:00:00 2026\nFrom: a@old.test\nSubject: old 1\n\none\n\nFrom b@old.test Mon Dec  7 11:00:00 2026\nFrom: b@old.test\nSubject: old 2\n\ntwo\n");
  await cli("import", ANN, "--from-mbox", mbox);
  assert.match(await cli("domain", "list"), /moving\.test\s+1\s+0\s+staged since \d{4}-\d\d-\d\d/);

  const services = await openServices(await loadConfig(data.dir), { logger: silentLogger() });
  const server = await startServer(services, { starters: protocolStarters() });
  t.after(() => server.stop());
  const mxPort = server.listeners.find((l) => l.role === "mx")!.port;
  const inbox = async (address: string) => {
    const u = (await services.storage.store.accounts.getUserByAddress(address))!;
    return services.storage.store.mail.listMessages((await services.storage.store.mail.getMailbox(u.id, "INBOX"))!.id);
  };
  assert.equal((await inbox(ANN)).length, 2, "the import landed while staged");

  const deliver = async (to: string[]) => {
    const mx = nodemailer.createTransport({ host: "127.0.0.1", port: mxPort, secure: false, ignoreTLS: true, name: "sender.example.test" });
    try {
      return await mx.sendMail({ envelope: { from: "x@example.test", to }, raw: `From: x@example.test\r\nTo: ${to.join(", ")}\r\nSubject: hi\r\n\r\nhello\r\n` });
    } finally {
      mx.close();
    }
  };
  const submit = async () => {
    const tr = nodemailer.createTransport({ host: "127.0.0.1", port: data.submissionPort!, secure: false, requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user: ANN, pass: TEST_PASSWORD } });
    try {
      return await tr.sendMail({ envelope: { from: ANN, to: ["someone@elsewhere.test"] }, raw: `From: ${ANN}\r\nTo: someone@elsewhere.test\r\nSubject: out\r\n\r\nbye\r\n` });
    } finally {
      tr.close();
    }
  };

  const r1 = await deliver([ANN, BOB]);
  assert.deepEqual(r1.accepted, [BOB], "the live domain still receives");
  assert.match((r1.rejectedErrors?.[0] as { response?: string }).response ?? "", /^451 4\.3\.2 <ann@moving\.test>: moving\.test is being moved to this server and does not receive mail here yet/);
  await assert.rejects(deliver([ANN]), (e: Error & { response?: string }) => /^451 4\.3\.2/.test(e.response ?? ""));
  await assert.rejects(submit(), (e: Error & { response?: string }) => /^550 5\.7\.1 Sender address rejected: moving\.test is staged/.test(e.response ?? ""));
  assert.equal((await services.storage.store.queue.list()).length, 0, "nothing queued from the staged domain");
  assert.equal((await inbox(ANN)).length, 2);

  // Go live, beside the running server.
  assert.match(await cli("domain", "unstage", "moving.test"), /moving\.test is live/);
  const r2 = await deliver([ANN]);
  assert.deepEqual(r2.accepted, [ANN]);
  const s = await submit();
  assert.deepEqual(s.accepted, ["someone@elsewhere.test"]);
  assert.equal((await inbox(ANN)).length, 3);
  assert.doesNotMatch(await cli("domain", "list"), /staged/);
  const audit = await cli("audit", "--action", "domain.");
  assert.match(audit, /domain\.unstage\s+moving\.test/);
  assert.match(audit, /domain\.stage\s+moving\.test/);
});
