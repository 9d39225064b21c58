// Shared pieces of the spam tests: an in-process Freehold with its IMAP and submission listeners
// (the real starters), an injectable clock, and a sender that connects from a chosen loopback
// address (127.0.0.2 is "listed" in the test blocklist, 127.0.0.3 has no reverse DNS ...).
import assert from "node:assert/strict";
import { ImapFlow } from "imapflow";
import { loadConfig } from "../../src/config/load.ts";
import { openServices } from "../../src/server/services.ts";
import type { Services } from "../../src/server/services.ts";
import { startServer } from "../../src/server/run.ts";
import type { RunningServer } from "../../src/server/run.ts";
import { protocolStarters } from "../../src/server/starters.ts";
import { createLogger, silentLogger } from "../../src/log/logger.ts";
import type { Logger } from "../../src/log/logger.ts";
import type { Clock } from "../../src/clock.ts";
import { createDataDir, TEST_PASSWORD } from "../support/freehold.ts";
import type { DataDir, FreeholdSpec } from "../support/freehold.ts";
import { SmtpTestClient } from "../support/smtp-client.ts";
import type { Reply } from "../support/smtp-client.ts";

export interface SpamServer {
  data: DataDir;
  services: Services;
  server: RunningServer;
  mxPort: number;
  imapPort: number;
  submissionPort?: number;
  stop(): Promise<void>;
}

/** A clock that runs with real time plus an offset the test moves forward. */
export class OffsetClock implements Clock {
  offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
}

export async function startSpamServer(spec: FreeholdSpec & { clock?: Clock; logger?: Logger }): Promise<SpamServer> {
  const data = await createDataDir({ ...spec, imap: true });
  const submissionPort = data.submissionPort;
  const config = await loadConfig(data.dir);
  const services = await openServices(config, { logger: spec.logger ? spec.logger : process.env.SPAM_TEST_LOG ? createLogger({ level: "warn" }) : silentLogger(), ...(spec.clock ? { clock: spec.clock } : {}) });
  const server = await startServer(services, { starters: protocolStarters() });
  const port = (role: string) => server.listeners.find((l) => l.role === role)!.port;
  return {
    data,
    services,
    server,
    mxPort: port("mx"),
    imapPort: port("imap"),
    submissionPort: spec.submission ? port("submission") : undefined,
    async stop() {
      await server.stop({ graceMs: 500 });
      await data.remove();
    },
  };
}

export interface SendOptions {
  from?: string;
  ehlo?: string;
  localAddress?: string;
}

/** One transaction; returns the final reply and every reply (RCPT replies included). */
export async function sendFrom(port: number, rcpts: string[], msg: string | Buffer, o: SendOptions = {}): Promise<{ final: Reply; replies: Reply[] }> {
  const c = await SmtpTestClient.connect(port, "127.0.0.1", 30_000, o.localAddress ?? "127.0.0.1");
  try {
    assert.equal((await c.read()).code, 220);
    assert.equal((await c.cmd(`EHLO ${o.ehlo ?? "mx.client.test"}`)).code, 250);
    return await c.send(o.from ?? "stranger@sender.test", rcpts, msg);
  } finally {
    await c.quit().catch(() => undefined);
  }
}

let seq = 0;
export function tok(): string {
  return `spamtest-${process.pid}-${++seq}-${Math.random().toString(36).slice(2, 8)}`;
}

export function message(t: string, o: { from?: string; to?: string; body?: string; headers?: string; subject?: string } = {}): string {
  return (
    (o.headers ?? "") +
    `From: <${o.from ?? "stranger@sender.test"}>\r\nTo: <${o.to ?? "bob@freehold.test"}>\r\nSubject: ${o.subject ?? t}\r\n` +
    `Date: Mon, 07 Dec 2026 08:00:00 +0000\r\nMessage-ID: <${t}@sender.test>\r\n\r\n` +
    (o.body ?? `Hello, this is ${t}.\r\n`)
  );
}

/** Where the copy carrying `t` landed for this user, and its X-Freehold-Spam field. */
export async function findCopy(s: SpamServer, address: string, t: string): Promise<{ mailbox: string; header: string } | null> {
  const store = s.services.storage.store;
  const user = await store.accounts.getUserByAddress(address);
  assert.ok(user, address);
  for (const mb of await store.mail.listMailboxes(user.id)) {
    for (const m of await store.mail.listMessages(mb.id)) {
      const blob = await s.services.storage.blobs.readAll(m.blobId);
      if (!blob.includes(t)) continue;
      const header = /^X-Freehold-Spam: ([^\r\n]*)/m.exec(m.traceHeaders)?.[1] ?? "";
      return { mailbox: mb.name, header };
    }
  }
  return null;
}

/** An imapflow client (a real outside client) for one user of the spam test server, plain IMAP on loopback. */
export function imapClient(port: number, user: string): ImapFlow {
  return new ImapFlow({
    host: "127.0.0.1",
    port,
    secure: false,
    doSTARTTLS: false,
    auth: { user, pass: TEST_PASSWORD },
    logger: false,
    disableAutoIdle: true,
  } as ConstructorParameters<typeof ImapFlow>[0]);
}
