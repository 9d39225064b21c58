// `freehold dns records` follows the live configuration: a DKIM rotation, a new public IP and a
// relay include each change its output.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const main = path.resolve(import.meta.dirname, "../../src/cli/main.ts");

test("dns records: DKIM rotation, IP change and relay include show in the output", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "fh-dnsrec-"));
  const run = (...args: string[]) => execFileSync(process.execPath, [main, ...args], { env: { ...process.env, FREEHOLD_DATA: dir }, encoding: "utf8" });
  try {
    run("init", "--hostname", "mail.example.test");
    run("domain", "add", "example.test");
    const recs = (...a: string[]) => JSON.parse(run("dns", "records", "example.test", "--json", ...a)) as { name: string; type: string; value: string }[];
    const before = recs("--ip", "192.0.2.10");
    const n = before.filter((r) => r.name.includes("._domainkey.")).length; // domain add makes the first keys
    run("dkim", "rotate", "example.test");
    const after = recs("--ip", "192.0.2.10");
    const dkim = after.filter((r) => r.name.includes("._domainkey."));
    assert.equal(dkim.length, n + 2);
    assert.ok(dkim.every((r) => r.value.startsWith("v=DKIM1;")));
    const moved = recs("--ip", "192.0.2.20", "--include", "spf.relay.test");
    assert.equal(moved.find((r) => r.value.startsWith("v=spf1"))?.value, "v=spf1 ip4:192.0.2.20 include:spf.relay.test -all");
    assert.ok(moved.some((r) => r.type === "PTR" && r.name === "20.2.0.192.in-addr.arpa."));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
