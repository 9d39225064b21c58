// Starts Debian's knotd as an authoritative DNS server on 127.0.0.1 for integration tests:
// an ephemeral port, a temp rundir/storage, zone files rendered from a JS description
// (dns-zone.ts). Resolves once the server answers; stop() kills it and removes the folder.
// knotd runs as the current user (root here and on CI).
import { spawn, execFileSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import dgram from "node:dgram";
import net from "node:net";
import dnsPacket from "dns-packet";
import { renderZone } from "./dns-zone.ts";
import type { ZoneDescription } from "./dns-zone.ts";

export interface KnotServer {
  port: number;
  /** "127.0.0.1:port", ready for createResolver({ servers: [...] }). */
  address: string;
  dir: string;
  /** Replaces the zones' contents (same apexes) and waits until knot serves the new serial. */
  update(zones: ZoneDescription): Promise<void>;
  stop(): Promise<void>;
}

const KNOTD_PATHS = ["/usr/sbin/knotd", "/usr/bin/knotd"];

export function findKnotd(): string | null {
  return KNOTD_PATHS.find((p) => existsSync(p)) ?? null;
}

/** A port free for both UDP and TCP right now (knot needs a number; it binds both). */
async function freePort(host = "127.0.0.1"): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const srv = net.createServer();
    const port = await new Promise<number>((res, rej) => {
      srv.once("error", rej);
      srv.listen(0, host, () => res((srv.address() as net.AddressInfo).port));
    });
    await new Promise<void>((r) => srv.close(() => r()));
    const udp = dgram.createSocket("udp4");
    const ok = await new Promise<boolean>((res) => {
      udp.once("error", () => res(false));
      udp.bind(port, host, () => res(true));
    });
    if (ok) {
      await new Promise<void>((r) => udp.close(() => r()));
      return port;
    }
  }
  throw new Error("knot: no free port");
}

function config(dir: string, port: number, apexes: string[], host = "127.0.0.1"): string {
  return [
    "server:",
    `    rundir: "${dir}"`,
    `    listen: ${host}@${port}`,
    "    udp-workers: 1",
    "    tcp-workers: 1",
    "    background-workers: 1",
    "log:",
    "  - target: stderr",
    "    any: warning",
    "database:",
    `    storage: "${dir}"`,
    "template:",
    "  - id: default",
    `    storage: "${dir}"`,
    '    file: "%s.zone"',
    "    zonefile-sync: -1",
    "    zonefile-load: whole",
    "    journal-content: none",
    "zone:",
    ...apexes.map((a) => `  - domain: ${a}`),
    "",
  ].join("\n");
}

/** Asks for the apex SOA over UDP; resolves with the serial, or null without an answer. */
function soaSerial(port: number, apex: string, timeoutMs: number, host = "127.0.0.1"): Promise<number | null> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket("udp4");
    const timer = setTimeout(() => done(null), timeoutMs);
    const done = (v: number | null) => {
      clearTimeout(timer);
      sock.close();
      resolve(v);
    };
    sock.on("error", () => done(null));
    sock.on("message", (msg) => {
      try {
        const p = dnsPacket.decode(msg);
        const soa = p.answers?.find((a) => a.type === "SOA");
        done(soa && soa.type === "SOA" ? (soa.data.serial ?? null) : null);
      } catch {
        done(null);
      }
    });
    const q = dnsPacket.encode({ type: "query", id: 1, flags: 0, questions: [{ type: "SOA", name: apex }] });
    sock.send(q, port, host);
  });
}

async function waitForSerial(port: number, apexes: string[], serial: number, proc: ChildProcess, stderr: () => string, host = "127.0.0.1"): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`knotd exited with ${proc.exitCode}: ${stderr()}`);
    const serials = await Promise.all(apexes.map((a) => soaSerial(port, a, 200, host)));
    if (serials.every((s) => s === serial)) return;
    if (Date.now() > deadline) throw new Error(`knotd did not serve serial ${serial} in time: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface KnotOptions {
  /** Loopback address to listen on (default 127.0.0.1): a test's own 127.0.X.0/24 block. */
  host?: string;
  /** A fixed port (default: a free one), e.g. the same port on two addresses. */
  port?: number;
}

export async function startKnot(zones: ZoneDescription, opts: KnotOptions = {}): Promise<KnotServer> {
  const host = opts.host ?? "127.0.0.1";
  const knotd = findKnotd();
  if (!knotd) throw new Error("knotd not found (apt-get install knot)");
  const dir = await mkdtemp(path.join(os.tmpdir(), "fh-knot-"));
  const apexes = Object.keys(zones);
  let serial = 1;
  const writeZones = async (z: ZoneDescription) => {
    for (const [apex, owners] of Object.entries(z)) await writeFile(path.join(dir, `${apex}.zone`), renderZone(apex, owners, serial));
  };
  await writeZones(zones);
  let lastError: unknown = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = opts.port ?? (await freePort(host));
    const confPath = path.join(dir, "knot.conf");
    await writeFile(confPath, config(dir, port, apexes, host));
    const proc = spawn(knotd, ["-c", confPath], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    proc.stderr?.on("data", (d: Buffer) => (err += d.toString()));
    try {
      await waitForSerial(port, apexes, serial, proc, () => err, host);
    } catch (e) {
      lastError = e;
      proc.kill("SIGKILL");
      continue; // most likely the port was taken in between: try another
    }
    const exited = new Promise<void>((r) => (proc.exitCode !== null ? r() : proc.once("exit", () => r())));
    return {
      port,
      address: `${host}:${port}`,
      dir,
      async update(next) {
        serial++;
        await writeZones(next);
        execFileSync("knotc", ["-c", confPath, "zone-reload"], { stdio: "ignore" });
        await waitForSerial(port, Object.keys(next), serial, proc, () => err, host);
      },
      async stop() {
        proc.kill("SIGTERM");
        const timer = setTimeout(() => proc.kill("SIGKILL"), 3000);
        await exited;
        clearTimeout(timer);
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}
