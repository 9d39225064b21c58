// Child process for the crash test: runs the queue runner on a data folder until the queue is
// empty (then exits 0), logging JSON lines to stdout. argv: dataDir knotAddress mxPort.
import { systemClock } from "../../src/clock.ts";
import { createLogger } from "../../src/log/logger.ts";
import { createResolver } from "../../src/dns/resolver.ts";
import { openStorage } from "../../src/store/open.ts";
import { QueueRunner } from "../../src/queue/runner.ts";
import { RelayFileSchema } from "../../src/delivery/relays.ts";

const [dataDir, dns, mxPort] = process.argv.slice(2);
const logger = createLogger({ level: "info" });
const storage = await openStorage(dataDir, { serve: true });
const resolver = createResolver({ servers: [dns], timeoutMs: 1000, tries: 1 });
const routing = { file: RelayFileSchema.parse({}), secrets: {} };
const runner = new QueueRunner({
  store: storage.store,
  blobs: storage.blobs,
  writer: storage.writer,
  clock: systemClock,
  logger,
  hostname: "mail.local.test",
  transport: { resolver, logger, hostname: "mail.local.test", ourAddresses: [], mxPort: Number(mxPort) },
  routing: async () => routing,
  defaultQuotaBytes: 0,
  pollMs: 20,
});
await runner.recover();
for (;;) {
  await runner.runOnce();
  if ((await storage.store.queue.list()).length === 0) break;
  await new Promise((r) => setTimeout(r, 20));
}
resolver.cancel();
await storage.close();
process.stdout.write(JSON.stringify({ msg: "queue empty" }) + "\n");
