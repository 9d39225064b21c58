import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { ConfigError, configFromObject, formatKeyPath, parseConfigText } from "./load.ts";
import { configExample } from "./example.ts";

const opts = { file: "freehold.yaml", dataDir: "/srv/freehold" };

function problems(text: string): string[] {
  try {
    parseConfigText(text, opts);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail("expected a ConfigError");
}

test("a minimal file gets every default, paths resolved in the data folder", () => {
  const c = parseConfigText("hostname: mail.example.com\n", opts);
  assert.equal(c.hostname, "mail.example.com");
  assert.equal(c.authservId, "mail.example.com");
  assert.equal(c.dataDir, "/srv/freehold");
  assert.equal(c.tls.cert, "/srv/freehold/tls/cert.pem");
  assert.equal(c.tls.key, "/srv/freehold/tls/key.pem");
  assert.equal(c.smtp.maxMessageBytes, 50 * 1024 * 1024);
  assert.equal(c.smtp.maxRecipients, 1000);
  assert.equal(c.smtp.recipientOvershoot, 1000);
  assert.equal(c.smtp.maxLineOctets, 128 * 1024);
  assert.equal(c.smtp.bareLineEndings, "normalize");
  assert.equal(c.smtp.strictEnvelopes, false);
  assert.equal(c.smtp.maxErrors, 20);
  assert.equal(c.smtp.commandTimeoutMs, 300_000);
  assert.equal(c.smtp.pregreet.enabled, true);
  assert.equal(c.smtp.pregreet.exemptLoopback, true);
  assert.deepEqual(c.dns.servers, []);
  assert.equal(c.queue.holdOutbound, false);
  assert.equal(c.dev, false);
  assert.equal(c.log.level, "info");
  assert.deepEqual(
    c.listeners.map((l) => `${l.role}:${l.port}:${l.tls}`),
    ["mx:25:starttls", "submission:587:starttls", "submissions:465:implicit", "imap:143:starttls", "imaps:993:implicit", "http:80:none", "https:443:implicit"],
  );
});

test("dev mode holds outbound mail unless told otherwise; explicit values win", () => {
  assert.equal(parseConfigText("hostname: h.test\ndev: true\n", opts).queue.holdOutbound, true);
  assert.equal(parseConfigText("hostname: h.test\ndev: true\nqueue: {holdOutbound: false}\n", opts).queue.holdOutbound, false);
  const c = parseConfigText("hostname: h.test\nauthservId: auth.h.test\ndataDir: ../elsewhere\ntls: {cert: /etc/c.pem}\n", opts);
  assert.equal(c.authservId, "auth.h.test");
  assert.equal(c.dataDir, "/srv/elsewhere");
  assert.equal(c.tls.cert, "/etc/c.pem");
  assert.equal(c.tls.key, "/srv/elsewhere/tls/key.pem");
});

test("errors name the file, the key path and what is wrong", () => {
  const text = [
    "hostname: mail.example.com",
    "listeners:",
    "  - {role: mx, port: 25}",
    "  - {role: imap, port: 143}",
    "  - {role: submission, port: 70000}",
  ].join("\n");
  assert.deepEqual(problems(text), ["freehold.yaml: listeners[2].port: expected a number from 1 to 65535"]);
});

test("every problem is reported at once", () => {
  const text = [
    "hostnmae: mail.example.com",
    "listeners:",
    "  - {role: pop3, port: 110}",
    "  - {role: mx, port: \"25\", tls: maybe}",
    "smtp:",
    "  maxRecipients: 10",
    "  pregreet: {enabled: yes please}",
    "log: {level: loud}",
  ].join("\n");
  const p = problems(text);
  const expect = [
    "freehold.yaml: hostname: missing (required)",
    "freehold.yaml: hostnmae: unknown key",
    "freehold.yaml: listeners[0].role: expected one of mx, submission, submissions, imap, imaps, http, https",
    "freehold.yaml: listeners[1].port: expected a number from 1 to 65535",
    "freehold.yaml: listeners[1].tls: expected one of implicit, starttls, none",
    "freehold.yaml: smtp.maxRecipients: expected a number from 100 to 100000",
    "freehold.yaml: smtp.pregreet.enabled: expected true or false",
    "freehold.yaml: log.level: expected one of fatal, error, warn, info, debug, trace, silent",
  ];
  assert.deepEqual([...p].sort(), [...expect].sort());
});

test("cross-key rules: duplicate sockets, implicit-only roles", () => {
  const p = problems(
    ["hostname: h.test", "listeners:", "  - {role: mx, port: 25}", "  - {role: imaps, port: 25, tls: starttls}"].join("\n"),
  );
  assert.deepEqual(p.sort(), [
    "freehold.yaml: listeners[1].tls: role imaps needs tls: implicit",
    "freehold.yaml: listeners[1]: 0.0.0.0:25 is already used by listeners[0]",
  ].sort());
});

test("bad host names, wrong types and YAML syntax are explained", () => {
  assert.deepEqual(problems("hostname: -bad-.example\n"), [
    "freehold.yaml: hostname: expected a host name such as mail.example.com (letters, digits, hyphens, dots)",
  ]);
  assert.deepEqual(problems("hostname: h.test\nsmtp: 5\n"), ["freehold.yaml: smtp: expected object, got 5"]);
  assert.deepEqual(problems("hostname: h.test\nlisteners: []\n"), ["freehold.yaml: listeners: expected at least one listener"]);
  const syntax = problems("hostname: h.test\nsmtp: {maxErrors: 3\n");
  assert.equal(syntax.length >= 1, true);
  assert.match(syntax[0], /^freehold\.yaml:\d+:\d+: /);
  assert.match(problems("hostname: a.test\nhostname: b.test\n")[0], /^freehold\.yaml:2:1: .*[Uu]nique/);
});

test("an empty file asks for the host name", () => {
  assert.deepEqual(problems(""), ["freehold.yaml: hostname: missing (required)"]);
});

test("formatKeyPath", () => {
  assert.equal(formatKeyPath(["listeners", 2, "port"]), "listeners[2].port");
  assert.equal(formatKeyPath(["smtp", "pregreet", "waitMs"]), "smtp.pregreet.waitMs");
  assert.equal(formatKeyPath([]), "");
});

test("the example is valid and parses to exactly the defaults", () => {
  const fromExample = parseConfigText(configExample(), opts);
  const defaults = configFromObject({ hostname: "mail.example.com" }, opts);
  assert.deepEqual(fromExample, defaults);
});

test("docs/config.example.yaml matches `freehold config example` (regenerate on drift)", async () => {
  const file = path.join(import.meta.dirname, "../../docs/config.example.yaml");
  const committed = await readFile(file, "utf8");
  assert.equal(committed, configExample(), "run: node src/cli/main.ts config example > docs/config.example.yaml");
});

test("every key in the example carries a description", () => {
  const lines = configExample().split("\n");
  lines.forEach((line, i) => {
    if (/^\s*[A-Za-z]+:/.test(line) && !/^\s*- /.test(line)) {
      const prev = lines[i - 1] ?? "";
      const inList = /^\s+(role|address|port|tls):/.test(line) && /^\s+(- |role|address|port)/.test(prev);
      assert.ok(prev.trimStart().startsWith("#") || inList, `no comment above: ${line}`);
    }
  });
});

test("login cache and IMAP connection limits: defaults, bounds, 0 turns the cache off", () => {
  const c = parseConfigText("hostname: mail.example.com\n", opts);
  assert.equal(c.login.cacheSeconds, 600);
  assert.equal(c.imap.maxConnectionsPerUser, 50);
  assert.equal(c.imap.maxConnectionsPerIp, 100);
  assert.equal(c.imap.allowPlaintextOnLoopback, true);
  assert.equal(parseConfigText("hostname: mail.example.com\nimap: {allowPlaintextOnLoopback: false}\n", opts).imap.allowPlaintextOnLoopback, false);
  assert.ok(problems("hostname: mail.example.com\nimap: {allowPlaintextOnLoopback: 1}\n").some((p) => p.includes("imap.allowPlaintextOnLoopback")));
  const off = parseConfigText("hostname: mail.example.com\nlogin: {cacheSeconds: 0}\nimap: {maxConnectionsPerUser: 1200}\n", opts);
  assert.equal(off.login.cacheSeconds, 0);
  assert.equal(off.imap.maxConnectionsPerUser, 1200);
  assert.ok(problems("hostname: mail.example.com\nlogin: {cacheSeconds: 601}\n").some((p) => p.includes("login.cacheSeconds")));
  assert.ok(problems("hostname: mail.example.com\nimap: {maxConnectionsPerIp: 0}\n").some((p) => p.includes("imap.maxConnectionsPerIp")));
});

test("a listener sets its own recipient limit; only SMTP roles have one (issue 18)", () => {
  const c = parseConfigText(["hostname: h.test", "listeners:", "  - {role: mx, port: 25, maxRecipients: 5000}", "  - {role: submission, port: 587}"].join("\n"), opts);
  assert.equal(c.listeners[0].maxRecipients, 5000);
  assert.equal(c.listeners[1].maxRecipients, undefined);
  assert.deepEqual(problems(["hostname: h.test", "listeners:", "  - {role: imap, port: 143, maxRecipients: 500}"].join("\n")), [
    "freehold.yaml: listeners[0].maxRecipients: role imap has no recipients (SMTP roles only)",
  ]);
  assert.deepEqual(problems(["hostname: h.test", "smtp: {bareLineEndings: accept}"].join("\n")), ["freehold.yaml: smtp.bareLineEndings: expected normalize or reject"]);
});

test("regression (config fuzzer): an alias without its anchor is a ConfigError, not a ReferenceError", () => {
  assert.throws(() => parseConfigText("<<: *a", { file: "f.yaml", dataDir: "/d" }), ConfigError);
});
