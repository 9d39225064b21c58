// MTA-STS (RFC 8461) enforce: the policy is served over HTTPS on 127.0.0.81:443 with a test CA
// (trusted through NODE_EXTRA_CA_CERTS in a child process, as mailauth fetches it itself).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { makeTestCa } from "./peers.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");

test("MTA-STS enforce: delivered over verified TLS to a listed MX; a certificate that does not match defers; the policy is cached", { skip: process.getuid?.() !== 0 ? "port 443 needs root" : undefined }, async (t) => {
  const ca = await makeTestCa(["mta-sts.sts.test", "mta-sts.bad.test"]);
  t.after(() => fs.rm(ca.dir, { recursive: true, force: true }));
  // The MX certificate names mx.sts.test only: mx.bad.test presents the same, wrong, certificate.
  const mxCert = await makeTestCa(["mx.sts.test"]);
  t.after(() => fs.rm(mxCert.dir, { recursive: true, force: true }));
  const bundle = path.join(ca.dir, "bundle.pem");
  await fs.writeFile(bundle, ca.caCert + mxCert.caCert);
  const cfg = { certFile: ca.certFile, keyFile: ca.keyFile, mxCertFile: mxCert.certFile, mxKeyFile: mxCert.keyFile };
  const out = await new Promise<string>((resolve, reject) =>
    execFile(
      process.execPath,
      ["--import", "./test/support/guard.ts", "test/delivery/mta-sts-child.ts", JSON.stringify(cfg)],
      { cwd: ROOT, env: { ...process.env, NODE_EXTRA_CA_CERTS: bundle }, timeout: 120_000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
    ),
  );
  const r = JSON.parse(out.trim().split("\n").at(-1)!);
  t.diagnostic(`policy fetches: ${r.fetchesAfterFirst}; bad: ${r.badEntry?.recipients[0].lastReply}`);
  assert.equal(r.okEntry, null, "delivered to the listed MX");
  assert.equal(r.ok2Entry, null);
  assert.deepEqual(r.received, [{ rcpt: ["a@sts.test"], tls: true }, { rcpt: ["c@sts.test"], tls: true }]);
  assert.equal(r.badEntry.recipients[0].state, "pending", "deferred, not sent in clear or to an unverified host");
  assert.equal(r.badEntry.recipients[0].status, "4.7.5");
  assert.equal(r.fetchesAfterSecond, r.fetchesAfterFirst, "the cached policy is reused while max_age lasts and the id is unchanged");
});
