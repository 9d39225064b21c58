// /api/v1/jobs (src/jobs/jobs.ts, src/web/routes/jobs.ts): a job starts at once (202 with its id),
// its state and progress are read by id until it ends, its result is the operation's; only its
// owner sees it; a refused start (rights, another tenant, bad input) writes nothing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { offlineChecks, seedQueue, snapshot, startWeb } from "./harness.ts";
import type { Web } from "./harness.ts";

let w: Web;
before(async () => {
  w = await startWeb({ host: "127.0.20.2", extra: offlineChecks });
});
after(async () => {
  await w?.close();
});

async function until(get: () => Promise<any>, done: (j: any) => boolean): Promise<any> {
  const end = Date.now() + 60_000;
  for (;;) {
    const j = await get();
    if (done(j)) return j;
    assert.ok(Date.now() < end, `job still ${JSON.stringify(j)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("a queue flush job: 202 with an id, polled to done with its result, listed for its owner only", async () => {
  seedQueue(w.db, [{ from: "u@a.test", to: "x@remote.example" }]);
  const admin = await w.token("admin@a.test", "server");
  const start = await w.req("POST", "/api/v1/jobs", { token: admin, body: { kind: "queue-flush" } });
  assert.equal(start.status, 202, start.text);
  assert.equal(start.json.kind, "queue-flush");
  assert.match(start.json.id, /^[A-Za-z0-9_-]{12}$/);
  const j = await until(async () => (await w.req("GET", `/api/v1/jobs/${start.json.id}`, { token: admin })).json, (x) => x.state !== "running");
  assert.equal(j.state, "done", JSON.stringify(j));
  assert.equal(j.progress, 100);
  assert.ok(j.result.due >= 1, JSON.stringify(j));
  const row = w.db.prepare("SELECT next_attempt_at AS t FROM queue_recipients WHERE recipient = 'x@remote.example'").get() as { t: number };
  assert.ok(row.t <= Date.now());
  assert.deepEqual((await w.req("GET", "/api/v1/jobs", { token: admin })).json.items.map((x: any) => x.id), [start.json.id]);
  // Another user (even an admin of a domain) does not see it: not found, and not listed.
  const da = await w.token("da@a.test", "domain");
  assert.equal((await w.req("GET", `/api/v1/jobs/${start.json.id}`, { token: da })).status, 404);
  assert.deepEqual((await w.req("GET", "/api/v1/jobs", { token: da })).json.items, []);
});

test("a DKIM rotation job makes new keys; refused starts write nothing", async () => {
  const da = await w.token("da@a.test", "domain");
  const keys = () => (w.db.prepare("SELECT count(*) AS n FROM dkim_keys WHERE domain = 'a.test'").get() as { n: number }).n;
  const before_ = keys();
  const start = await w.req("POST", "/api/v1/jobs", { token: da, body: { kind: "dkim-rotate", domain: "a.test" } });
  assert.equal(start.status, 202, start.text);
  const j = await until(async () => (await w.req("GET", `/api/v1/jobs/${start.json.id}`, { token: da })).json, (x) => x.state !== "running");
  assert.equal(j.state, "done", JSON.stringify(j));
  assert.ok(j.result.selectors.length >= 1);
  assert.ok(keys() > before_);

  const snap = snapshot(w.db);
  const refused: Array<[unknown, number]> = [
    [{ kind: "dkim-rotate", domain: "b.test" }, 404], // another tenant's domain
    [{ kind: "dkim-rotate", domain: "nowhere.test" }, 404],
    [{ kind: "queue-flush" }, 403], // server admins only
    [{ kind: "dkim-rotate" }, 400],
    [{ kind: "queue-flush", domain: "a.test" }, 400],
    [{ kind: "reboot" }, 400],
    [{ kind: "queue-flush", extra: 1 }, 400],
  ];
  for (const [body, status] of refused) {
    const r = await w.req("POST", "/api/v1/jobs", { token: da, body });
    assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.text}`);
    assert.match(String(r.headers["content-type"]), /application\/problem\+json/);
  }
  assert.equal(snapshot(w.db), snap, "a refused start changed something");
  assert.equal((await w.req("GET", "/api/v1/jobs/nope", { token: da })).status, 404);
});

test("a checks job runs group by group to done with the results; server admins only", async () => {
  const admin = await w.token("admin@a.test", "server");
  const start = await w.req("POST", "/api/v1/jobs", { token: admin, body: { kind: "checks", groups: ["queue", "disk"] } });
  assert.equal(start.status, 202, start.text);
  const seen = new Set<string>();
  const j = await until(async () => {
    const x = (await w.req("GET", `/api/v1/jobs/${start.json.id}`, { token: admin })).json;
    seen.add(x.message);
    return x;
  }, (x) => x.state !== "running");
  assert.equal(j.state, "done", JSON.stringify(j));
  const ids: string[] = j.result.results.map((r: any) => r.id);
  assert.ok(ids.some((id) => id.startsWith("disk")), ids.join(" "));
  assert.ok(ids.some((id) => id.startsWith("queue")), ids.join(" "));
  assert.equal(j.result.ok + j.result.warn + j.result.fail + j.result.unknown, ids.length);
  const da = await w.token("da@a.test", "domain");
  assert.equal((await w.req("POST", "/api/v1/jobs", { token: da, body: { kind: "checks" } })).status, 403);
  assert.equal((await w.req("POST", "/api/v1/jobs", { token: admin, body: { kind: "checks", groups: ["nope"] } })).status, 400);
  assert.equal((await w.req("POST", "/api/v1/jobs", { token: admin, body: { kind: "queue-flush", groups: ["disk"] } })).status, 400);
  // History: the watcher's stored runs (none here: no watcher runs in this test), server admins only.
  const hist = await w.req("GET", "/api/v1/checks/history", { token: admin });
  assert.equal(hist.status, 200, hist.text);
  assert.deepEqual(hist.json.items, []);
  assert.equal((await w.req("GET", "/api/v1/checks/history", { token: da })).status, 403);
});

test("a relay test job against a real SMTP peer (aiosmtpd): each step reported; a relay that refuses connections fails the test; only server admins", async () => {
  const { spawn } = await import("node:child_process");
  const net = await import("node:net");
  // A free port on this suite's address, then Debian's aiosmtpd on it (no TLS: a loopback relay).
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, "127.0.20.3", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const peer = spawn("/usr/bin/python3", ["-m", "aiosmtpd", "-n", "-l", `127.0.20.3:${port}`], { stdio: "ignore" });
  try {
    const end = Date.now() + 30_000;
    for (;;) {
      const up = await new Promise<boolean>((r) => net.connect(port, "127.0.20.3").once("connect", function (this: import("node:net").Socket) { this.destroy(); r(true); }).once("error", () => r(false)));
      if (up) break;
      assert.ok(Date.now() < end, "aiosmtpd did not start");
      await new Promise((r) => setTimeout(r, 100));
    }
    const admin = await w.token("admin@a.test", "server");
    const put = await w.req("PUT", "/api/v1/relays/peer", { token: admin, body: { host: "127.0.20.3", port, tls: "none" } });
    assert.ok(put.status < 300, put.text);
    const start = await w.req("POST", "/api/v1/jobs", { token: admin, body: { kind: "relay-test", relay: "peer" } });
    assert.equal(start.status, 202, start.text);
    const j = await until(async () => (await w.req("GET", `/api/v1/jobs/${start.json.id}`, { token: admin })).json, (x) => x.state !== "running");
    assert.equal(j.state, "done", JSON.stringify(j));
    assert.equal(j.result.ok, true, JSON.stringify(j.result));
    assert.deepEqual(j.result.steps.map((s: any) => s.step), ["resolve", "connect", "tls", "ehlo", "auth"]);
    assert.match(j.result.steps[3].detail, /8BITMIME|SIZE|SMTPUTF8/, "EHLO keywords of the peer");

    // Stop the peer: the next test fails at connect, and says so.
    peer.kill("SIGKILL");
    await new Promise((r) => peer.once("exit", r));
    const again = await w.req("POST", "/api/v1/jobs", { token: admin, body: { kind: "relay-test", relay: "peer" } });
    const k = await until(async () => (await w.req("GET", `/api/v1/jobs/${again.json.id}`, { token: admin })).json, (x) => x.state !== "running");
    assert.equal(k.state, "done");
    assert.equal(k.result.ok, false);
    const last = k.result.steps.at(-1);
    assert.equal(last.ok, false);
    assert.match(last.detail, /ECONNREFUSED|refused/i, JSON.stringify(last));

    // Unknown relay → 404, a domain admin → 403, a relay with a domain → 400; no job is made.
    const da = await w.token("da@a.test", "domain");
    const jobsBefore = (await w.req("GET", "/api/v1/jobs", { token: admin })).json.items.length;
    assert.equal((await w.req("POST", "/api/v1/jobs", { token: admin, body: { kind: "relay-test", relay: "nope" } })).status, 404);
    assert.equal((await w.req("POST", "/api/v1/jobs", { token: da, body: { kind: "relay-test", relay: "peer" } })).status, 403);
    assert.equal((await w.req("POST", "/api/v1/jobs", { token: admin, body: { kind: "relay-test", relay: "peer", domain: "a.test" } })).status, 400);
    assert.equal((await w.req("GET", "/api/v1/jobs", { token: admin })).json.items.length, jobsBefore);
  } finally {
    peer.kill("SIGKILL");
  }
});
