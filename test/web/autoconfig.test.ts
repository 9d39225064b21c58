// Client autoconfiguration over real HTTP: the plugin on its own Fastify instance on loopback,
// fetched by Python's http.client and parsed with xml.etree (Thunderbird's config-v1.1.xml at
// both URLs it tries, Outlook's POX autodiscover) and plistlib (the Apple profile); the MTA-STS
// policy parsed by mailauth's parser, its id equal to the TXT record health/records computes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import http from "node:http";
import path from "node:path";
import { promisify } from "node:util";
import Fastify from "fastify";
import { parsePolicy } from "mailauth/lib/mta-sts.js";
import { configFromObject } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";
import { SYSTEM } from "../../src/accounts/authz.ts";
import { accountsFixture } from "../../src/accounts/testing.ts";
import { domainRecords } from "../../src/health/service.ts";
import { mtaStsId } from "../../src/health/records.ts";
import { autoconfigPlugin } from "../../src/web/autoconfig/plugin.ts";

const run = promisify(execFile);
const ADDR = "127.0.27.2";
const SCRIPT = path.join(import.meta.dirname, "clients", "autoconfig_client.py");

function testConfig(extra: Record<string, unknown> = {}): Config {
  return configFromObject(
    {
      hostname: "mail.example.test",
      listeners: [
        { role: "mx", address: "0.0.0.0", port: 25 },
        { role: "imap", address: "0.0.0.0", port: 143 },
        { role: "imaps", address: "0.0.0.0", port: 993 },
        { role: "submission", address: "0.0.0.0", port: 587 },
        { role: "submissions", address: "0.0.0.0", port: 465 },
        { role: "http", address: "0.0.0.0", port: 80 },
      ],
      ...extra,
    },
    { file: "/nonexistent/freehold.yaml", dataDir: "/nonexistent" },
  );
}

function get(port: number, p: string, host: string, opts: { method?: string; body?: string; type?: string } = {}): Promise<{ status: number; type: string; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: ADDR, port, path: p, method: opts.method ?? "GET", headers: { host, ...(opts.type ? { "content-type": opts.type } : {}) } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, type: String(res.headers["content-type"] ?? ""), body, headers: res.headers }));
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

async function withServer(config: () => Config, fn: (port: number) => Promise<void>): Promise<void> {
  const f = await accountsFixture();
  const app = Fastify();
  try {
    await f.accounts.addDomain(SYSTEM, "example.test");
    await f.accounts.addDomain(SYSTEM, "off.test");
    await f.store.accounts.setDomainDisabled((await f.store.accounts.getDomain("off.test"))!.id, true);
    await f.accounts.addUser(SYSTEM, { address: "ann@example.test", password: "a long password", displayName: "Ann Example" });
    await f.accounts.addUser(SYSTEM, { address: "bob@example.test", password: "a long password" });
    await app.register(autoconfigPlugin, {
      config,
      accounts: f.accounts,
      // Stands in for the web session (h-web's): a header naming the user.
      authenticatedUser: async (req) => {
        const who = req.headers["x-test-user"];
        return typeof who === "string" && who !== "" ? f.store.accounts.getUserByAddress(who) : null;
      },
    });
    await app.listen({ host: ADDR, port: 0 });
    const port = (app.server.address() as { port: number }).port;
    await fn(port);
  } finally {
    await app.close();
    await f.close();
  }
}

test("Thunderbird autoconfig at both URLs, Outlook POX autodiscover and the Apple profile, as clients parse them", async () => {
  const config = testConfig();
  await withServer(() => config, async (port) => {
    const r = await run("/usr/bin/python3", [SCRIPT, ADDR, String(port), "example.test", "ann@example.test"], { timeout: 60_000 });
    const res = JSON.parse(r.stdout) as Record<string, Record<string, unknown>>;
    const imap = [
      { type: "imap", hostname: "mail.example.test", port: 993, socketType: "SSL", username: "%EMAILADDRESS%", authentication: "password-cleartext" },
      { type: "imap", hostname: "mail.example.test", port: 143, socketType: "STARTTLS", username: "%EMAILADDRESS%", authentication: "password-cleartext" },
    ];
    const smtp = [
      { type: "smtp", hostname: "mail.example.test", port: 465, socketType: "SSL", username: "%EMAILADDRESS%", authentication: "password-cleartext" },
      { type: "smtp", hostname: "mail.example.test", port: 587, socketType: "STARTTLS", username: "%EMAILADDRESS%", authentication: "password-cleartext" },
    ];
    for (const key of ["tb_autoconfig", "tb_wellknown"]) {
      const tb = res[key];
      assert.equal(tb.status, 200, key);
      assert.match(String(tb.type), /^application\/xml/);
      assert.equal(tb.root, "clientConfig");
      assert.equal(tb.version, "1.1");
      assert.equal(tb.providers, 1);
      assert.equal(tb.id, "example.test");
      assert.deepEqual(tb.domains, ["example.test"]);
      assert.deepEqual(tb.incoming, imap, `${key}: implicit TLS first (RFC 8314)`);
      assert.deepEqual(tb.outgoing, smtp);
    }

    const ad = res.autodiscover;
    assert.equal(ad.status, 200);
    assert.equal(ad.root, "{http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006}Autodiscover");
    assert.equal(ad.accountType, "email");
    assert.equal(ad.action, "settings");
    assert.deepEqual(ad.protocols, [
      { Type: "IMAP", Server: "mail.example.test", Port: "993", LoginName: "ann@example.test", SSL: "on", Encryption: "SSL", AuthRequired: "on", SPA: "off" },
      { Type: "SMTP", Server: "mail.example.test", Port: "465", LoginName: "ann@example.test", SSL: "on", Encryption: "SSL", AuthRequired: "on", SPA: "off" },
    ]);

    const mc = res.mobileconfig as { status: number; type: string; plist: Record<string, unknown> };
    assert.equal(mc.status, 200);
    assert.equal(mc.type, "application/x-apple-aspen-config");
    const top = mc.plist;
    assert.equal(top.PayloadType, "Configuration");
    assert.equal(top.PayloadVersion, 1);
    const content = top.PayloadContent as Array<Record<string, unknown>>;
    // The mail account, then CardDAV and CalDAV (issue 11 §4).
    assert.deepEqual(content.map((c) => c.PayloadType), ["com.apple.mail.managed", "com.apple.carddav.account", "com.apple.caldav.account"]);
    assert.equal(content[1].CardDAVPrincipalURL, "/dav/principals/ann@example.test/");
    assert.equal(content[1].CardDAVUseSSL, true);
    assert.equal(content[2].CalDAVUsername, "ann@example.test");
    const mail = content[0];
    assert.equal(mail.PayloadType, "com.apple.mail.managed");
    assert.equal(mail.EmailAccountType, "EmailTypeIMAP");
    assert.equal(mail.EmailAddress, "ann@example.test");
    assert.equal(mail.EmailAccountName, "Ann Example");
    assert.equal(mail.IncomingMailServerHostName, "mail.example.test");
    assert.equal(mail.IncomingMailServerPortNumber, 993);
    assert.equal(mail.IncomingMailServerUseSSL, true);
    assert.equal(mail.IncomingMailServerUsername, "ann@example.test");
    assert.equal(mail.OutgoingMailServerPortNumber, 465);
    assert.equal(mail.OutgoingMailServerUseSSL, true);
    const allKeys = JSON.stringify(top);
    assert.doesNotMatch(allKeys, /Password"\s*:\s*"/, "no password value anywhere");
    assert.ok(!("IncomingPassword" in mail) && !("OutgoingPassword" in mail));
    const uuid = /^[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/;
    assert.match(String(top.PayloadUUID), uuid);
    assert.match(String(mail.PayloadUUID), uuid);
    assert.notEqual(top.PayloadUUID, mail.PayloadUUID, "each payload its own UUID");
    const again = (res.mobileconfig_again as { plist: Record<string, unknown> }).plist;
    assert.equal(again.PayloadUUID, top.PayloadUUID, "stable per user");
    assert.equal((again.PayloadContent as Array<Record<string, unknown>>)[0].PayloadUUID, mail.PayloadUUID);
    const other = (res.mobileconfig_other as { plist: Record<string, unknown> }).plist;
    assert.notEqual(other.PayloadUUID, top.PayloadUUID, "another user, other UUIDs");
    assert.notEqual((other.PayloadContent as Array<Record<string, unknown>>)[0].PayloadUUID, mail.PayloadUUID);
    assert.equal(res.mobileconfig_anonymous.status, 401);
  });
});

test("unknown and disabled domains get 404; bad addresses 400; nothing from the request reaches the XML unescaped", async () => {
  const config = testConfig();
  await withServer(() => config, async (port) => {
    const tb = "/mail/config-v1.1.xml";
    assert.equal((await get(port, tb, "autoconfig.example.test")).status, 200, "emailaddress is optional");
    assert.equal((await get(port, tb, "autoconfig.example.test:8080")).status, 200, "a port in Host is fine");
    assert.equal((await get(port, tb, "autoconfig.other.test")).status, 404);
    assert.equal((await get(port, tb, "autoconfig.off.test")).status, 404, "disabled domain");
    assert.equal((await get(port, tb, "example.test")).status, 404, "this path is on the autoconfig host");
    assert.equal((await get(port, `${tb}?emailaddress=ann@other.test`, "autoconfig.example.test")).status, 404);
    for (const bad of ["<x>@example.test", "ann@example.test%22%3E%3Cx%3E", "a%00b@example.test", "%3C%2FclientConfig%3E"]) {
      const r = await get(port, `${tb}?emailaddress=${bad}`, "autoconfig.example.test");
      assert.equal(r.status, 400, bad);
      assert.doesNotMatch(r.body, /<x>|clientConfig/);
    }
    assert.equal((await get(port, "/.well-known/autoconfig/mail/config-v1.1.xml", "nowhere.test")).status, 404);

    const pox = (email: string, schema = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a") =>
      `<?xml version="1.0"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>${email}</EMailAddress><AcceptableResponseSchema>${schema}</AcceptableResponseSchema></Request></Autodiscover>`;
    const post = (host: string, body: string) => get(port, "/Autodiscover/Autodiscover.xml", host, { method: "POST", body, type: "text/xml; charset=utf-8" });
    assert.equal((await post("autodiscover.example.test", pox("ann@example.test"))).status, 200, "Outlook's capitalised path");
    assert.equal((await post("autodiscover.other.test", pox("ann@other.test"))).status, 404);
    assert.equal((await post("autodiscover.example.test", pox("ann@other.test"))).status, 404, "the address must be in the host's domain");
    const injected = await post("autodiscover.example.test", pox("ann&lt;/LoginName&gt;&lt;x&gt;@example.test"));
    assert.equal(injected.status, 400);
    assert.doesNotMatch(injected.body, /<x>/);
    const amp = await post("autodiscover.example.test", pox("o&amp;neil@example.test"));
    assert.equal(amp.status, 200);
    assert.match(amp.body, /<LoginName>o&amp;neil@example\.test<\/LoginName>/, "escaped on the way out");
    const dtd = await post("autodiscover.example.test", `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>${pox("&e;@example.test")}`);
    assert.equal(dtd.status, 400, "no DTDs or entities");
    const schema = await post("autodiscover.example.test", pox("ann@example.test", "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"));
    assert.match(schema.body, /<ErrorCode>601<\/ErrorCode>/);
    assert.equal((await post("autodiscover.example.test", "x".repeat(20_000))).status, 413, "bounded body");

    const json = await get(port, "/autodiscover/autodiscover.json?Email=ann@example.test&Protocol=AutodiscoverV1", "autodiscover.example.test");
    assert.equal(json.status, 200);
    assert.deepEqual(JSON.parse(json.body), { Protocol: "AutodiscoverV1", Url: "https://autodiscover.example.test/autodiscover/autodiscover.xml" });
    const v1 = await get(port, "/autodiscover/autodiscover.json/v1.0/ann@example.test?Protocol=AutodiscoverV1", "autodiscover.example.test");
    assert.deepEqual(JSON.parse(v1.body), JSON.parse(json.body));
    const ews = await get(port, "/autodiscover/autodiscover.json?Email=ann@example.test&Protocol=EWS", "autodiscover.example.test");
    assert.equal(ews.status, 400);
    assert.equal(JSON.parse(ews.body).ErrorCode, "InvalidProtocol");
    assert.equal((await get(port, "/autodiscover/autodiscover.json?Email=ann@other.test&Protocol=AutodiscoverV1", "autodiscover.other.test")).status, 404);
    assert.equal((await get(port, "/autodiscover/autodiscover.json?Email=nonsense&Protocol=AutodiscoverV1", "autodiscover.example.test")).status, 400);

    assert.equal((await get(port, "/.well-known/mta-sts.txt", "mta-sts.other.test")).status, 404);
    assert.equal((await get(port, "/.well-known/mta-sts.txt", "example.test")).status, 404, "only on the mta-sts host");
  });
});

test("MTA-STS: the served policy parses with mailauth, follows the config, and its id is the TXT record's", async () => {
  const dkim = { list: () => [] };
  for (const extra of [{}, { mtaSts: { mode: "testing", maxAgeSeconds: 86400, mx: ["backup.example.test", "*.mx.example.test"] } }]) {
    const config = testConfig(extra);
    await withServer(() => config, async (port) => {
      const r = await get(port, "/.well-known/mta-sts.txt", "mta-sts.example.test");
      assert.equal(r.status, 200);
      assert.match(r.type, /^text\/plain/);
      const policy = parsePolicy(r.body, { strict: true });
      assert.equal(policy.mode, config.mtaSts.mode);
      assert.equal(policy.maxAge, config.mtaSts.maxAgeSeconds);
      assert.deepEqual(policy.mx, ["mail.example.test", ...config.mtaSts.mx]);
      const txt = domainRecords(config, dkim, "example.test", { ips: ["192.0.2.1"] }).find((x) => x.name === "_mta-sts.example.test.")!;
      assert.equal(txt.value, `v=STSv1; id=${mtaStsId(r.body)}`);
    });
  }
});

test("the documents follow the live listener config", async () => {
  let config = testConfig();
  await withServer(() => config, async (port) => {
    config = testConfig({ listeners: [{ role: "mx", address: "0.0.0.0", port: 25 }, { role: "imap", address: "0.0.0.0", port: 2143 }, { role: "submission", address: "0.0.0.0", port: 2587 }] });
    const r = await get(port, "/mail/config-v1.1.xml", "autoconfig.example.test");
    assert.match(r.body, /<port>2143<\/port>\s*<socketType>STARTTLS<\/socketType>/);
    assert.match(r.body, /<port>2587<\/port>\s*<socketType>STARTTLS<\/socketType>/);
    assert.doesNotMatch(r.body, /993|465/);
  });
});
