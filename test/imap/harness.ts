// A Freehold IMAP server on loopback over a fresh data folder, for the wire tests: real store,
// blobs and DeliveryWriter (its onBatch feeds the change bus, as in `freehold serve`), a user
// with the default mailboxes, cheap scrypt, and plaintext login allowed from any address
// (test-only switch; allowPlaintextAuth: false leaves only the loopback rule).
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { systemClock } from "../../src/clock.ts";
import type { Clock } from "../../src/clock.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { openSqliteStore } from "../../src/store/sqlite/store.ts";
import { openFileBlobStore } from "../../src/store/blob-files.ts";
import { DeliveryWriter } from "../../src/store/delivery.ts";
import { AccountsService } from "../../src/accounts/service.ts";
import { SYSTEM } from "../../src/accounts/authz.ts";
import { FAST_SCRYPT } from "../../src/accounts/testing.ts";
import type { LoginCache } from "../../src/login/cache.ts";
import { startImapServer } from "../../src/imap/server.ts";
import { createImapWiring } from "../../src/imap/wiring.ts";
import type { ChangeBus } from "../../src/imap/change-bus.ts";
import type { SearchIndexer } from "../../src/imap/search-indexer.ts";
import type { ImapServerHandleInternal } from "../../src/imap/server.ts";
import type { ImapDeps, ImapLimits, ImapListenerSpec } from "../../src/imap/types.ts";
import type { MetadataStore, UserRecord } from "../../src/store/types.ts";
import type { FileBlobStore } from "../../src/store/blob-files.ts";

export const USER = "alice@example.test";
export const PASSWORD = "correct horse battery";

export interface Harness {
  dir: string;
  port: number;
  store: MetadataStore;
  blobs: FileBlobStore;
  writer: DeliveryWriter;
  bus: ChangeBus;
  accounts: AccountsService;
  user: UserRecord;
  server: ImapServerHandleInternal;
  cache: LoginCache;
  indexer: SearchIndexer;
  /** Deliver a message to a mailbox of the test user as SMTP would (trace headers included). */
  deliver(mailbox: string, message: string | Buffer, opts?: { flags?: string[]; trace?: string }): Promise<number>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  clock?: Clock;
  limits?: Partial<ImapLimits>;
  listener?: Partial<ImapListenerSpec>;
  allowPlaintextAuth?: boolean;
  /** config imap.allowPlaintextOnLoopback (default true, as in the config). */
  allowPlaintextOnLoopback?: boolean;
  defaultQuotaBytes?: number;
  /** Index deliveries in the background (default true, as serve does). */
  eagerIndex?: boolean;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "freehold-imap-"));
  const clock = opts.clock ?? systemClock;
  const store = openSqliteStore(dir, { clock });
  const blobs = await openFileBlobStore({ dataDir: dir, meta: store.blobs, clock });
  const accounts = new AccountsService({ store, clock, defaultQuotaBytes: opts.defaultQuotaBytes ?? 0, scrypt: FAST_SCRYPT });
  await accounts.addDomain(SYSTEM, "example.test");
  const user = await accounts.addUser(SYSTEM, { address: USER, password: PASSWORD });
  const wiring = createImapWiring({ store, blobs, accounts, logger: silentLogger(), clock, dataDir: dir, loginSecret: "test secret" });
  const writer = new DeliveryWriter({
    store,
    blobs,
    onBatch: (r) => (opts.eagerIndex === false ? wiring.changeBus.onBatch(r) : wiring.onBatch(r)),
  });
  const deps: ImapDeps = { ...wiring.deps(writer, opts.defaultQuotaBytes ?? 0, opts.limits), allowPlaintextAuth: opts.allowPlaintextAuth ?? true,
    allowPlaintextOnLoopback: opts.allowPlaintextOnLoopback,
  };
  const bus = wiring.changeBus;
  const indexer = wiring.indexer;
  const cache = wiring.loginCache!;
  const server = await startImapServer(deps, { role: "imap", address: "127.0.0.1", port: 0, tls: "none", ...opts.listener });
  return {
    dir,
    port: server.port,
    store,
    blobs,
    writer,
    bus,
    accounts,
    user,
    server,
    cache,
    indexer,
    async deliver(mailbox, message, o = {}) {
      const mb = await store.mail.getMailbox(user.id, mailbox);
      if (!mb) throw new Error(`no mailbox ${mailbox}`);
      const w = blobs.create();
      await w.write(Buffer.isBuffer(message) ? message : Buffer.from(message));
      const staged = await w.finish();
      const r = await writer.deliver({ blob: staged, targets: [{ mailboxId: mb.id, traceHeaders: o.trace ?? "", flags: o.flags }], queue: [] });
      return r.delivered[0].uid;
    },
    async close() {
      await server.close();
      await writer.drain();
      await wiring.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A small RFC 5322 message. */
export function sampleMessage(i: number, extra = ""): string {
  return (
    `From: Sender ${i} <sender${i}@example.org>\r\nTo: ${USER}\r\nSubject: Message number ${i}\r\n` +
    `Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <m${i}@example.org>\r\n${extra}\r\nHello body ${i}\r\nSecond line.\r\n`
  );
}
