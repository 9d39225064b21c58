// Child process for crash.test.ts: opens the store as `freehold serve` would (startup recovery
// first), then 10 writers deliver unique messages to INBOX and print "ack <id>" once each
// delivery resolves; another loop delivers to Junk, expunges and runs the collector, so kills
// also land mid-collection. The parent SIGKILLs it at a random moment.
//   node src/store/crash-child.ts <dataDir> <userAddress>
import { openSqliteStore } from "./sqlite/store.ts";
import { openFileBlobStore } from "./blob-files.ts";
import { DeliveryWriter } from "./delivery.ts";
import { collect, recoverOnStartup } from "./collector.ts";

const [dataDir, address] = process.argv.slice(2);
const store = openSqliteStore(dataDir);
const blobs = await openFileBlobStore({ dataDir, meta: store.blobs });
await recoverOnStartup({ store, blobs });
const writer = new DeliveryWriter({ store, blobs });
const user = (await store.accounts.getUserByAddress(address))!;
const inbox = (await store.mail.getMailbox(user.id, "INBOX"))!;
const junk = (await store.mail.getMailbox(user.id, "Junk"))!;
const tag = `${process.pid}-${Date.now()}`;
let seq = 0;

async function stage(text: string) {
  const w = blobs.create();
  await w.write(Buffer.from(text));
  return w.finish();
}

async function sender(): Promise<never> {
  for (;;) {
    const id = `${tag}-${seq++}`;
    const staged = await stage(`X-Id: ${id}\r\n\r\n${"m".repeat(200)}\r\n`);
    await writer.deliver({ blob: staged, targets: [{ mailboxId: inbox.id, traceHeaders: "" }], queue: [] });
    // Pipes are written synchronously on Linux: a printed ack reaches the parent even if we die next.
    process.stdout.write(`ack ${id}\n`);
  }
}

async function churn(): Promise<never> {
  for (let i = 0; ; i++) {
    // Half the churn reuses content (dedup), half is new.
    const staged = await stage(`X-Churn: ${i % 2 === 0 ? "same" : `${tag}-${i}`}\r\n\r\nchurn\r\n`);
    const r = await writer.deliver({ blob: staged, targets: [{ mailboxId: junk.id, traceHeaders: "" }], queue: [] });
    await store.mail.expunge(junk.id, [r.delivered[0].uid]);
    await collect({ store, blobs, writer, orphanGraceMs: 0 });
  }
}

process.stdout.write("ready\n");
await Promise.all([...Array.from({ length: 10 }, sender), churn()]);
