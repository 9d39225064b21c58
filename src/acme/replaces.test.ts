// RFC 9773 §5 "replaces": the manager's renewal of a certificate it ordered carries the certID
// in the newOrder JWS payload, only when the directory offers renewalInfo; a CA that refuses
// it (alreadyReplaced) gets the order once more without. A loopback HTTP stand-in for the CA
// (127.0.34.1: directory, nonces, account, an order with no authorizations, finalize, the
// certificate) speaks enough RFC 8555 for acme-client's auto().
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { certId, RULE_REASON } from "./ari.ts";
import { AcmeManager, AT_ONCE_REASON } from "./manager.ts";
import { serverStatus } from "../status/status.ts";
import { loadTlsContext } from "../tls/context.ts";
import { ManualClock } from "../clock.ts";
import { silentLogger } from "../log/logger.ts";
import { makeTestCerts } from "../../test/support/test-ca.ts";

const HOST = "127.0.34.1";
const DAY = 86_400_000;

let dir: string;
const certs: Record<string, string> = {};

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "fh-replaces-"));
  Object.assign(certs, await makeTestCerts(dir, "mx.replaces.test", "Replaces Test CA", { old: "0x0a01", new: "0x0a02" }));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("newOrder \"replaces\" (RFC 9773 §5) against a loopback CA stand-in", () => {
  let server: http.Server;
  let base: string;
  /** The decoded JWS payloads of every newOrder request. */
  const orders: Record<string, unknown>[] = [];
  let ari = true;
  let refuse = false;
  let ariStatus = 200;
  let nonce = 0;

  before(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        res.setHeader("replay-nonce", `n${++nonce}`);
        const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
          res.statusCode = status;
          res.setHeader("content-type", status >= 400 ? "application/problem+json" : "application/json");
          for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
          res.end(JSON.stringify(body));
        };
        if (req.url === "/dir") {
          const d: Record<string, unknown> = { newNonce: `${base}/nonce`, newAccount: `${base}/acct`, newOrder: `${base}/order`, meta: {} };
          if (ari) d.renewalInfo = `${base}/ari`;
          return json(200, d);
        }
        if (req.url?.startsWith("/ari/")) {
          if (ariStatus !== 200) return json(ariStatus, { type: "urn:ietf:params:acme:error:serverInternal", detail: "oops" });
          return json(200, { suggestedWindow: { start: "2026-02-01T00:00:00Z", end: "2026-02-03T00:00:00Z" } });
        }
        if (req.url === "/nonce") {
          res.statusCode = req.method === "HEAD" ? 200 : 204;
          return res.end();
        }
        let payload: Record<string, unknown> = {};
        try {
          const jws = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { payload: string };
          if (jws.payload) payload = JSON.parse(Buffer.from(jws.payload, "base64url").toString("utf8")) as Record<string, unknown>;
        } catch {
          return json(400, { type: "urn:ietf:params:acme:error:malformed", detail: "not a JWS" });
        }
        if (req.url === "/acct") return json(201, { status: "valid" }, { location: `${base}/acct/1` });
        const order = { status: "ready", identifiers: [{ type: "dns", value: "mx.replaces.test" }], authorizations: [], finalize: `${base}/finalize` };
        if (req.url === "/order") {
          orders.push(payload);
          // Boulder's answer to a second replacement of the same certificate.
          if (refuse && payload.replaces) return json(409, { type: "urn:ietf:params:acme:error:alreadyReplaced", detail: "certificate already replaced" });
          return json(201, order, { location: `${base}/order/1` });
        }
        if (req.url === "/finalize") return json(200, { ...order, status: "valid", certificate: `${base}/cert` });
        if (req.url === "/cert") {
          res.setHeader("content-type", "application/pem-certificate-chain");
          return res.end(certs.new);
        }
        json(404, { type: "urn:ietf:params:acme:error:malformed", detail: "no such resource" });
      });
    });
    await new Promise<void>((r) => server.listen(0, HOST, r));
    base = `http://${HOST}:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  async function manager(withState: boolean): Promise<{ mgr: AcmeManager; data: string; certFile: string }> {
    const data = await mkdtemp(path.join(os.tmpdir(), "fh-replaces-mgr-"));
    const certFile = path.join(data, "cert.pem");
    await writeFile(certFile, certs.old!);
    await mkdir(path.join(data, "acme"));
    const notBefore = Date.UTC(2026, 0, 1);
    if (withState) await writeFile(path.join(data, "acme", "state.json"), JSON.stringify({ names: ["mx.replaces.test"], notBefore, notAfter: notBefore + 90 * DAY, issuedAt: notBefore }));
    const mgr = new AcmeManager({
      config: { dataDir: data, hostname: "mx.replaces.test", tls: { cert: certFile, key: path.join(data, "key.pem") } as never, acme: { enabled: true, directoryUrl: `${base}/dir`, email: "postmaster@replaces.test", renewWhenLeft: 1 / 3, checkIntervalSeconds: 3600, challenges: ["http-01"] } as never },
      clock: new ManualClock(notBefore + 10 * DAY),
      logger: silentLogger(),
      domains: async () => [],
      reload: async () => true,
      alert: async () => undefined,
      random: () => 0.5,
    });
    return { mgr, data, certFile };
  }

  it("the planned renewal and its reason (ARI window, one-third rule, at once) reach the status of the main certificate", async () => {
    const { mgr, data, certFile } = await manager(true);
    try {
      ari = true;
      ariStatus = 200;
      const status = async (acme: boolean) => (await serverStatus({ main: await loadTlsContext(certFile, path.join(dir, "old.key")), dataDir: data, now: () => Date.UTC(2026, 0, 10), acme })).certificates[0]!;
      assert.equal((await status(true)).renewal, undefined); // no check has run yet
      // The window (Feb 1-3, random 0.5 → Feb 2) is before the rule (day 60 minus jitter, in March).
      const p = await mgr.plan();
      assert.equal(p.at, Date.UTC(2026, 1, 2));
      assert.equal(p.reason, "ari window 2026-02-01T00:00:00.000Z – 2026-02-03T00:00:00.000Z");
      assert.deepEqual((await status(true)).renewal, { at: "2026-02-02T00:00:00.000Z", reason: p.reason });
      assert.equal((await status(false)).renewal, undefined); // acme off: no plan shown
      // A fresh manager whose ARI lookup fails: the rule, and the status says so.
      ariStatus = 500;
      const { mgr: m2, data: d2 } = await manager(true);
      try {
        const p2 = await m2.plan();
        assert.equal(p2.reason, RULE_REASON);
        assert.ok(p2.at > Date.UTC(2026, 1, 20) && p2.at <= Date.UTC(2026, 2, 2), new Date(p2.at).toISOString());
        const s2 = await serverStatus({ main: await loadTlsContext(certFile, path.join(dir, "old.key")), dataDir: d2, now: () => Date.UTC(2026, 0, 10), acme: true });
        assert.deepEqual(s2.certificates[0]!.renewal, { at: new Date(p2.at).toISOString(), reason: RULE_REASON });
      } finally {
        await rm(d2, { recursive: true, force: true });
      }
      // No state.json (not ordered by ACME yet): at once.
      const { mgr: m3, data: d3 } = await manager(false);
      try {
        assert.deepEqual(await m3.plan(), { at: 0, reason: AT_ONCE_REASON });
        assert.equal(JSON.parse(await readFile(path.join(d3, "acme", "plan.json"), "utf8")).reason, AT_ONCE_REASON);
      } finally {
        await rm(d3, { recursive: true, force: true });
      }
    } finally {
      ariStatus = 200;
      await rm(data, { recursive: true, force: true });
    }
  });

  it("a renewal carries replaces = the certID of the certificate in use; the next one that of the new certificate", async () => {
    const { mgr, data, certFile } = await manager(true);
    try {
      ari = true;
      refuse = false;
      orders.length = 0;
      assert.equal(await mgr.renew("test"), true);
      assert.equal(orders.length, 1);
      assert.equal(orders[0]!.replaces, certId(certs.old!));
      assert.deepEqual(orders[0]!.identifiers, [{ type: "dns", value: "mx.replaces.test" }]);
      assert.equal(await readFile(certFile, "utf8"), certs.new);
      assert.equal(await mgr.renew("test"), true);
      assert.equal(orders[1]!.replaces, certId(certs.new!));
      assert.notEqual(certId(certs.new!), certId(certs.old!));
    } finally {
      await rm(data, { recursive: true, force: true });
    }
  });

  it("the CA refusing it (alreadyReplaced) → the same order once more without replaces, which succeeds", async () => {
    const { mgr, data } = await manager(true);
    try {
      ari = true;
      refuse = true;
      orders.length = 0;
      assert.equal(await mgr.renew("test"), true);
      assert.equal(orders.length, 2);
      assert.equal(orders[0]!.replaces, certId(certs.old!));
      assert.equal("replaces" in orders[1]!, false);
      assert.deepEqual(orders[1]!.identifiers, orders[0]!.identifiers);
    } finally {
      refuse = false;
      await rm(data, { recursive: true, force: true });
    }
  });

  it("no replaces when the directory offers no renewalInfo, or the certificate in use is not one we ordered", async () => {
    for (const [withAri, withState] of [[false, true], [true, false]] as const) {
      const { mgr, data } = await manager(withState);
      try {
        ari = withAri;
        orders.length = 0;
        assert.equal(await mgr.renew("test"), true);
        assert.equal(orders.length, 1);
        assert.equal("replaces" in orders[0]!, false, `ari=${withAri} state=${withState}`);
      } finally {
        ari = true;
        await rm(data, { recursive: true, force: true });
      }
    }
  });
});
