// Radicale (Debian) as the reference: the same scripted WebDAV/CardDAV/CalDAV requests
// (compare.ts) go to Radicale and to Freehold; each response is compared status by status and
// property by property. Every difference must be listed in radicale-differences.json with the
// RFC section that allows it, and every listed difference must still occur.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import http from "node:http";
import net from "node:net";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startDav, PASSWORD } from "./harness.ts";
import type { DavServer, Res } from "./harness.ts";
import { STEPS, reduce } from "./compare.ts";
import type { Paths } from "./compare.ts";

const RADICALE_HOST = "127.0.22.2";
let s: DavServer;
let rad: ChildProcess;
let radPort = 0;
let tmp: string;

async function freePortOn(host: string): Promise<number> {
  const srv = net.createServer();
  const port = await new Promise<number>((resolve) => srv.listen(0, host, () => resolve((srv.address() as net.AddressInfo).port)));
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function radReq(method: string, p: string, headers: Record<string, string>, body?: string): Promise<Res> {
  return new Promise((resolve, reject) => {
    const h: Record<string, string> = { ...headers, authorization: `Basic ${Buffer.from(`u@a.test:${PASSWORD}`).toString("base64")}` };
    if (body !== undefined) {
      h["content-length"] = String(Buffer.byteLength(body));
      h["content-type"] ??= "application/xml; charset=utf-8";
    }
    const r = http.request({ host: RADICALE_HOST, port: radPort, method, path: p, headers: h, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") }));
    });
    r.on("error", reject);
    r.end(body);
  });
}

before(async () => {
  s = await startDav();
  tmp = await mkdtemp(path.join(os.tmpdir(), "freehold-radicale-"));
  radPort = await freePortOn(RADICALE_HOST);
  const conf = `[server]\nhosts = ${RADICALE_HOST}:${radPort}\n[auth]\ntype = none\n[rights]\ntype = owner_only\n[storage]\nfilesystem_folder = ${tmp}/collections\n[logging]\nlevel = warning\n`;
  await writeFile(path.join(tmp, "config"), conf);
  rad = spawn("radicale", ["--config", path.join(tmp, "config")], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  rad.stderr!.on("data", (d) => (err += d));
  for (let i = 0; i < 150; i++) {
    try {
      await radReq("OPTIONS", "/", {});
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`radicale did not start: ${err}`);
});
after(async () => {
  rad?.kill("SIGTERM");
  await s?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

interface Difference {
  step: string;
  key: string;
  freehold: string | null;
  radicale: string | null;
  rfc: string;
  why: string;
}

test("the same requests to Radicale and Freehold: every difference is listed with its RFC section", async () => {
  const listed = JSON.parse(await readFile(path.join(import.meta.dirname, "radicale-differences.json"), "utf8")) as Difference[];
  const fh: Paths = { principal: "/dav/principals/u@a.test/", book: "/dav/addressbooks/u@a.test/cmp/", cal: "/dav/calendars/u@a.test/cmpcal/" };
  const rp: Paths = { principal: "/u@a.test/", book: "/u@a.test/cmp/", cal: "/u@a.test/cmpcal/" };
  // Radicale makes the principal collection on a user's first request.
  await radReq("PROPFIND", "/u@a.test/", { depth: "0" });
  const found: Difference[] = [];
  for (const step of STEPS) {
    const body = (p: Paths) => step.body?.replace("BOOK ", p.book);
    const a = reduce(await s.req(step.method, step.path(fh), { user: "u@a.test", headers: step.headers, body: body(fh) }));
    const b = reduce(await radReq(step.method, step.path(rp), step.headers ?? {}, body(rp)));
    for (const key of new Set([...a.keys(), ...b.keys()])) {
      const x = a.get(key) ?? null;
      const y = b.get(key) ?? null;
      if (x !== y) found.push({ step: step.name, key, freehold: x, radicale: y, rfc: "", why: "" });
    }
  }
  const id = (d: Pick<Difference, "step" | "key" | "freehold" | "radicale">) => `${d.step} | ${d.key} | freehold ${d.freehold} | radicale ${d.radicale}`;
  const listedIds = new Set(listed.map(id));
  const foundIds = new Set(found.map(id));
  const unlisted = found.filter((d) => !listedIds.has(id(d)));
  const stale = listed.filter((d) => !foundIds.has(id(d)));
  assert.deepEqual(unlisted.map(id), [], "differences not in radicale-differences.json");
  assert.deepEqual(stale.map(id), [], "listed differences that no longer occur");
  for (const d of listed) assert.match(d.rfc, /^RFC \d+/, `${id(d)}: an RFC section`);
});
