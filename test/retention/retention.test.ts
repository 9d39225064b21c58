// Retention (issue 19 §3): with an injected clock, Junk messages older than the limit disappear
// from an IMAP session that has Junk open (it receives EXPUNGE, RFC 9051 §7.5.1), newer ones
// stay, their blobs are collected, and age counts from when a message was saved into the
// mailbox (a message with an old INTERNALDATE moved to Trash today stays). A real client
// (imapflow) against `serve`'s real starters, in this process so the clock can be moved.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ImapFlow } from "imapflow";
import fs from "node:fs/promises";
import { createDataDir, TEST_PASSWORD } from "../support/freehold.ts";
import { loadConfig } from "../../src/config/load.ts";
import { openServices } from "../../src/server/services.ts";
import { startServer } from "../../src/server/run.ts";
import { protocolStarters } from "../../src/server/starters.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { collect } from "../../src/store/collector.ts";
import type { Clock } from "../../src/clock.ts";

const A = "ann@retention.test";
const B = "bob@retention.test";
const DAY = 86_400_000;

class OffsetClock implements Clock {
  offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
}

const msg = (subject: string) => `From: x@elsewhere.test\r\nTo: ${A}\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@elsewhere.test>\r\n\r\n${subject} body ${Math.random()}\r\n`;

function client(port: number, user: string): ImapFlow {
  return new ImapFlow({ host: "127.0.0.1", port, secure: false, doSTARTTLS: false, auth: { user, pass: TEST_PASSWORD }, logger: false } as ConstructorParameters<typeof ImapFlow>[0]);
}

test("retention: old Junk expunged from an open session, newer kept, blobs collected; Trash age counts from the move; overrides per user", async (t) => {
  const data = await createDataDir({
    domains: ["retention.test"],
    users: [{ address: A }, { address: B }],
    imap: true,
    config: { retention: { junkDays: 30, trashDays: 7, users: { [B]: { junkDays: 0 } } } },
  });
  t.after(() => data.remove());
  const clock = new OffsetClock();
  const services = await openServices(await loadConfig(data.dir), { logger: silentLogger(), clock });
  const server = await startServer(services, { starters: protocolStarters() });
  t.after(() => server.stop());
  const port = server.listeners.find((l) => l.role === "imap")!.port;
  await server.retention.runOnce(); // the pass started with the server, on an empty store

  const setup = client(port, A);
  await setup.connect();
  await setup.append("Junk", msg("old-junk-1"));
  await setup.append("Junk", msg("old-junk-2"));
  // Two years old by INTERNALDATE, but moved to Trash only now.
  await setup.append("INBOX", msg("ancient-in-inbox"), [], new Date(Date.now() - 700 * DAY));
  const bobc = client(port, B);
  await bobc.connect();
  await bobc.append("Junk", msg("bob-junk"));
  await bobc.logout();

  clock.offset = 31 * DAY;
  await setup.append("Junk", msg("new-junk"));
  await setup.mailboxOpen("INBOX");
  await setup.messageMove("1:*", "Trash");
  await setup.logout();

  // A session with Junk open, idling, as a mail client sits.
  const watcher = client(port, A);
  await watcher.connect();
  t.after(() => watcher.close());
  const box = await watcher.mailboxOpen("Junk");
  assert.equal(box.exists, 3);
  const expunges: number[] = [];
  watcher.on("expunge", (e: { seq: number }) => expunges.push(e.seq));
  const idling = watcher.idle();

  const removed = await server.retention.runOnce();
  assert.deepEqual(
    removed.map((r) => `${r.user} ${r.mailbox} ${r.days}d ${r.expunged}`),
    [`${A} Junk 30d 2`],
    "only ann's two old Junk messages: bob keeps Junk (0 = for ever), Trash holds a message moved today",
  );
  const deadline = Date.now() + 10_000;
  while (expunges.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(expunges.length, 2, "the idling session was told of both expunges");
  await watcher.noop();
  void idling;
  const status = (await watcher.status("Junk", { messages: true })) as { messages?: number };
  assert.equal(status.messages, 1, "the new Junk message stays");
  const left = [];
  for await (const m of watcher.fetch("1:*", { envelope: true })) left.push(m.envelope?.subject);
  assert.deepEqual(left, ["new-junk"]);
  assert.equal(((await watcher.status("Trash", { messages: true })) as { messages?: number }).messages, 1, "moved today: kept for 7 days from now");

  // 8 days later the Trash limit (7) has passed for the moved message.
  clock.offset = 39 * DAY;
  const later = await server.retention.runOnce();
  assert.deepEqual(later.map((r) => `${r.mailbox} ${r.expunged}`), ["Trash 1"]);

  // The expunged messages' blobs go at the next collection; the kept ones' stay.
  await collect({ store: services.storage.store, blobs: services.storage.blobs, writer: services.storage.writer, clock });
  const files: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) {
        if (e.name !== "tmp") await walk(`${d}/${e.name}`);
      }
      else files.push(e.name);
    }
  };
  await walk(`${data.dir}/blobs`).catch(() => undefined);
  const rows = [];
  for (const u of [A, B]) {
    const user = (await services.storage.store.accounts.getUserByAddress(u))!;
    for (const mb of await services.storage.store.mail.listMailboxes(user.id)) rows.push(...(await services.storage.store.mail.listMessages(mb.id)));
  }
  assert.equal(rows.length, 2, "new-junk and bob-junk remain");
  const live = new Set(rows.map((r) => r.blobId));
  assert.equal(files.filter((f) => !f.startsWith(".")).length, live.size, `blob files on disk (${files.length}) are exactly those of the 2 remaining messages`);
});
