// The API routes of the account page and the operator views (docs/api.md): the .mobileconfig
// download (parsed with Python's plistlib, no password in it), the password change and admin
// reset through the IMAP/SMTP login limits, spam stats, trace and the suppression list — each
// with its role and tenant rules and bad input changing nothing (database, audit log).
// Loopback block 127.0.21.0/24.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { appendFile, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { SYSTEM } from "../../src/accounts/authz.ts";
import type { Config } from "../../src/config/schema.ts";
import { loadConfig } from "../../src/config/load.ts";
import { openSpamDb, SqliteSpamRepo } from "../../src/store/sqlite/spam.ts";
import { ImportCheckpoint } from "../../src/store/sqlite/import-checkpoint.ts";
import { Importer } from "../../src/migrate/import.ts";
import { TraceReportSchema } from "../../src/trace/trace.ts";
import { runFreeholdCli } from "../support/freehold.ts";
import { PASSWORD, seedQueue, snapshot, startWeb } from "./harness.ts";
import type { Web } from "./harness.ts";

const HOST = "127.0.21.1";
let w: Web;
let config: Config;
let adminToken: string;
let daToken: string;
let userToken: string;

before(async () => {
  w = await startWeb({ host: HOST });
  config = await loadConfig(w.data.dir);
  adminToken = await w.token("admin@a.test", "server");
  daToken = await w.token("da@a.test", "domain");
  userToken = await w.token("u@a.test", "user");
});
after(async () => {
  await w?.close();
});

const auditCount = () => (w.db.prepare("SELECT count(*) AS n FROM audit_log").get() as { n: number }).n;

function plistlib(xml: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const py = execFile("python3", ["-c", "import plistlib, sys, json; print(json.dumps(plistlib.loads(sys.stdin.buffer.read())))"], (err, stdout, stderr) => {
      if (err) return reject(new Error(`plistlib: ${stderr}`));
      resolve(JSON.parse(stdout));
    });
    py.stdin!.end(xml);
  });
}

test("mobileconfig: the signed-in user's own profile, parsed by plistlib, no password; 401/409/400 otherwise", async () => {
  const s = await w.login("u@a.test");
  // The harness's folder has no TLS IMAP/submission listener: nothing to configure.
  const none = await w.req("GET", "/api/v1/account/mobileconfig", { cookie: s.cookie });
  assert.equal(none.status, 409, none.text);
  assert.match(String(none.headers["content-type"]), /^application\/problem\+json/);

  w.deps.clientConfig = () => ({
    ...config,
    listeners: [...config.listeners, { role: "imaps", address: HOST, port: 993, tls: "implicit" } as Config["listeners"][number], { role: "submissions", address: HOST, port: 465, tls: "implicit" } as Config["listeners"][number]],
  });
  const r = await w.req("GET", "/api/v1/account/mobileconfig", { cookie: s.cookie });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers["content-type"], "application/x-apple-aspen-config");
  assert.match(String(r.headers["content-disposition"]), /attachment; filename="u@a\.test\.mobileconfig"/);
  assert.equal(r.headers["cache-control"], "no-store");
  assert.ok(!r.text.includes(PASSWORD), "the password is in the profile");
  assert.ok(!/<key>(Incoming|Outgoing)Password<\/key>/.test(r.text), "a password key is in the profile");
  const p = await plistlib(r.text);
  assert.equal(p.PayloadType, "Configuration");
  const mail = p.PayloadContent.find((x: any) => x.PayloadType === "com.apple.mail.managed");
  assert.ok(mail, JSON.stringify(p));
  assert.equal(mail.EmailAddress, "u@a.test");
  assert.equal(mail.IncomingMailServerHostName, "mail.a.test");
  assert.equal(mail.IncomingMailServerPortNumber, 993);
  assert.equal(mail.OutgoingMailServerPortNumber, 465);
  assert.equal(mail.IncomingMailServerUsername, "u@a.test");
  assert.equal(mail.IncomingPassword, undefined);
  assert.equal(mail.OutgoingPassword, undefined);
  // A token of the user works too; it is always the caller's own profile.
  const t = await w.req("GET", "/api/v1/account/mobileconfig", { token: daToken });
  assert.equal((await plistlib(t.text)).PayloadContent[0].EmailAddress, "da@a.test");

  assert.equal((await w.req("GET", "/api/v1/account/mobileconfig")).status, 401);
  assert.equal((await w.req("GET", "/api/v1/account/mobileconfig?user=admin@a.test", { cookie: s.cookie })).status, 400, "unknown query field");
  w.clock.skew += 31 * 60_000;
  try {
    const expired = await w.req("GET", "/api/v1/account/mobileconfig", { cookie: s.cookie });
    assert.equal(expired.status, 401, "expired session");
  } finally {
    w.clock.skew = 0;
  }
});

test("password change: current password checked with the login limits, one error text, nothing written on failure", async () => {
  await w.services.accounts.addUser(SYSTEM, { address: "pw@a.test", password: PASSWORD });
  const s = await w.login("pw@a.test");
  const snap = snapshot(w.db);
  const bad: Array<{ name: string; body?: unknown; raw?: string; csrf?: string | null; status: number }> = [
    { name: "missing CSRF", body: { current: PASSWORD, password: "a new long password" }, csrf: null, status: 403 },
    { name: "unknown field", body: { current: PASSWORD, password: "a new long password", role: "admin" }, status: 400 },
    { name: "wrong type", body: { current: 42, password: "a new long password" }, status: 400 },
    { name: "too short", body: { current: PASSWORD, password: "short" }, status: 400 },
    { name: "too long", body: { current: PASSWORD, password: "x".repeat(1025) }, status: 400 },
    { name: "control character", body: { current: PASSWORD, password: "a new long\u0000password" }, status: 400 },
    { name: "bad JSON", raw: "{", status: 400 },
  ];
  for (const c of bad) {
    const r = await w.req("POST", "/api/v1/account/password", { cookie: s.cookie, csrf: c.csrf === null ? undefined : s.csrf, body: c.body, raw: c.raw, headers: c.raw ? { "content-type": "application/json" } : undefined });
    assert.equal(r.status, c.status, `${c.name}: ${r.text}`);
    assert.match(String(r.headers["content-type"]), /^application\/problem\+json/, c.name);
  }
  assert.equal(snapshot(w.db), snap);

  // Wrong current password: the same text every time; after the account limit (10, the
  // IMAP/SMTP limiter's), a 429 with Retry-After even for the right one.
  const texts = new Set<string>();
  let limited = false;
  for (let i = 0; i < 12 && !limited; i++) {
    const r = await w.req("POST", "/api/v1/account/password", { cookie: s.cookie, csrf: s.csrf, body: { current: `wrong ${i}`, password: "a new long password" } });
    if (r.status === 429) {
      limited = true;
      assert.ok(Number(r.headers["retry-after"]) > 0);
      break;
    }
    assert.equal(r.status, 401, r.text);
    texts.add(`${r.json.type} ${r.json.detail}`);
  }
  assert.ok(limited, "never limited");
  assert.equal(texts.size, 1, [...texts].join(" | "));
  const right = await w.req("POST", "/api/v1/account/password", { cookie: s.cookie, csrf: s.csrf, body: { current: PASSWORD, password: "a new long password" } });
  assert.equal(right.status, 429, "limited even with the right password");
  // The limit is the login's: the web login of that account is limited too.
  assert.equal((await w.req("POST", "/api/v1/session", { body: { address: "pw@a.test", password: PASSWORD } })).status, 429);
  assert.equal(snapshot(w.db), snap, "failed changes wrote something");
  // The per-IP limit of the shared limiter now holds for this client address too: let the
  // window and the lockout pass (the limiter runs on the test's clock; tokens do not expire).
  w.clock.skew += 3 * 3600_000;

  // A working change (another account, unlimited): 204, audited, the sessions end.
  const u = await w.login("ub@b.test");
  const before = auditCount();
  const ok = await w.req("POST", "/api/v1/account/password", { cookie: u.cookie, csrf: u.csrf, body: { current: PASSWORD, password: "another long password" } });
  assert.equal(ok.status, 204, ok.text);
  assert.equal(auditCount(), before + 1);
  assert.equal((await w.req("GET", "/api/v1/session", { cookie: u.cookie })).status, 401, "the session outlived the change");
  assert.equal((await w.req("POST", "/api/v1/session", { body: { address: "ub@b.test", password: "another long password" } })).status, 200);
  await w.services.accounts.setPassword(SYSTEM, "ub@b.test", PASSWORD);
});

test("admin password reset: re-authenticated, tenant rules (another domain → 404), users refused", async () => {
  const body = { current: PASSWORD, password: "a reset long password" };
  const snap = snapshot(w.db);
  // Another domain's user: 404 before any password is checked; a user: 403 on themselves.
  const other = await w.req("POST", "/api/v1/users/ub@b.test/password", { token: daToken, body });
  assert.equal(other.status, 404, other.text);
  assert.equal((await w.req("POST", "/api/v1/users/u@a.test/password", { token: userToken, body })).status, 403);
  assert.equal((await w.req("POST", "/api/v1/users/u@a.test/password", { token: daToken, body: { ...body, current: "not mine" } })).status, 401);
  assert.equal(snapshot(w.db), snap);
  const ok = await w.req("POST", "/api/v1/users/u@a.test/password", { token: daToken, body });
  assert.equal(ok.status, 204, ok.text);
  assert.equal((await w.req("POST", "/api/v1/session", { body: { address: "u@a.test", password: body.password } })).status, 200);
  await w.services.accounts.setPassword(SYSTEM, "u@a.test", PASSWORD);
});

test("spam stats: the same figures as `freehold spam stats --json`, scoped by role", async () => {
  const side = openSpamDb(config.dataDir);
  const repo = new SqliteSpamRepo(side);
  const id = async (a: string) => (await w.services.storage.store.accounts.getUserByAddress(a))!.id;
  await repo.count(await id("u@a.test"), "junk", 3);
  await repo.count(await id("u@a.test"), "inbox", 5);
  await repo.count(await id("ub@b.test"), "reject", 2);
  side.close();

  const all = await w.req("GET", "/api/v1/spam/stats", { token: adminToken });
  assert.equal(all.status, 200, all.text);
  const cli = await runFreeholdCli(["spam", "stats", "--json", "--data", w.data.dir]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.deepEqual(all.json.items, JSON.parse(cli.stdout));
  const u = all.json.items.find((r: any) => r.address === "u@a.test");
  assert.equal(u.junk, 3);
  assert.equal(u.inbox, 5);

  const mine = await w.req("GET", "/api/v1/spam/stats", { token: userToken });
  assert.deepEqual(mine.json.items.map((r: any) => r.address), ["u@a.test"]);
  const dom = await w.req("GET", "/api/v1/spam/stats", { token: daToken });
  assert.ok(dom.json.items.length >= 2);
  assert.ok(dom.json.items.every((r: any) => r.address.endsWith("@a.test")), dom.text);
  for (const [q, token] of [["user=ub@b.test", daToken], ["domain=b.test", daToken], ["user=da@a.test", userToken]] as const) {
    const r = await w.req("GET", `/api/v1/spam/stats?${q}`, { token });
    assert.equal(r.status, 404, `${q}: ${r.text}`);
  }
  assert.deepEqual((await w.req("GET", "/api/v1/spam/stats?domain=b.test", { token: adminToken })).json.items.map((r: any) => r.address).sort(), ["db@b.test", "ub@b.test"]);
  assert.equal((await w.req("GET", "/api/v1/spam/stats?user=nobody@a.test", { token: adminToken })).status, 404);
  assert.equal((await w.req("GET", "/api/v1/spam/stats?verbose=1", { token: adminToken })).status, 400);
});

test("trace: the same timeline as `freehold trace --json` (same schema), tenant rules", async () => {
  const logFile = path.resolve(config.dataDir, config.log.file);
  const t0 = Date.now() - 60_000;
  const lines = [
    { time: t0, level: 30, component: "mx", cid: "c1", msg: "connection", remote: "127.0.21.9" },
    { time: t0 + 1, level: 30, component: "mx", cid: "c1", msg: "delivered", from: "sender@remote.test", rcpts: ["u@a.test"], messageId: "<m1@remote.test>", stored: "u@a.test INBOX 1" },
    { time: t0 + 2, level: 30, component: "mx", cid: "c2", msg: "connection", remote: "127.0.21.10" },
    { time: t0 + 3, level: 30, component: "mx", cid: "c2", msg: "delivered", from: "sender@remote.test", rcpts: ["ub@b.test"], messageId: "<m2@remote.test>", stored: "ub@b.test INBOX 1" },
  ];
  await mkdir(path.dirname(logFile), { recursive: true });
  await appendFile(logFile, lines.map((l) => JSON.stringify(l)).join("\n") + "\n");

  // An absolute since, so the CLI (real clock) and the server (the test's clock) read the same lines.
  const since = new Date(t0 - 1000).toISOString();
  const r = await w.req("GET", `/api/v1/trace?q=u@a.test&since=${since}`, { token: adminToken });
  assert.equal(r.status, 200, r.text);
  TraceReportSchema.parse(r.json);
  assert.deepEqual(r.json.events.map((e: any) => e.event), ["connection", "delivered"]);
  const cli = await runFreeholdCli(["trace", "u@a.test", "--since", since, "--json", "--data", w.data.dir]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.deepEqual(r.json, JSON.parse(cli.stdout));

  // A domain admin traces addresses of their domain; a user their own address.
  assert.equal((await w.req("GET", "/api/v1/trace?q=u@a.test&since=1w", { token: daToken })).status, 200);
  assert.equal((await w.req("GET", "/api/v1/trace?q=u@a.test&since=1w", { token: userToken })).status, 200);
  assert.equal((await w.req("GET", "/api/v1/trace?q=ub@b.test&since=1w", { token: daToken })).status, 404);
  assert.equal((await w.req("GET", "/api/v1/trace?q=da@a.test&since=1w", { token: userToken })).status, 404);
  assert.equal((await w.req("GET", "/api/v1/trace?q=%3Cm2@remote.test%3E&since=1w", { token: daToken })).status, 403);
  const byId = await w.req("GET", "/api/v1/trace?q=%3Cm2@remote.test%3E&since=1w", { token: adminToken });
  assert.deepEqual(byId.json.events.map((e: any) => e.cid), ["c2", "c2"]);
  // Bad input.
  for (const q of ["", "?q=", "?q=not%20a%20thing", "?q=u@a.test&since=yesterdayish", "?q=u@a.test&extra=1", `?q=${"x".repeat(1000)}`]) {
    const b = await w.req("GET", `/api/v1/trace${q}`, { token: adminToken });
    assert.equal(b.status, 400, `${q}: ${b.text}`);
    assert.match(String(b.headers["content-type"]), /^application\/problem\+json/);
  }
});

test("suppressions: list/add/remove as `freehold suppress`, audited, tenant rules, bad input writes nothing", async () => {
  const entries = () => w.services.suppression.list();
  const before = auditCount();
  const add = await w.req("PUT", "/api/v1/suppressions/a.test/Gone@Remote.test", { token: daToken, body: { reason: "mailbox gone", days: 30 } });
  assert.equal(add.status, 200, add.text);
  assert.equal(add.json.address, "gone@remote.test");
  assert.equal(add.json.source, "manual");
  assert.equal(auditCount(), before + 1);
  const audit = await w.req("GET", "/api/v1/audit?action=suppression", { token: adminToken });
  assert.equal(audit.json.items[0].action, "suppression.add");
  assert.equal(audit.json.items[0].actor, "da@a.test");
  assert.equal(audit.json.items[0].domain, "a.test");
  await w.services.suppression.add("b.test", "x@remote.test", "theirs");

  const cli = await runFreeholdCli(["suppress", "list", "--json", "--data", w.data.dir]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.deepEqual((await w.req("GET", "/api/v1/suppressions", { token: adminToken })).json.items, JSON.parse(cli.stdout));
  assert.deepEqual((await w.req("GET", "/api/v1/suppressions", { token: daToken })).json.items.map((e: any) => e.senderDomain), ["a.test"]);

  // Refusals and bad input: nothing written, nothing audited.
  const snapList = JSON.stringify(await entries());
  const snapAudit = auditCount();
  const cases: Array<[string, string, unknown, string, number]> = [
    ["PUT", "/api/v1/suppressions/b.test/y@remote.test", { reason: "x" }, daToken, 404],
    ["DELETE", "/api/v1/suppressions/b.test/x@remote.test", undefined, daToken, 404],
    ["GET", "/api/v1/suppressions?domain=b.test", undefined, daToken, 404],
    ["GET", "/api/v1/suppressions", undefined, userToken, 403],
    ["PUT", "/api/v1/suppressions/a.test/y@remote.test", { reason: "x", extra: 1 }, daToken, 400],
    ["PUT", "/api/v1/suppressions/a.test/y@remote.test", { days: "30" }, daToken, 400],
    ["PUT", "/api/v1/suppressions/a.test/y@remote.test", { days: 0 }, daToken, 400],
    ["PUT", "/api/v1/suppressions/a.test/y@remote.test", { reason: "r".repeat(501) }, daToken, 400],
    ["PUT", "/api/v1/suppressions/a.test/not-an-address", { reason: "x" }, daToken, 400],
    ["DELETE", "/api/v1/suppressions/a.test/never@remote.test", undefined, daToken, 404],
  ];
  for (const [method, url, body, token, status] of cases) {
    const r = await w.req(method, url, { token, body });
    assert.equal(r.status, status, `${method} ${url}: ${r.text}`);
    assert.match(String(r.headers["content-type"]), /^application\/problem\+json/);
  }
  // A session without the CSRF token.
  const s = await w.login("da@a.test");
  assert.equal((await w.req("PUT", "/api/v1/suppressions/a.test/y@remote.test", { cookie: s.cookie, body: { reason: "x" } })).status, 403);
  // An expired session, with its CSRF token.
  const old = await w.login("da@a.test");
  w.clock.skew += 31 * 60_000;
  try {
    assert.equal((await w.req("PUT", "/api/v1/suppressions/a.test/y@remote.test", { cookie: old.cookie, csrf: old.csrf, body: { reason: "x" } })).status, 401);
    assert.equal((await w.req("POST", "/api/v1/account/password", { cookie: old.cookie, csrf: old.csrf, body: { current: PASSWORD, password: "a new long password" } })).status, 401);
  } finally {
    w.clock.skew -= 31 * 60_000;
  }
  assert.equal(JSON.stringify(await entries()), snapList);
  assert.equal(auditCount(), snapAudit);

  const del = await w.req("DELETE", "/api/v1/suppressions/a.test/gone@remote.test", { cookie: s.cookie, csrf: s.csrf });
  assert.equal(del.status, 204, del.text);
  assert.equal(auditCount(), snapAudit + 1);
  assert.deepEqual((await entries()).map((e) => e.address), ["x@remote.test"]);
  assert.equal(await w.services.suppression.check("someone@a.test", "gone@remote.test"), null);
});

/** Python reads the download: tarfile + mailbox for mbox/Maildir, zipfile for eml-zip. */
function pyRead(format: string, file: string): Promise<any> {
  const script = String.raw`
import sys, json, tarfile, zipfile, mailbox, tempfile, os
fmt, path = sys.argv[1], sys.argv[2]
out = {}
if fmt == "eml-zip":
    z = zipfile.ZipFile(path)
    out = sorted(n for n in z.namelist() if n.endswith(".eml"))
    out = {"names": out, "subjects": sorted(z.read(n).split(b"\r\n")[0].decode() for n in out)}
else:
    d = tempfile.mkdtemp()
    with tarfile.open(path) as t:
        t.extractall(d, filter="data")
    top = os.path.join(d, os.listdir(d)[0])
    subjects = {}
    if fmt == "mbox":
        for f in sorted(os.listdir(top)):
            if f.endswith(".mbox"):
                subjects[f] = sorted(m["subject"] for m in mailbox.mbox(os.path.join(top, f)))
    else:
        md = mailbox.Maildir(top, create=False)
        subjects["INBOX"] = sorted(m["subject"] for m in md)
        for name in md.list_folders():
            subjects[name] = sorted(m["subject"] for m in md.get_folder(name))
    out = {"subjects": subjects}
print(json.dumps(out))
`;
  return new Promise((resolve, reject) => {
    execFile("python3", ["-c", script, format, file], (err, stdout, stderr) => (err ? reject(new Error(`${format}: ${stderr}`)) : resolve(JSON.parse(stdout))));
  });
}

test("export download: mbox and Maildir as tar, eml-zip as ZIP, read by Python; admin form by tenant, audited", async () => {
  const user = (await w.services.storage.store.accounts.getUserByAddress("u@a.test"))!;
  const { storage } = w.services;
  const target = { store: storage.store, blobs: storage.blobs, writer: storage.writer, checkpoint: new ImportCheckpoint(config.dataDir), user, quotaBytes: 0 };
  const msg = (folder: string, i: number) => ({ folder, flags: ["\\Seen"], internalDate: 1_700_000_000_000 + i * 1000, bytes: Buffer.from(`Subject: m${i}\r\nFrom: a@remote.test\r\n\r\nbody ${i}\r\n`), scope: `test:${folder}`, key: String(i) });
  assert.equal(await new Importer(target).addMany([msg("INBOX", 1), msg("INBOX", 2), msg("Work", 3)]), 3);

  const s = await w.login("u@a.test");
  const tmp = await mkdtemp(path.join(os.tmpdir(), "fh-api2-export-"));
  try {
    const before = auditCount();
    for (const format of ["mbox", "maildir", "eml-zip"]) {
      const r = await w.req("GET", `/api/v1/account/export?format=${format}`, { cookie: s.cookie });
      assert.equal(r.status, 200, `${format}: ${r.text.slice(0, 300)}`);
      assert.equal(r.headers["content-type"], format === "eml-zip" ? "application/zip" : "application/x-tar");
      assert.match(String(r.headers["content-disposition"]), format === "eml-zip" ? /filename="u@a\.test\.zip"/ : new RegExp(`filename="u@a\\.test\\.${format}\\.tar"`));
      const file = path.join(tmp, `x.${format}`);
      await writeFile(file, r.body);
      const got = await pyRead(format, file);
      if (format === "eml-zip") assert.deepEqual(got.subjects, ["Subject: m1", "Subject: m2", "Subject: m3"]);
      else {
        const inbox = Object.entries(got.subjects).find(([k]) => /^INBOX/i.test(k))?.[1];
        const work = Object.entries(got.subjects).find(([k]) => /Work/.test(k))?.[1];
        assert.deepEqual(inbox, ["m1", "m2"], JSON.stringify(got));
        assert.deepEqual(work, ["m3"], JSON.stringify(got));
      }
    }
    assert.equal(auditCount(), before, "one's own export is not an audited change");
    // Incremental: since the second message's date.
    const inc = await w.req("GET", `/api/v1/account/export?format=eml-zip&since=${new Date(1_700_000_002_000).toISOString()}`, { cookie: s.cookie });
    await writeFile(path.join(tmp, "inc.zip"), inc.body);
    assert.deepEqual((await pyRead("eml-zip", path.join(tmp, "inc.zip"))).subjects, ["Subject: m2", "Subject: m3"]);

    // Admin form: tenant rules, audited.
    assert.equal((await w.req("GET", "/api/v1/users/ub@b.test/export?format=mbox", { token: daToken })).status, 404);
    assert.equal((await w.req("GET", "/api/v1/users/da@a.test/export?format=mbox", { token: userToken })).status, 404);
    const adm = await w.req("GET", "/api/v1/users/u@a.test/export?format=eml-zip", { token: daToken });
    assert.equal(adm.status, 200, adm.text);
    assert.equal(auditCount(), before + 1);
    const e = (await w.req("GET", "/api/v1/audit?action=user.export", { token: adminToken })).json.items[0];
    assert.equal(e.actor, "da@a.test");
    assert.equal(e.target, "u@a.test");

    // Bad input: 400 problem, nothing written; no temporary folder left behind.
    const snap = snapshot(w.db);
    for (const q of ["", "?format=pdf", "?format=mbox&since=whenever", "?format=mbox&extra=1", "?format=mbox&format=maildir"]) {
      const r = await w.req("GET", `/api/v1/account/export${q}`, { cookie: s.cookie });
      assert.equal(r.status, 400, `${q}: ${r.text}`);
      assert.match(String(r.headers["content-type"]), /^application\/problem\+json/);
    }
    assert.equal((await w.req("GET", "/api/v1/account/export?format=mbox")).status, 401);
    assert.equal(snapshot(w.db), snap);
    await waitFor(async () => (await readdir(path.join(config.dataDir, "tmp"))).filter((f) => f.startsWith("export-")).length === 0);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

async function waitFor(cond: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("tenant isolation for plain users: every route of the OpenAPI document against others' objects → 403/404, nothing written", async () => {
  const doc = (await w.req("GET", "/api/v1/openapi.json")).json;
  const [queueB] = seedQueue(w.db, [{ from: "ub@b.test", to: "z@remote.test" }]);
  const adminTokenId = (w.db.prepare("SELECT t.id FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE u.address = 'admin@a.test' LIMIT 1").get() as { id: number }).id;
  await w.services.suppression.add("b.test", "s@remote.test", "theirs");
  const values: Record<string, (p: string) => string> = {
    domain: () => "b.test",
    address: (p) => (p.startsWith("/api/v1/aliases") ? "info@b.test" : p.startsWith("/api/v1/suppressions") ? "s@remote.test" : "ub@b.test"),
    id: (p) => (p.startsWith("/api/v1/queue") ? String(queueB) : String(adminTokenId)),
    name: () => "smarthost",
    kind: () => "recipient-domain",
  };
  // Bodies and queries valid in shape, so the answer is about rights, not the schema.
  const bodies: Record<string, unknown> = {
    "POST /api/v1/domains": { name: "new.test" },
    "PATCH /api/v1/users/:address": { disabled: true },
    "POST /api/v1/users": { address: "new@a.test", password: "a long password 2" },
    "POST /api/v1/aliases": { address: "new@a.test", targets: ["u@a.test"] },
    "PUT /api/v1/relays/:name": { host: "relay.test", port: 587, tls: "starttls" },
    "PUT /api/v1/routes/default": { routes: ["direct"] },
    "PUT /api/v1/routes/:kind/:domain": { routes: ["direct"] },
    "POST /api/v1/users/:address/password": { current: PASSWORD, password: "a long password 4" },
    "PUT /api/v1/suppressions/:domain/:address": { reason: "tenant test" },
    "POST /api/v1/jobs": { kind: "dkim-rotate", domain: "b.test" },
    "POST /api/v1/users/:address/app-passwords": { name: "phone" },
  };
  const queries: Record<string, string> = {
    "GET /api/v1/users/:address/export": "?format=mbox",
    "GET /api/v1/trace": "?q=ub@b.test",
    "GET /api/v1/spam/stats": "?user=ub@b.test",
    "GET /api/v1/users": "?domain=b.test",
    "GET /api/v1/aliases": "?domain=b.test",
    "GET /api/v1/audit": "?domain=b.test",
    "GET /api/v1/suppressions": "?domain=b.test",
  };
  // Routes every user may call on their own (no other tenant's object named).
  const own = new Set([
    "POST /api/v1/session", "GET /api/v1/session", "DELETE /api/v1/session", "GET /api/v1/tokens", "POST /api/v1/tokens",
    "GET /api/v1/account/mobileconfig", "POST /api/v1/account/password", "GET /api/v1/account/export",
    "GET /api/v1/jobs", "GET /api/v1/client-settings",
  ]);
  const seen: string[] = [];
  for (const [p, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
    const route = p.replace(/\{(\w+)\}/g, ":$1");
    for (const m of Object.keys(ops)) {
      const key = `${m.toUpperCase()} ${route}`;
      if (own.has(key)) continue;
      const url = p.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(values[name](p))) + (queries[key] ?? "");
      const snap = snapshot(w.db);
      const supp = JSON.stringify(await w.services.suppression.list());
      const r = await w.req(m.toUpperCase(), url, { token: userToken, body: bodies[key] ?? (["POST", "PUT", "PATCH"].includes(m.toUpperCase()) ? {} : undefined) });
      assert.ok(r.status === 403 || r.status === 404, `${key}: ${r.status} ${r.text}`);
      assert.match(String(r.headers["content-type"]), /^application\/problem\+json/, key);
      assert.equal(snapshot(w.db), snap, `${key} changed something`);
      assert.equal(JSON.stringify(await w.services.suppression.list()), supp, `${key} changed the suppression list`);
      seen.push(key);
    }
  }
  assert.ok(seen.length >= 30, `only ${seen.length} routes checked: ${seen.join(", ")}`);
});
