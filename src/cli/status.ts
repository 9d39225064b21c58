// `freehold status`: disk use of the data folder by category (src/status/disk-usage.ts), free
// space, and what waits in the outbound queue (issue 19 §3).
import fs from "node:fs/promises";
import type { Command } from "commander";
import type { CliIo } from "./context.ts";
import { print, withDataDir } from "./context.ts";
import { table } from "./table.ts";
import { formatSize } from "./size.ts";
import { diskUsage } from "../status/disk-usage.ts";

export function registerStatus(program: Command, io: CliIo): void {
  program
    .command("status")
    .description("disk use of the data folder by category (messages, each database, logs, backup staging, queue) and free space")
    .option("--json", "print JSON")
    .action(async function (this: Command) {
      const o = this.opts() as { json?: boolean };
      await withDataDir(this, io, async ({ config, store }) => {
        const usage = await diskUsage(config.dataDir, config.log.file);
        const queued = await store.queue.list();
        const pending = queued.reduce((n, q) => n + q.recipients.filter((r) => r.state === "pending").length, 0);
        const st = await fs.statfs(config.dataDir);
        const free = st.bavail * st.bsize;
        const total = usage.reduce((n, u) => n + u.bytes, 0);
        const out = { dataDir: config.dataDir, usage, totalBytes: total, freeBytes: free, queue: { messages: queued.length, pendingRecipients: pending } };
        if (o.json) return print(io, JSON.stringify(out, null, 2));
        print(
          io,
          [
            `Data folder ${config.dataDir}: ${formatSize(total)} used, ${formatSize(free)} free on its file system`,
            "",
            table(["CATEGORY", "SIZE", "FILES"], [...usage.map((u) => [u.category, formatSize(u.bytes), String(u.files)]), ["total", formatSize(total), String(usage.reduce((n, u) => n + u.files, 0))]]),
            "",
            `Queue: ${queued.length} message(s), ${pending} recipient(s) pending (their content is counted under messages)`,
          ].join("\n"),
        );
      });
    });
}
