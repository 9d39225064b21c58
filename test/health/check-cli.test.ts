// `freehold check` end to end: a data folder whose dns.servers is a knot on 127.0.23.3 serving
// what `freehold dns records` printed, minus DMARC. The CLI exits 1 with the DMARC fail in its
// JSON; once the record is published, the service (answer cache off) sees it at once and the
// CLI exits 0.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startKnot } from "../support/knot.ts";
import type { RecordSet, ZoneDescription } from "../support/dns-zone.ts";
import { createDataDir, runFreeholdCli } from "../support/freehold.ts";
import { openDataDir } from "../../src/cli/context.ts";
import { systemClock } from "../../src/clock.ts";
import { loadRelayFile } from "../../src/delivery/relays.ts";
import { runChecks } from "../../src/health/check.ts";
import { checkDeps } from "../../src/health/service.ts";
import type { CheckReport } from "../../src/health/types.ts";

const HOST = "mail.shop.test";
const IP = "192.0.2.10";

test("freehold check: exit 1 and JSON on a fail; a published fix shows at once (no answer cache)", async (t) => {
  const data = await createDataDir({ hostname: HOST, domains: ["shop.test"], config: { server: { publicIps: [IP], blocklists: { ip: [], domain: [] } } } });
  t.after(() => data.remove());
  const cli = (...a: string[]) => runFreeholdCli(["--data", data.dir, ...a]);
  const recs = JSON.parse((await cli("dns", "records", "shop.test", "--json")).stdout) as { name: string; type: string; value: string }[];
  const zone = (withDmarc: boolean): ZoneDescription => {
    const owners: Record<string, RecordSet> = { "@": { NS: ["ns1.shop.test."] }, ns1: { A: ["127.0.23.3"] } };
    for (const r of recs) {
      const n = r.name.replace(/\.$/, "");
      if (!n.endsWith("shop.test") || (!withDmarc && n.startsWith("_dmarc."))) continue;
      const s = (owners[n === "shop.test" ? "@" : n.slice(0, -"shop.test".length - 1)] ??= {});
      if (r.type === "MX") s.MX = [[10, r.value.split(" ")[1]]];
      if (r.type === "A") (s.A ??= []).push(r.value);
      if (r.type === "TXT") (s.TXT ??= []).push(r.value);
    }
    return { "shop.test": owners, "2.0.192.in-addr.arpa": { "10": { PTR: [`${HOST}.`] } } };
  };
  const knot = await startKnot(zone(false), { host: "127.0.23.3" });
  t.after(() => knot.stop());
  // dns.servers → the knot (createDataDir wrote the config; rewrite its dns key).
  const fs = await import("node:fs/promises");
  const YAML = (await import("yaml")).default;
  const file = `${data.dir}/freehold.yaml`;
  const doc = YAML.parse(await fs.readFile(file, "utf8")) as Record<string, unknown>;
  await fs.writeFile(file, YAML.stringify({ ...doc, dns: { servers: [knot.address], timeoutMs: 2000, tries: 2 } }), { mode: 0o600 });

  const r1 = await cli("check", "--json", "--only", "dns", "identity");
  assert.equal(r1.code, 1, r1.stderr);
  assert.match(r1.stderr, /^freehold: 1 check\(s\) failed$/m);
  const rep = JSON.parse(r1.stdout) as CheckReport;
  assert.match(rep.startedAt, /^\d{4}-\d\d-\d\dT/);
  const dm = rep.results.find((x) => x.id === "dns.dmarc.shop.test")!;
  assert.deepEqual(dm, {
    id: "dns.dmarc.shop.test",
    status: "fail",
    message: "shop.test has no DMARC record: receivers such as Gmail and Yahoo reject bulk mail without one",
    fix: 'add _dmarc.shop.test. TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@shop.test"',
    subject: "shop.test",
    group: "dns",
  });
  assert.deepEqual(rep.results.filter((x) => x.status === "fail").map((x) => x.id), ["dns.dmarc.shop.test"]);
  assert.equal(rep.results.find((x) => x.id === `identity.ptr.${IP}`)?.status, "ok");

  // The service as serve's watcher will use it: one deps object, two runs, the fix in between.
  const opened = await openDataDir(data.dir, { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: {}, clock: systemClock });
  t.after(() => opened.close());
  const deps = checkDeps({ ...opened, relays: await loadRelayFile(data.dir), secrets: {}, clock: systemClock });
  t.after(() => deps.close());
  const status = async () => (await runChecks(deps, { only: ["dns"] })).results.find((x) => x.id === "dns.dmarc.shop.test")?.status;
  assert.equal(await status(), "fail");
  await knot.update(zone(true));
  assert.equal(await status(), "ok");

  const r2 = await cli("check", "shop.test", "--only", "dns", "identity");
  assert.equal(r2.code, 0, r2.stdout + r2.stderr);
  assert.match(r2.stdout, /^STATUS\s+CHECK\s+RESULT$/m);
  assert.match(r2.stdout, /^ok\s+dns\.dmarc\.shop\.test\s+DMARC p=none/m);
  assert.match(r2.stdout, /checks at .*: \d+ ok, \d+ warn, 0 fail, 0 unknown$/m);
});
