// Browser tests of the admin UI (issue 9 item 3, docs/web.md "Admin UI"): playwright-core drives
// Debian's Chromium (/usr/bin/chromium; never a downloaded browser) against the dev-mode http
// listener on 127.0.20.1 (this suite's loopback block), serving the built dist-ui/. Every page is
// screenshot at 1280×800 and 390×844 into test-output/screenshots/ (git-ignored), checked with
// axe-core (no serious or critical violations) and for console errors (CSP violations included).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { chromium } from "playwright-core";
import type { Browser, BrowserContext, Page } from "playwright-core";
import axe from "axe-core";
import { offlineChecks, PASSWORD, seedQueue, startWeb } from "../harness.ts";
import type { Web } from "../harness.ts";
import { clientSettings } from "../../../src/web/autoconfig/settings.ts";
import { davContext } from "../../../src/dav/service.ts";
import { DavTransfer } from "../../../src/dav/transfer.ts";
import { readFile } from "node:fs/promises";

// The functions given to page.evaluate run in the browser; this file is type-checked without DOM.
declare const document: any;
declare const window: any;

const CHROMIUM = "/usr/bin/chromium";
const ROOT = path.resolve(import.meta.dirname, "../../..");
const SHOTS = path.join(ROOT, "test-output", "screenshots");
const skip = existsSync(CHROMIUM) ? false : "Debian's chromium is not installed (scripts/install-peers.sh)";

let w: Web;
let browser: Browser;
let base: string;
let queued: number[];
let dav: ReturnType<typeof davContext> | undefined;

before(async () => {
  if (skip) return;
  // The UI as npm start and npm test build it.
  execFileSync(path.join(ROOT, "node_modules", ".bin", "vite"), ["build", "--config", "ui/vite.config.ts", "--logLevel", "warn"], { cwd: ROOT, stdio: "inherit" });
  await mkdir(SHOTS, { recursive: true });
  w = await startWeb({
    dev: true,
    host: "127.0.20.1",
    extra: (services) => {
      dav = davContext(services);
      return { ...offlineChecks(services), dav: dav.ctx };
    },
  });
  base = `http://127.0.20.1:${w.port}`;
  queued = seedQueue(w.db, [
    { from: "u@a.test", to: "far@remote.example" },
    { from: "ub@b.test", to: "other@remote.example" },
  ]);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"], timeout: 120_000 });
});
after(async () => {
  await browser?.close();
  await w?.close();
  dav?.db.close();
});

interface Session {
  ctx: BrowserContext;
  page: Page;
  errors: string[];
}

async function open(): Promise<Session> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(30_000);
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("dialog", (d) => void d.accept());
  return { ctx, page, errors };
}

async function login(s: Session, address: string): Promise<void> {
  await s.page.goto(`${base}/#/login`);
  await s.page.getByLabel("Email address").fill(address);
  await s.page.getByLabel("Password").fill(PASSWORD);
  await s.page.getByRole("button", { name: "Log in" }).click();
  await s.page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "My account" }).waitFor();
}

/** Opens a page by its hash, waits for its heading; screenshots at both widths; axe; no errors. */
async function visit(s: Session, name: string, hash: string, heading: string | RegExp): Promise<void> {
  await s.page.goto(`${base}/#/${hash}`);
  await s.page.getByRole("heading", { level: 1, name: heading }).waitFor();
  for (const [w_, h_, tag] of [[1280, 800, "desktop"], [390, 844, "phone"]] as const) {
    await s.page.setViewportSize({ width: w_, height: h_ });
    await s.page.screenshot({ path: path.join(SHOTS, `${name}-${tag}.png`), fullPage: true });
    if (tag === "phone") {
      // Nothing wider than the phone's screen except inside the scrolling table boxes.
      const overflow = await s.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 1, `${name}: the page scrolls sideways at 390 px (${overflow} px)`);
    }
  }
  await s.page.setViewportSize({ width: 1280, height: 800 });
  // axe runs through the DevTools protocol (evaluate), which the page's CSP does not govern.
  await s.page.evaluate(axe.source);
  const result = await s.page.evaluate(async () => {
    const r = await (window.axe as typeof axe).run(document, { resultTypes: ["violations"] });
    return r.violations.map((v: axe.Result) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n: axe.NodeResult) => n.target.join(" ")).slice(0, 3) }));
  });
  const bad = result.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(bad, [], `${name}: axe violations ${JSON.stringify(bad)}`);
  assert.deepEqual(s.errors, [], `${name}: console errors`);
}

test("server admin: log in, every page renders, create a domain, a user and an alias, retry a queued message, run jobs", { skip, timeout: 150_000 }, async () => {
  const s = await open();
  try {
    await s.page.goto(`${base}/#/login`);
    await s.page.getByRole("heading", { level: 1, name: "Log in" }).waitFor();
    await visit(s, "login", "login", "Log in");
    await login(s, "admin@a.test");
    await visit(s, "dashboard", "", "Dashboard");
    assert.match(await s.page.locator("main").innerText(), /Checks and blocklists\s+unknown/);
    // GET /api/v1/status: the data folder's self-signed certificate (825 days) and the disk.
    const cert = await s.page.getByRole("region", { name: "Certificate expiry" }).innerText();
    const left = /(\d+) days left/.exec(cert);
    assert.ok(left && Number(left[1]) > 800, cert);
    assert.match(cert, /mail\.a\.test · until \d{4}-\d\d-\d\d · issuer CN=mail\.a\.test/);
    const disk = await s.page.getByRole("region", { name: "Disk" }).innerText();
    assert.match(disk, /\d+(\.\d)?% free/);
    assert.match(disk, /free of .* · databases /);
    assert.doesNotMatch(cert + disk, /unknown/);
    // With acme.enabled the card adds the ACME manager's planned renewal (<data>/acme/plan.json).
    await mkdir(path.join(w.data.dir, "acme"), { recursive: true });
    await writeFile(path.join(w.data.dir, "acme", "plan.json"), JSON.stringify({ at: "2026-02-02T00:00:00.000Z", reason: "one-third rule" }));
    w.services.config.acme.enabled = true;
    try {
      await s.page.reload();
      await s.page.getByRole("region", { name: "Certificate expiry" }).getByText(/ACME renews/).waitFor();
      assert.match(await s.page.getByRole("region", { name: "Certificate expiry" }).innerText(), /ACME renews 2026-02-02 00:00 UTC \(one-third rule\)/);
    } finally {
      w.services.config.acme.enabled = false;
      await rm(path.join(w.data.dir, "acme"), { recursive: true, force: true });
    }

    // A domain, then its DNS records page with copy buttons.
    await visit(s, "domains", "domains", "Domains");
    await s.page.getByLabel("Domain name").fill("c.test");
    await s.page.getByRole("button", { name: "Add domain" }).click();
    await s.page.getByRole("link", { name: "c.test", exact: true }).waitFor();
    await visit(s, "domain-records", "domains/c.test", "Domain c.test");
    assert.ok((await s.page.getByRole("button", { name: "Copy" }).count()) >= 3, "a copy button per record");
    const dl = s.page.waitForEvent("download");
    await s.page.getByRole("button", { name: "Download zone file" }).click();
    assert.equal((await dl).suggestedFilename(), "c.test.zone");

    await visit(s, "users", "users", "Users");
    await s.page.getByLabel("Address").fill("new@c.test");
    await s.page.getByLabel(/^Password/).fill("another long password");
    await s.page.getByRole("button", { name: "Add user" }).click();
    await s.page.getByRole("cell", { name: "new@c.test" }).waitFor();

    await visit(s, "aliases", "aliases", "Aliases");
    await s.page.getByLabel("Alias address").fill("sales@c.test");
    await s.page.getByLabel(/^Delivers to/).fill("new@c.test");
    await s.page.getByRole("button", { name: "Add alias" }).click();
    await s.page.getByRole("cell", { name: "sales@c.test" }).waitFor();
    assert.ok(w.db.prepare("SELECT 1 FROM aliases WHERE address = 'sales@c.test'").get(), "the alias is stored");

    // Queue: recipients, states and last replies listed; retry makes the recipient due now.
    await visit(s, "queue", "queue", "Queue");
    const main = s.page.locator("main");
    assert.match(await main.innerText(), /far@remote\.example: pending, 0 attempts/);
    assert.match(await main.innerText(), /451 4\.7\.1 try later/);
    const before_ = Date.now();
    await s.page.getByRole("row").filter({ hasText: "far@remote.example" }).getByRole("button", { name: "Retry now" }).click();
    await s.page.getByText(`Message ${queued[0]}: 1 recipient(s) due now.`).waitFor();
    const due = w.db.prepare("SELECT next_attempt_at AS t FROM queue_recipients WHERE queue_id = ?").get(queued[0]) as { t: number };
    assert.ok(due.t <= Date.now() && due.t >= before_ - 1000, "the recipient is due now");

    // A job with visible progress: the flush, watched until done.
    await s.page.getByRole("button", { name: "Retry all now (flush)" }).click();
    await s.page.locator(".job.done").waitFor();
    assert.match(await s.page.locator(".job").innerText(), /queue-flush.*done/s);

    await visit(s, "dkim", "dkim", "DKIM");
    const keysBefore = (w.db.prepare("SELECT count(*) AS n FROM dkim_keys WHERE domain = 'c.test'").get() as { n: number }).n;
    await s.page.getByRole("button", { name: "Rotate keys of c.test" }).click();
    await s.page.getByRole("region", { name: "DKIM keys of c.test" }).locator(".job.done").waitFor();
    const keysAfter = (w.db.prepare("SELECT count(*) AS n FROM dkim_keys WHERE domain = 'c.test'").get() as { n: number }).n;
    assert.ok(keysAfter > keysBefore, `rotation made new keys (${keysBefore} → ${keysAfter})`);

    // Checks: run as a job, progress shown, then the results.
    await visit(s, "checks", "checks", "Checks");
    await s.page.getByRole("button", { name: "Run checks now" }).click();
    await s.page.locator(".job progress").waitFor();
    await s.page.locator(".job.done").waitFor();
    await s.page.getByRole("cell", { name: /^disk/ }).first().waitFor();
    await visit(s, "dashboard-checks", "", "Dashboard");
    await s.page.goto(`${base}/#/checks`);
    await s.page.getByRole("heading", { level: 2, name: "Latest run" }).waitFor();
    await visit(s, "relays", "relays", "Relays");
    // Trace: the form asks GET /api/v1/trace and shows the timeline or says nothing was found.
    await visit(s, "trace", "trace", "Trace a message");
    await s.page.getByLabel("Message-ID, queue id or address").fill("nobody@c.test");
    await s.page.getByRole("button", { name: "Trace" }).click();
    await s.page.getByText(/Nothing about nobody@c\.test in the log since \d{4}-|Trace of nobody@c\.test/).waitFor();
    await visit(s, "trace-result", "trace", "Trace a message");
    await visit(s, "audit", "audit", "Audit log");
    assert.match(await main.innerText(), /alias\.add|dkim\.rotate/);
    await visit(s, "account-admin", "account", "My account");
    await visit(s, "dashboard-after", "", "Dashboard");
    assert.match(await main.innerText(), /dkim-rotate/);
    assert.match(await main.innerText(), /Checks and blocklists\s+\d+ fail, \d+ warn/);
  } finally {
    await s.ctx.close();
  }
});

test("a domain admin sees only their domain", { skip, timeout: 90_000 }, async () => {
  const s = await open();
  try {
    await login(s, "da@a.test");
    await visit(s, "domains-domain-admin", "domains", "Domains");
    const text = await s.page.locator("main").innerText();
    assert.match(text, /a\.test/);
    assert.doesNotMatch(text, /b\.test|c\.test/);
    await visit(s, "users-domain-admin", "users", "Users");
    assert.doesNotMatch(await s.page.locator("main").innerText(), /@b\.test/);
    await visit(s, "queue-domain-admin", "queue", "Queue");
    assert.doesNotMatch(await s.page.locator("main").innerText(), /ub@b\.test/);
    // No relays link for a domain admin; another domain's records are "not found".
    assert.equal(await s.page.getByRole("link", { name: "Relays" }).count(), 0);
    await s.page.goto(`${base}/#/domains/b.test`);
    await s.page.getByRole("heading", { level: 1, name: "Domains" }).waitFor();
    await s.page.screenshot({ path: path.join(SHOTS, "domain-other-tenant-desktop.png") });
    assert.match(await s.page.locator("main").innerText(), /Could not load this page: .*\(HTTP 404\)/);
  } finally {
    await s.ctx.close();
  }
});

test("a user sees only self-service", { skip, timeout: 90_000 }, async () => {
  const s = await open();
  try {
    await login(s, "u@a.test");
    await visit(s, "account", "account", "My account");
    const links = await s.page.getByRole("navigation", { name: "Main" }).getByRole("link").allInnerTexts();
    assert.deepEqual(links, ["My account"]);
    // The client settings are the server's own (config hostname and listeners, as autoconfig).
    const cs = clientSettings(w.deps.config);
    const text = await s.page.locator("main").innerText();
    for (const e of [...cs.imap, ...cs.smtp]) assert.match(text, new RegExp(`${e.host.replace(/\./g, "\\.")}\\s+Port\\s+${e.port}|${e.host.replace(/\./g, "\\.")}\\t${e.port}`), `${e.host}:${e.port} shown`);
    assert.ok(cs.imap.length > 0 || /no TLS listener/.test(text));
    // Downloads beside the mail export: the address book and the calendar, as the files they are.
    const transfer = new DavTransfer(dav!.ctx.store);
    await transfer.importObjects("u@a.test", "addressbook", ["BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ui-test-1\r\nFN:Ada Lovelace\r\nEMAIL:ada@remote.example\r\nEND:VCARD\r\n"]);
    await transfer.importObjects("u@a.test", "calendar", ["BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:ui-test-ev\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260102T100000Z\r\nSUMMARY:Standup\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"]);
    for (const [name, file, begin, has] of [
      ["Download address book (.vcf)", "contacts.vcf", "BEGIN:VCARD", "FN:Ada Lovelace"],
      ["Download calendar (.ics)", "calendar.ics", "BEGIN:VCALENDAR", "SUMMARY:Standup"],
    ] as const) {
      const got = s.page.waitForEvent("download");
      await s.page.getByRole("link", { name }).click();
      const d = await got;
      assert.equal(d.suggestedFilename(), file);
      const text = await readFile((await d.path())!, "utf8");
      assert.ok(text.startsWith(begin), `${file} starts with ${begin}: ${text.slice(0, 40)}`);
      assert.ok(text.includes(has), `${file} holds the imported object`);
    }
    assert.equal(await s.page.getByRole("link", { name: "Download my mail (.zip)" }).count(), 1);
    // An app password: shown once, then only its name; revoked from the same page.
    await s.page.getByLabel(/^Name/).fill("phone");
    await s.page.getByRole("button", { name: "Create app password" }).click();
    const secret = await s.page.locator("code.secret").innerText();
    assert.match(secret, /^[a-z0-9]{4}(-[a-z0-9]{4}){4}$/i);
    await visit(s, "account-app-password-shown", "account", "My account");
    await s.page.reload();
    await s.page.getByRole("heading", { level: 1, name: "My account" }).waitFor();
    await s.page.getByRole("cell", { name: "phone", exact: true }).waitFor();
    assert.equal(await s.page.locator("code.secret").count(), 0, "the secret is not shown again");
    await s.page.getByRole("cell", { name: "phone", exact: true }).waitFor();
    await s.page.getByRole("button", { name: "Revoke phone" }).click();
    await s.page.getByText("No app passwords.").waitFor();
    assert.equal((w.db.prepare("SELECT count(*) AS n FROM app_passwords").get() as { n: number }).n, 0);
    // An admin page by its address shows the account page instead.
    await s.page.goto(`${base}/#/users`);
    await s.page.getByRole("heading", { level: 1, name: "My account" }).waitFor();
    assert.deepEqual(s.errors, []);
  } finally {
    await s.ctx.close();
  }
});

test("keyboard only: log in and reach a page through the navigation", { skip, timeout: 90_000 }, async () => {
  const s = await open();
  try {
    await s.page.goto(`${base}/#/login`);
    await s.page.getByRole("heading", { level: 1, name: "Log in" }).waitFor();
    const k = s.page.keyboard;
    const focused = () => s.page.evaluate(() => document.activeElement?.getAttribute("name") ?? document.activeElement?.textContent ?? "");
    // A page puts the focus on its content (main); Tab goes on to the form's fields in order.
    await k.press("Tab");
    assert.equal(await focused(), "address");
    await k.type("admin@a.test");
    await k.press("Tab");
    assert.equal(await focused(), "password");
    await k.type(PASSWORD);
    await k.press("Enter");
    await s.page.getByRole("heading", { level: 1, name: "Dashboard" }).waitFor();
    // Tab through the navigation to "Users" and follow it with Enter.
    let reached = false;
    for (let i = 0; i < 12 && !reached; i++) {
      await k.press("Tab");
      reached = (await focused()) === "Users";
    }
    assert.ok(reached, "the Users link is reachable with Tab");
    await k.press("Enter");
    await s.page.getByRole("heading", { level: 1, name: "Users" }).waitFor();
    assert.deepEqual(s.errors, []);
  } finally {
    await s.ctx.close();
  }
});
