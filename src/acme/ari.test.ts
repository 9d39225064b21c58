// ARI (RFC 9773): certID against openssl's own reading of a certificate made here, the strict
// RenewalInfo parser and the choice in the window with an injected random source, and the
// schedule against a loopback HTTP server (127.0.33.1) standing in for the CA (Debian 12's
// pebble serves no renewalInfo): a time in the window, Retry-After honoured, a 500 falls back.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { X509Certificate } from "node:crypto";
import fc from "fast-check";
import { ARI_POLL_DEFAULT_MS, ARI_POLL_MAX_MS, ARI_POLL_MIN_MS, AriSchedule, certId, certParts, chooseInWindow, parseRenewalInfo, retryAfterMs } from "./ari.ts";
import { AcmeManager } from "./manager.ts";
import { ManualClock } from "../clock.ts";
import { silentLogger } from "../log/logger.ts";
import { makeTestCerts } from "../../test/support/test-ca.ts";

const run = promisify(execFile);
const HOST = "127.0.33.1";
const DAY = 86_400_000;

let dir: string;
/** A CA and two leaves it signed: serial with the high bit set (DER keeps a leading 00) and a short one. */
const certs: Record<string, string> = {};

async function openssl(...args: string[]): Promise<string> {
  return (await run("openssl", args, { cwd: dir })).stdout;
}

/** certID computed from openssl's text output, independently of the DER walk. */
async function opensslCertId(file: string): Promise<string> {
  const out = await openssl("x509", "-in", file, "-noout", "-ext", "authorityKeyIdentifier", "-serial");
  const serialHex = /serial=([0-9A-F]+)/i.exec(out)![1]!;
  const akiHex = /Authority Key Identifier:\s*\n\s*(?:keyid:)?([0-9A-F:]+)/i.exec(out)![1]!.replaceAll(":", "");
  let s = serialHex.length % 2 ? `0${serialHex}` : serialHex;
  if (parseInt(s.slice(0, 2), 16) & 0x80) s = `00${s}`; // DER INTEGER: positive, so a leading 00
  return `${Buffer.from(akiHex, "hex").toString("base64url")}.${Buffer.from(s, "hex").toString("base64url")}`;
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "fh-ari-"));
  Object.assign(certs, await makeTestCerts(dir, "mx.ari.test", "ARI Test CA", { high: "0x87654321abcdef", low: "0x1234" }));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("ARI certID (RFC 9773 §4.1)", () => {
  it("is base64url(AKI keyIdentifier).base64url(serial DER bytes), as openssl reads the certificate", async () => {
    for (const name of ["high", "low"]) assert.equal(certId(certs[name]!), await opensslCertId(path.join(dir, `${name}.pem`)), name);
    // The high-bit serial keeps DER's leading zero: 00 87 65 43 21 ab cd ef.
    assert.equal(certId(certs.high!).split(".")[1], Buffer.from("0087654321abcdef", "hex").toString("base64url"));
    assert.equal(certId(certs.low!).split(".")[1], Buffer.from("1234", "hex").toString("base64url"));
    assert.doesNotMatch(certId(certs.high!), /[=+/]/);
  });

  it("refuses a certificate without an AuthorityKeyIdentifier, and garbage, with an error (no crash)", async () => {
    await openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "n.key", "-out", "noaki.pem", "-subj", "/CN=x", "-days", "1", "-addext", "basicConstraints=CA:FALSE", "-config", "/dev/null");
    const noAki = await readFile(path.join(dir, "noaki.pem"), "utf8");
    const text = await openssl("x509", "-in", "noaki.pem", "-noout", "-text");
    assert.doesNotMatch(text, /Authority Key Identifier/);
    assert.throws(() => certId(noAki), /AuthorityKeyIdentifier/);
    assert.throws(() => certId(Buffer.from([0x30, 0x82, 0xff])));
  });
});

describe("ARI parsers under hostile input", () => {
  it("the DER walk: every truncation and random byte changes of a real certificate throw an Error or give an answer, never hang or crash", () => {
    const der = new X509Certificate(certs.high!).raw;
    const ok = (b: Buffer) => {
      try {
        const p = certParts(b);
        assert.ok(Buffer.isBuffer(p.serial) && Buffer.isBuffer(p.keyIdentifier));
      } catch (err) {
        assert.ok(err instanceof Error, String(err));
      }
    };
    for (let i = 0; i < der.length; i++) ok(der.subarray(0, i));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(der.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (edits) => {
        const b = Buffer.from(der);
        for (const [at, v] of edits) b[at] = v;
        ok(b);
      }),
      { numRuns: 2000, seed: 1307 },
    );
  });

  it("parseRenewalInfo: arbitrary JSON-ish text gives null or a window with end > start", () => {
    const jsonish = fc.oneof(fc.string(), fc.json(), fc.record({ suggestedWindow: fc.record({ start: fc.oneof(fc.string(), fc.date({ noInvalidDate: true }).map((d) => d.toISOString())), end: fc.oneof(fc.string(), fc.date({ noInvalidDate: true }).map((d) => d.toISOString())) }) }).map((o) => JSON.stringify(o)));
    fc.assert(
      fc.property(jsonish, (text) => {
        const w = parseRenewalInfo(text);
        if (w !== null) assert.ok(Number.isFinite(w.start) && w.end > w.start);
      }),
      { numRuns: 2000, seed: 1307 },
    );
  });
});

describe("ARI window (RFC 9773 §4.2, §4.3)", () => {
  const body = (w: unknown, extra: Record<string, unknown> = {}) => JSON.stringify({ suggestedWindow: w, ...extra });

  it("parses suggestedWindow strictly", () => {
    assert.deepEqual(parseRenewalInfo(body({ start: "2026-01-10T00:00:00Z", end: "2026-01-12T00:00:00Z" }, { explanationURL: "https://ca.test/why" })), {
      start: Date.UTC(2026, 0, 10),
      end: Date.UTC(2026, 0, 12),
      explanationURL: "https://ca.test/why",
    });
    assert.equal(parseRenewalInfo(body({ start: "2026-01-10T00:00:00Z", end: "2026-01-12T00:00:00Z" }, { explanationURL: 7 }))?.explanationURL, undefined);
    for (const bad of [
      "not json",
      "[]",
      "{}",
      body({ start: "2026-01-12T00:00:00Z", end: "2026-01-12T00:00:00Z" }), // end = start
      body({ start: "2026-01-12T00:00:00Z", end: "2026-01-10T00:00:00Z" }), // end < start
      body({ start: "2026-01-10", end: "2026-01-12T00:00:00Z" }), // not RFC 3339 date-time
      body({ start: 1, end: 2 }),
      body({ start: "2026-01-10T00:00:00Z" }),
    ])
      assert.equal(parseRenewalInfo(bad), null, bad);
  });

  it("chooses uniformly in the window by the random draw; a window already past means now", () => {
    const w = { start: 1000, end: 2000 };
    assert.equal(chooseInWindow(w, 0, 0), 1000);
    assert.equal(chooseInWindow(w, 0, 0.5), 1500);
    assert.ok(chooseInWindow(w, 0, 1) < 2000);
    assert.equal(chooseInWindow(w, 1500, 0.25), 1250); // in the past: the caller renews at once
    assert.equal(chooseInWindow(w, 5000, 0.9), 5000);
  });

  it("Retry-After: seconds or HTTP-date, clamped to [1 h, 1 day]; absent → the default", () => {
    const now = Date.UTC(2026, 0, 1);
    assert.equal(retryAfterMs("7200", now), 7200_000);
    assert.equal(retryAfterMs("5", now), ARI_POLL_MIN_MS);
    assert.equal(retryAfterMs("999999", now), ARI_POLL_MAX_MS);
    assert.equal(retryAfterMs(new Date(now + 3 * 3600_000).toUTCString(), now), 3 * 3600_000);
    assert.equal(retryAfterMs(undefined, now), ARI_POLL_DEFAULT_MS);
    assert.equal(retryAfterMs("soon", now), ARI_POLL_DEFAULT_MS);
  });
});

describe("ARI against a loopback CA stand-in", () => {
  let server: http.Server;
  let base: string;
  const requests: string[] = [];
  let mode: "ok" | "500" | "none" | "otherhost" = "ok";
  const window = { start: "2026-01-05T00:00:00Z", end: "2026-01-07T00:00:00Z" };

  before(async () => {
    server = http.createServer((req, res) => {
      requests.push(req.url!);
      if (req.url === "/dir") {
        const d: Record<string, string> = { newNonce: `${base}/nonce` };
        if (mode !== "none") d.renewalInfo = mode === "otherhost" ? "http://127.0.33.2:1/ari" : `${base}/ari/`;
        res.setHeader("content-type", "application/json");
        return res.end(JSON.stringify(d));
      }
      if (req.url?.startsWith("/ari/")) {
        if (mode === "500") {
          res.statusCode = 500;
          return res.end("oops");
        }
        res.setHeader("content-type", "application/json");
        res.setHeader("retry-after", "7200");
        return res.end(JSON.stringify({ suggestedWindow: window }));
      }
      res.statusCode = 404;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, HOST, r));
    base = `http://${HOST}:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it("picks the time in the window, keeps it until Retry-After, falls back on a 500 (logged once)", async () => {
    const logs: string[] = [];
    const ari = new AriSchedule({ directoryUrl: `${base}/dir`, random: () => 0.25, logInfo: (_f, m) => logs.push(m) });
    const now = Date.UTC(2026, 0, 1);
    const inWindow = Date.UTC(2026, 0, 5) + 0.25 * 2 * DAY;
    const ruleLate = Date.UTC(2026, 0, 20);
    mode = "ok";
    requests.length = 0;
    assert.equal(await ari.renewAt(ruleLate, certs.high!, now), inWindow);
    assert.deepEqual(requests, ["/dir", `/ari/${certId(certs.high!)}`]);
    // The one-third rule still wins when it is earlier.
    assert.equal(await ari.renewAt(Date.UTC(2026, 0, 2), certs.high!, now + 60_000), Date.UTC(2026, 0, 2));
    // Within Retry-After (2 h): no request.
    assert.equal(await ari.renewAt(ruleLate, certs.high!, now + 3600_000), inWindow);
    assert.equal(requests.length, 2);
    // After it: asked again; the CA now fails → the rule alone, logged once.
    mode = "500";
    assert.equal(await ari.renewAt(ruleLate, certs.high!, now + 2 * 3600_000 + 1), ruleLate);
    assert.equal(await ari.renewAt(ruleLate, certs.high!, now + 3 * 3600_000), ruleLate);
    assert.equal(requests.length, 6);
    assert.equal(logs.filter((m) => /ARI lookup failed/.test(m)).length, 1);
    // Back to working: the window again.
    mode = "ok";
    assert.equal(await ari.renewAt(ruleLate, certs.high!, now + 4 * 3600_000), inWindow);
  });

  it("a directory without renewalInfo, or with it on another host, leaves the one-third rule", async () => {
    const logs: string[] = [];
    const now = Date.UTC(2026, 0, 1);
    mode = "none";
    requests.length = 0;
    const ari = new AriSchedule({ directoryUrl: `${base}/dir`, random: () => 0.5, logInfo: (_f, m) => logs.push(m) });
    assert.equal(await ari.renewAt(123, certs.low!, now), 123);
    assert.equal(await ari.renewAt(123, certs.low!, now + 3600_000), 123); // not asked again within a day
    assert.deepEqual(requests, ["/dir"]);
    assert.equal(logs.length, 1);
    mode = "otherhost";
    const other = new AriSchedule({ directoryUrl: `${base}/dir`, random: () => 0.5, logInfo: (_f, m) => logs.push(m) });
    assert.equal(await other.renewAt(456, certs.low!, now), 456);
    assert.ok(!requests.some((u) => u.startsWith("/ari")));
    assert.match(logs.at(-1)!, /ARI lookup failed/);
  });

  it("AcmeManager.dueAt: min(ARI choice, one-third rule) for the certificate in use; a 500 → the rule", async () => {
    const data = await mkdtemp(path.join(os.tmpdir(), "fh-ari-mgr-"));
    try {
      const certFile = path.join(data, "cert.pem");
      await writeFile(certFile, certs.high!);
      const notBefore = Date.UTC(2026, 0, 1);
      const notAfter = notBefore + 90 * DAY; // the rule: day 60 minus a jitter of at most 9 days
      await mkdir(path.join(data, "acme"));
      await writeFile(path.join(data, "acme", "state.json"), JSON.stringify({ names: ["mx.ari.test"], notBefore, notAfter, issuedAt: notBefore }));
      const clock = new ManualClock(notBefore + DAY);
      const mgr = new AcmeManager({
        config: { dataDir: data, hostname: "mx.ari.test", tls: { cert: certFile, key: path.join(data, "key.pem") } as never, acme: { enabled: true, directoryUrl: `${base}/dir`, renewWhenLeft: 1 / 3, checkIntervalSeconds: 3600, challenges: ["http-01"] } as never },
        clock,
        logger: silentLogger(),
        domains: async () => [],
        reload: async () => true,
        alert: async () => undefined,
        random: () => 0.25,
      });
      mode = "ok";
      assert.equal(await mgr.dueAt(), Date.UTC(2026, 0, 5) + 0.5 * DAY);
      mode = "500";
      clock.advance(ARI_POLL_MAX_MS); // past the Retry-After
      const due = await mgr.dueAt();
      assert.ok(due >= notBefore + 51 * DAY && due <= notBefore + 60 * DAY, new Date(due).toISOString());
    } finally {
      await rm(data, { recursive: true, force: true });
    }
  });
});
