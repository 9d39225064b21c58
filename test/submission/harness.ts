// Freehold in this process for the submission tests: a data folder with a self-signed
// certificate, openServices() with an in-memory DNS zone the test can change (DKIM records),
// the mx listener through startServer(), and submission (STARTTLS) and submissions (implicit TLS)
// through the real starter — all on 127.0.0.1, port 0.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { configFromObject } from "../../src/config/load.ts";
import { openServices } from "../../src/server/services.ts";
import type { Services } from "../../src/server/services.ts";
import { startServer } from "../../src/server/run.ts";
import type { RunningServer } from "../../src/server/run.ts";
import { writeSelfSigned } from "../../src/tls/selfsigned.ts";
import { systemClock } from "../../src/clock.ts";
import type { Clock } from "../../src/clock.ts";
import { createLogger } from "../../src/log/logger.ts";
import { createMemoryResolve } from "../../src/dns/memory-resolver.ts";
import type { MemoryEntry } from "../../src/dns/memory-resolver.ts";
import type { Resolver } from "../../src/dns/resolver.ts";
import { SYSTEM } from "../../src/accounts/authz.ts";
import { createAuthenticator } from "../../src/login/authenticator.ts";
import { LoginLimiter } from "../../src/login/limiter.ts";
import type { LimitRule } from "../../src/login/limiter.ts";
import { submissionStarter } from "../../src/submission/starter.ts";
import { HourlySendLimit } from "../../src/submission/send-limit.ts";
import { dkimRecordName, dkimTxtRecord } from "../../src/emailauth/dkim-keys.ts";
import type { Role } from "../../src/store/types.ts";
import { RawClient } from "../smtp/helpers.ts";
import type { WireReply } from "../smtp/helpers.ts";

export const HOST = "mx.freehold.test";

/** A Resolver answering from `zone`, which the test may change at any time. */
export function zoneResolver(zone: Record<string, MemoryEntry>): Resolver {
  const resolve = ((name: string, type: "TXT") => createMemoryResolve(zone)(name, type)) as Resolver["resolve"];
  return {
    resolve,
    a: (n) => resolve(n, "A"),
    aaaa: (n) => resolve(n, "AAAA"),
    mx: (n) => resolve(n, "MX"),
    txt: (n) => resolve(n, "TXT"),
    ptr: () => Promise.resolve([]),
    lookup: ((_h: string, _o: unknown, cb: (e: Error) => void) => cb(new Error("no lookups in tests"))) as unknown as Resolver["lookup"],
    servers: [],
    cancel() {},
  };
}

export interface Harness {
  dir: string;
  services: Services;
  zone: Record<string, MemoryEntry>;
  mxPort: number;
  submissionPort: number;
  submissionsPort: number;
  logs: string[];
  /** Publishes every new DKIM key of `domain` in the zone and runs the check (→ active). */
  activateDkim(domain: string): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  domains?: string[];
  users?: Array<{ address: string; password: string; role?: Role }>;
  aliases?: Array<{ address: string; targets: string[] }>;
  loginLimit?: { perIp?: LimitRule; perAccount?: LimitRule };
  sendLimit?: { perHour: number; clock: Clock };
  /** Keep queued mail in the queue (the runner sends nothing). */
  holdOutbound?: boolean;
  /** The config's `submission` section (used when sendLimit is not given). */
  submission?: { hourlyRecipients?: number };
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "freehold-sub-"));
  await writeSelfSigned(path.join(dir, "tls/cert.pem"), path.join(dir, "tls/key.pem"), { hostname: HOST, clock: systemClock });
  const config = configFromObject(
    {
      hostname: HOST,
      listeners: [{ role: "mx", address: "127.0.0.1", port: 25 }],
      smtp: { pregreet: { enabled: false } },
      log: { level: "debug" },
      // Tests that look at what submission queued hold it: the runner (woken by each commit)
      // would otherwise race them to deliver or bounce it.
      queue: { holdOutbound: opts.holdOutbound ?? false },
      ...(opts.submission ? { submission: opts.submission } : {}),
    },
    { file: path.join(dir, "freehold.yaml"), dataDir: dir },
  );
  // The schema wants a real port; the test listens on an ephemeral one.
  config.listeners = config.listeners.map((l) => ({ ...l, port: 0 }));
  const logs: string[] = [];
  const logger = createLogger({
    level: "debug",
    destination: new Writable({
      write(c: Buffer, _e, cb) {
        logs.push(c.toString());
        cb();
      },
    }),
  });
  const zone: Record<string, MemoryEntry> = {};
  const services = await openServices(config, { resolver: zoneResolver(zone), logger });
  for (const d of opts.domains ?? []) await services.accounts.addDomain(SYSTEM, d);
  for (const u of opts.users ?? []) await services.accounts.addUser(SYSTEM, { address: u.address, password: u.password, role: u.role });
  for (const a of opts.aliases ?? []) await services.accounts.addAlias(SYSTEM, a.address, a.targets);

  const server: RunningServer = await startServer(services, {});
  const limiter = new LoginLimiter({ clock: services.clock, ...opts.loginLimit });
  const authenticate = createAuthenticator({ accounts: services.accounts, store: services.storage.store, limiter, cache: null });
  const starter = submissionStarter({
    authenticate: () => authenticate,
    dkimJob: false,
    sendLimit: opts.sendLimit ? new HourlySendLimit({ clock: opts.sendLimit.clock, perHour: opts.sendLimit.perHour }) : undefined,
  });
  const sub = await starter(services, { role: "submission", address: "127.0.0.1", port: 0, tls: "starttls" });
  const subs = await starter(services, { role: "submissions", address: "127.0.0.1", port: 0, tls: "implicit" });
  return {
    dir,
    services,
    zone,
    mxPort: server.listeners[0].port,
    submissionPort: sub.port,
    submissionsPort: subs.port,
    logs,
    async activateDkim(domain: string) {
      for (const k of services.dkim.list(domain)) if (k.state === "new") zone[dkimRecordName(k)] = { TXT: [dkimTxtRecord(k)] };
      await services.dkim.check(domain, services.resolver.txt);
    },
    async close() {
      await sub.close();
      await subs.close();
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The messages in a user's INBOX: the stored blob and the trace headers kept beside it. */
export async function inbox(h: Harness, address: string): Promise<Array<{ blob: Buffer; trace: string; full: Buffer }>> {
  const store = h.services.storage.store;
  const u = await store.accounts.getUserByAddress(address);
  if (!u) throw new Error(`no user ${address}`);
  const mbox = await store.mail.getMailbox(u.id, "INBOX");
  const out = [];
  for (const m of await store.mail.listMessages(mbox!.id)) {
    const blob = await h.services.storage.blobs.readAll(m.blobId);
    out.push({ blob, trace: m.traceHeaders, full: Buffer.concat([Buffer.from(m.traceHeaders, "latin1"), blob]) });
  }
  return out;
}

/** Runs a program, resolving with its exit code and output (never rejects on a non-zero exit). */
export async function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { spawn } = await import("node:child_process");
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], env: opts.env ?? process.env });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? "");
  });
}

/** A submission session over STARTTLS, authenticated with AUTH PLAIN. */
export async function authed(h: Harness, user: string, password: string): Promise<RawClient> {
  const c = await RawClient.connect(h.submissionPort);
  await c.cmd("EHLO mua.test");
  await c.cmd("STARTTLS");
  await c.startTls();
  await c.cmd("EHLO mua.test");
  const r = await c.cmd(`AUTH PLAIN ${Buffer.from(`\0${user}\0${password}`).toString("base64")}`);
  if (r.code !== 235) throw new Error(`AUTH failed: ${r.raw}`);
  return c;
}

/** MAIL, RCPTs and DATA; returns each reply (stops after the first refused MAIL or DATA). */
export async function transaction(c: RawClient, from: string, rcpts: string[], message: string): Promise<{ mail: WireReply; rcpts: WireReply[]; data?: WireReply; end?: WireReply }> {
  const mail = await c.cmd(`MAIL FROM:${from}`);
  const out: { mail: WireReply; rcpts: WireReply[]; data?: WireReply; end?: WireReply } = { mail, rcpts: [] };
  if (mail.code !== 250) return out;
  for (const r of rcpts) out.rcpts.push(await c.cmd(`RCPT TO:${r}`));
  out.data = await c.cmd("DATA");
  if (out.data.code !== 354) return out;
  c.write(message.replace(/\r?\n/g, "\r\n").replace(/^\./gm, "..") + (message.endsWith("\n") ? "" : "\r\n") + ".\r\n");
  out.end = await c.reply();
  return out;
}
