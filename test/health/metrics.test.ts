// /metrics: the loopback listener with a bearer token, real counts from a queue fixture, and
// every metric name and label checked against docs/metrics.md.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { queueFixture, message, SENDER } from "../queue/fixture.ts";
import { Metrics } from "../../src/metrics/registry.ts";
import { startMetricsListener } from "../../src/metrics/listener.ts";
import { silentLogger } from "../../src/log/logger.ts";

const DOC = path.join(import.meta.dirname, "../../docs/metrics.md");

/** name → label names, from the docs table. */
async function documented(): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const line of (await fs.readFile(DOC, "utf8")).split("\n")) {
    const m = /^\| `(freehold_[a-z_]+)` \| (gauge|counter) \|([^|]*)\|/.exec(line);
    if (m) out.set(m[1], [...m[3].matchAll(/`([a-z_]+)`/g)].map((x) => x[1]).sort());
  }
  return out;
}

/** name → label names seen, from the exposition text (samples and HELP lines). */
function exposed(text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const line of text.split("\n")) {
    const help = /^# HELP (\S+)/.exec(line);
    if (help) out.set(help[1], out.get(help[1]) ?? new Set());
    const s = /^([a-z_]+)(\{([^}]*)\})? /.exec(line);
    if (!s) continue;
    const labels = out.get(s[1]) ?? new Set<string>();
    for (const l of (s[3] ?? "").matchAll(/([a-z_]+)="/g)) labels.add(l[1]);
    out.set(s[1], labels);
  }
  return out;
}

test("/metrics behind a bearer token: queue, deliveries, refusals, logins, checks; the names and labels are exactly those in docs/metrics.md", async (t) => {
  const f = await queueFixture({ zones: {} });
  t.after(() => f.close());
  await f.enqueue({ mailFrom: SENDER, recipients: [{ recipient: "bob@remote.test" }, { recipient: "carol@remote.test" }], body: message("waiting") });
  f.clock.advance(90_000);
  const m = new Metrics({ store: f.storage.store, clock: f.clock, dataDir: f.dir });
  m.countImapSessions(() => 3);
  m.outcome({ kind: "delivered", route: "direct" });
  m.outcome({ kind: "bounced", route: "direct" });
  m.outcome({ kind: "deferred", route: "backup" });
  m.smtpRejections.inc({ reason: "unknownUser", role: "mx" });
  const login = m.countedLogin("imap", async (ok: boolean) => (ok ? { ok: true } : { ok: false, reason: "failed" }));
  await login(true);
  await login(false);
  m.checkResults([
    { id: "blocklist.bl.test.192.0.2.1", status: "fail", group: "blocklist" },
    { id: "tls.mx", status: "ok", group: "tls" },
  ]);
  const token = "a metrics token of some length";
  const l = await startMetricsListener(m, { listen: "127.0.24.3:0", token, logger: silentLogger() });
  t.after(() => l.close());
  const url = `http://127.0.24.3:${l.port}/metrics`;

  assert.equal((await fetch(url)).status, 401);
  assert.equal((await fetch(url, { headers: { authorization: "Bearer wrong token of some length" } })).status, 401);
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  assert.match(text, /^freehold_queue_recipients\{state="pending"\} 2$/m);
  assert.match(text, /^freehold_queue_oldest_age_seconds\{state="pending"\} 90$/m);
  assert.match(text, /^freehold_deliveries_total\{route="direct"\} 1$/m);
  assert.match(text, /^freehold_bounces_total\{route="direct"\} 1$/m);
  assert.match(text, /^freehold_deferrals_total\{route="backup"\} 1$/m);
  assert.match(text, /^freehold_smtp_rejections_total\{reason="unknownUser",role="mx"\} 1$/m);
  assert.match(text, /^freehold_logins_total\{protocol="imap",result="ok"\} 1$/m);
  assert.match(text, /^freehold_logins_total\{protocol="imap",result="failed"\} 1$/m);
  assert.match(text, /^freehold_imap_sessions 3$/m);
  assert.match(text, /^freehold_check_status\{check="blocklist\.bl\.test\.192\.0\.2\.1",group="blocklist",status="fail"\} 1$/m);
  assert.match(text, /^freehold_checks\{status="fail"\} 1$/m);
  const db = /^freehold_store_bytes\{part="database"\} (\d+)$/m.exec(text);
  assert.ok(db && Number(db[1]) > 0, "the database has a size");

  const docs = await documented();
  const seen = exposed(text);
  assert.ok(docs.size >= 11, "the docs table was read");
  assert.deepEqual([...seen.keys()].sort(), [...docs.keys()].sort(), "metric names in the output = metric names in docs/metrics.md");
  for (const [name, labels] of seen) assert.deepEqual([...labels].sort(), docs.get(name), `labels of ${name}`);

  assert.equal((await fetch(`http://127.0.24.3:${l.port}/other`, { headers: { authorization: `Bearer ${token}` } })).status, 404);
});

test("the metrics listener refuses a non-loopback address without a token", async () => {
  const m = new Metrics({ store: { queue: { list: async () => [] } } as never, clock: { now: () => 0 }, dataDir: "/nonexistent" });
  await assert.rejects(startMetricsListener(m, { listen: "0.0.0.0:0", logger: silentLogger() }), /not loopback: set metrics\.token/);
});
