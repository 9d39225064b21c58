// The whole server (`freehold serve`, the real web starter) serves CardDAV/CalDAV on its https
// listener: .well-known, then PROPFIND on the principal with an app password, over TLS.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import https from "node:https";
import { readFile } from "node:fs/promises";
import path from "node:path";
import net from "node:net";
import { createDataDir, startFreeholdProcess, TEST_PASSWORD } from "../support/freehold.ts";
import type { DataDir, FreeholdProcess } from "../support/freehold.ts";

const HOST = "127.0.22.3";
let data: DataDir;
let fh: FreeholdProcess;
let port: number;
before(async () => {
  const srv = net.createServer();
  port = await new Promise<number>((resolve) => srv.listen(0, HOST, () => resolve((srv.address() as net.AddressInfo).port)));
  await new Promise<void>((r) => srv.close(() => r()));
  data = await createDataDir({ hostname: "mail.a.test", domains: ["a.test"], users: [{ address: "u@a.test" }] });
  const file = path.join(data.dir, "freehold.yaml");
  const YAML = (await import("yaml")).default;
  const doc = YAML.parse(await readFile(file, "utf8"));
  doc.listeners.push({ role: "https", address: HOST, port });
  await (await import("node:fs/promises")).writeFile(file, YAML.stringify(doc), { mode: 0o600 });
  fh = await startFreeholdProcess(data, { timeoutMs: 60_000 });
});
after(async () => {
  await fh?.stop();
  await data?.remove();
});

function req(method: string, p: string, headers: Record<string, string>, body?: string): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise(async (resolve, reject) => {
    const ca = await readFile(path.join(data.dir, "tls", "cert.pem"));
    const r = https.request({ host: HOST, port, method, path: p, headers: { ...headers, ...(body ? { "content-length": String(Buffer.byteLength(body)), "content-type": "application/xml" } : {}) }, ca, servername: "mail.a.test", agent: false }, (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    r.on("error", reject);
    r.end(body);
  });
}

test("https: .well-known/caldav, then the principal, with the account password", async () => {
  const wk = await req("PROPFIND", "/.well-known/caldav", { depth: "0" });
  assert.equal(wk.status, 301);
  assert.equal(wk.headers.location, "/dav/");
  const basic = `Basic ${Buffer.from(`u@a.test:${TEST_PASSWORD}`).toString("base64")}`;
  const r = await req("PROPFIND", "/dav/principals/u@a.test/", { depth: "0", authorization: basic }, `<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><c:calendar-home-set/></d:prop></d:propfind>`);
  assert.equal(r.status, 207, r.text);
  assert.match(r.text, /\/dav\/calendars\/u@a.test\//);
  const no = await req("PROPFIND", "/dav/", { depth: "0", authorization: `Basic ${Buffer.from("u@a.test:wrong").toString("base64")}` });
  assert.equal(no.status, 401);
});
