// A queue under test: storage in a temp dir, a local domain with a user, a knot DNS server with
// the given zones, a QueueRunner on a ManualClock wired to them. Loopback only.
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { ManualClock } from "../../src/clock.ts";
import { silentLogger } from "../../src/log/logger.ts";
import type { Logger } from "../../src/log/logger.ts";
import { createResolver } from "../../src/dns/resolver.ts";
import type { Resolver } from "../../src/dns/resolver.ts";
import { openStorage } from "../../src/store/open.ts";
import type { Storage } from "../../src/store/open.ts";
import { AccountsService } from "../../src/accounts/service.ts";
import { SYSTEM } from "../../src/accounts/authz.ts";
import { FAST_SCRYPT } from "../../src/accounts/testing.ts";
import { QueueRunner } from "../../src/queue/runner.ts";
import type { RunnerDeps } from "../../src/queue/runner.ts";
import { RelayFileSchema } from "../../src/delivery/relays.ts";
import type { RelayCredentials, RelayFile } from "../../src/delivery/relays.ts";
import type { TransportDeps } from "../../src/delivery/transport.ts";
import type { QueueRecipientInsert } from "../../src/store/types.ts";
import { startKnot } from "../support/knot.ts";
import type { KnotServer } from "../support/knot.ts";
import type { ZoneDescription } from "../support/dns-zone.ts";

export interface QueueFixture {
  dir: string;
  clock: ManualClock;
  storage: Storage;
  accounts: AccountsService;
  resolver: Resolver;
  knot: KnotServer;
  runner: QueueRunner;
  routing: { file: RelayFile; secrets: Record<string, RelayCredentials> };
  enqueue(m: { mailFrom: string; recipients: QueueRecipientInsert[]; body: string; ret?: "FULL" | "HDRS"; envid?: string; origin?: string }): Promise<number>;
  /** Messages in a local user's INBOX, full text. */
  inbox(address: string): Promise<string[]>;
  close(): Promise<void>;
}

export interface FixtureOptions {
  zones: ZoneDescription;
  routing?: unknown;
  secrets?: Record<string, RelayCredentials>;
  transport?: Partial<TransportDeps>;
  runner?: Partial<RunnerDeps>;
  logger?: Logger;
}

export const LOCAL_DOMAIN = "local.test";
export const SENDER = "alice@local.test";

export async function queueFixture(opts: FixtureOptions): Promise<QueueFixture> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "fh-queue-"));
  const clock = new ManualClock(Date.UTC(2026, 10, 23, 12));
  const storage = await openStorage(dir, { clock });
  const accounts = new AccountsService({ store: storage.store, clock, defaultQuotaBytes: 0, scrypt: FAST_SCRYPT });
  await accounts.addDomain(SYSTEM, LOCAL_DOMAIN);
  await accounts.addUser(SYSTEM, { address: SENDER, password: "pw-alice-123456" });
  const knot = await startKnot(opts.zones);
  const resolver = createResolver({ servers: [knot.address], timeoutMs: 1000, tries: 1 });
  const logger = opts.logger ?? silentLogger();
  const routing = { file: RelayFileSchema.parse(opts.routing ?? {}), secrets: opts.secrets ?? {} };
  const runner = new QueueRunner({
    store: storage.store,
    blobs: storage.blobs,
    writer: storage.writer,
    clock,
    logger,
    hostname: "mail.local.test",
    transport: {
      resolver,
      logger,
      hostname: "mail.local.test",
      ourAddresses: [],
      timeouts: { connectMs: 5000, greetingMs: 10_000, socketMs: 20_000 },
      ...opts.transport,
    },
    routing: async () => routing,
    defaultQuotaBytes: 0,
    random: () => 0.5,
    ...opts.runner,
  });
  return {
    dir,
    clock,
    storage,
    accounts,
    resolver,
    knot,
    runner,
    routing,
    async enqueue(m) {
      const w = storage.blobs.create();
      await w.write(Buffer.from(m.body));
      const r = await storage.writer.deliver({
        blob: await w.finish(),
        targets: [],
        queue: [{ mailFrom: m.mailFrom, recipients: m.recipients, ret: m.ret, envid: m.envid, traceHeaders: "", origin: m.origin ?? "submission" }],
      });
      return r.queueIds[0];
    },
    async inbox(address) {
      const user = await storage.store.accounts.getUserByAddress(address);
      if (!user) throw new Error(`no user ${address}`);
      const mbox = await storage.store.mail.getMailbox(user.id, "INBOX");
      const msgs = await storage.store.mail.listMessages(mbox!.id);
      return Promise.all(msgs.map(async (m) => m.traceHeaders + (await storage.blobs.readAll(m.blobId)).toString("latin1")));
    },
    async close() {
      await runner.stop();
      resolver.cancel();
      await knot.stop();
      await storage.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

export function message(subject: string, from = SENDER, to = "bob@remote.test", extra = ""): string {
  return `From: ${from}\r\nTo: ${to}\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, "")}.${Math.random().toString(36).slice(2)}@local.test>\r\n${extra}\r\nHello.\r\n`;
}

/** A zone for remote.test whose MX mx.remote.test is at `address`. */
export function remoteZone(address: string, extra: ZoneDescription = {}): ZoneDescription {
  return {
    "remote.test": {
      "@": { NS: ["ns.remote.test."], MX: [[10, "mx.remote.test."]] },
      ns: { A: ["127.0.0.1"] },
      mx: { A: [address] },
    },
    ...extra,
  };
}
