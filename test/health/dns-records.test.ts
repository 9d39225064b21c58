// `freehold dns records` follows the live configuration: a relay route adds its SPF include, a
// DKIM rotation adds the new selectors, a new server.publicIps changes SPF, A and PTR; the
// --zone snippet passes knot's kzonecheck.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import YAML from "yaml";
import { createDataDir, runFreeholdCli } from "../support/freehold.ts";

const run = promisify(execFile);

async function cli(dir: string, args: string[], stdin?: string): Promise<string> {
  const r = await runFreeholdCli(["--data", dir, ...args], stdin);
  assert.equal(r.code, 0, `freehold ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

type Rec = { name: string; type: string; value: string };
const records = async (dir: string): Promise<Rec[]> => JSON.parse(await cli(dir, ["dns", "records", "shop.test", "--json"])) as Rec[];
const spf = (rs: Rec[]) => rs.find((r) => r.type === "TXT" && r.value.startsWith("v=spf1"))!.value;

test("dns records: public IPs from config, relay includes from routes, DKIM rotation; zone passes kzonecheck", async (t) => {
  const data = await createDataDir({ hostname: "mail.shop.test", domains: ["shop.test"], config: { server: { publicIps: ["192.0.2.10"] } } });
  t.after(() => data.remove());
  const first = await records(data.dir);
  assert.equal(spf(first), "v=spf1 ip4:192.0.2.10 -all");
  assert.ok(first.some((r) => r.type === "A" && r.name === "mail.shop.test." && r.value === "192.0.2.10"));
  assert.ok(first.some((r) => r.type === "PTR" && r.name === "10.2.0.192.in-addr.arpa." && r.value === "mail.shop.test."));
  const selectors = (rs: Rec[]) => rs.filter((r) => r.name.includes("._domainkey.")).map((r) => r.name).sort();
  assert.equal(selectors(first).length, 2);

  // A relay with an SPF include, not yet on any route: no change. On the default route: included.
  await cli(data.dir, ["relay", "add", "backup", "--host", "smtp.relay.test", "--port", "587", "--spf-include", "spf.relay.test"]);
  assert.equal(spf(await records(data.dir)), "v=spf1 ip4:192.0.2.10 -all");
  await cli(data.dir, ["relay", "route", "set", "default", "direct", "backup"]);
  assert.equal(spf(await records(data.dir)), "v=spf1 ip4:192.0.2.10 include:spf.relay.test -all");

  // A DKIM rotation: the new selectors are listed beside the old ones.
  await cli(data.dir, ["dkim", "rotate", "shop.test"]);
  const rotated = await records(data.dir);
  assert.equal(selectors(rotated).length, 4);
  assert.ok(selectors(first).every((s) => selectors(rotated).includes(s)));

  // A new public IP (IPv4 and IPv6) in freehold.yaml.
  const file = path.join(data.dir, "freehold.yaml");
  const doc = YAML.parse(await readFile(file, "utf8")) as Record<string, unknown>;
  await writeFile(file, YAML.stringify({ ...doc, server: { publicIps: ["192.0.2.20", "2001:db8::20"] } }), { mode: 0o600 });
  const moved = await records(data.dir);
  assert.equal(spf(moved), "v=spf1 ip4:192.0.2.20 ip6:2001:db8::20 include:spf.relay.test -all");
  assert.ok(moved.some((r) => r.type === "AAAA" && r.value === "2001:db8::20"));
  assert.ok(moved.some((r) => r.type === "PTR" && r.name === `0.2.${"0.".repeat(22)}8.b.d.0.1.0.0.2.ip6.arpa.`));
  assert.ok(!moved.some((r) => r.value === "192.0.2.10"));
  // --ip still overrides the config.
  assert.match(await cli(data.dir, ["dns", "records", "shop.test", "--ip", "192.0.2.30", "--zone"]), /^shop\.test\. 3600 IN TXT "v=spf1 ip4:192\.0\.2\.30 include:spf\.relay\.test -all"$/m);

  if (!existsSync("/usr/bin/kzonecheck")) {
    if (process.env.CI === "true") assert.fail("kzonecheck missing (apt-get install knot-dnssecutils)");
    t.diagnostic("kzonecheck not installed (knot-dnssecutils): zone syntax not checked");
    return;
  }
  const zone = await cli(data.dir, ["dns", "records", "shop.test", "--zone"]);
  const full = ["$ORIGIN shop.test.", "$TTL 3600", "@ SOA ns.shop.test. hostmaster.shop.test. 1 3600 600 86400 60", "@ NS ns.shop.test.", "ns A 192.0.2.53", zone].join("\n");
  const zf = path.join(path.dirname(data.dir), "shop.test.zone");
  await writeFile(zf, full);
  const r = await run("kzonecheck", ["-o", "shop.test", zf]).catch((e: { stdout: string; stderr: string }) => assert.fail(`kzonecheck: ${e.stdout}${e.stderr}`));
  assert.equal(r.stderr, "");
});
