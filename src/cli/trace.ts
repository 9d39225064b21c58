// `freehold trace <Message-ID | queue id | address> [--since 2d] [--json]`: one message's whole
// path as a timeline (src/trace/), from the log file `serve` writes and the queue.
import path from "node:path";
import type { Command } from "commander";
import type { CliIo } from "./context.ts";
import { CliError, print, withDataDir } from "./context.ts";
import { table } from "./table.ts";
import { traceMessage } from "../trace/service.ts";
import { parseSince } from "../trace/trace.ts";

export function registerTrace(program: Command, io: CliIo): void {
  program
    .command("trace")
    .description("follow a message: every step from connection to mailbox or remote server, from the log and the queue")
    .argument("<what>", "a Message-ID (<id@host>), a queue id, or an address")
    .option("--since <when>", "how far back to look: 30m, 12h, 2d, 1w or a date", "2d")
    .option("--json", "print JSON")
    .action(async function (this: Command, what: string) {
      const { since, json } = this.opts() as { since: string; json?: boolean };
      await withDataDir(this, io, async ({ store, config }) => {
        if (!config.log.file) throw new CliError("log.file is off in freehold.yaml: there is no log to trace from");
        let report;
        try {
          report = await traceMessage({ logFile: path.resolve(config.dataDir, config.log.file), store, query: what, since: parseSince(since, io.clock.now()) });
        } catch (e) {
          throw new CliError((e as Error).message);
        }
        if (json) return print(io, JSON.stringify(report, null, 2));
        if (report.events.length === 0 && report.queue.length === 0) {
          return print(io, `Nothing found for ${what} since ${report.since} (${report.filesRead.length} log file${report.filesRead.length === 1 ? "" : "s"} read). Try a longer --since.`);
        }
        const lines = [
          `Trace of ${what} (${report.kind}) since ${report.since}: ${report.events.length} events`,
          "",
          table(
            ["TIME", "WHERE", "EVENT", "DETAIL"],
            report.events.map((e) => [e.time.replace("T", " ").slice(0, 23), e.where, clip(e.level === "info" ? e.event : `${e.event} (${e.level})`, 48), e.detail.length > 160 ? e.detail.slice(0, 157) + "..." : e.detail]),
          ),
        ];
        if (report.queue.length) {
          lines.push("", "Still in the queue:");
          lines.push(table(["QUEUE", "RECIPIENT", "STATE", "ATTEMPTS", "NEXT", "LAST REPLY"], report.queue.flatMap((q) => q.recipients.map((r) => [`#${q.id}`, r.recipient, r.state, String(r.attempts), r.nextAttemptAt.slice(0, 19), (r.lastReply ?? "").slice(0, 80)]))));
        }
        print(io, lines.join("\n"));
      });
    });
}

const clip = (s: string, n: number) => (s.length > n ? s.slice(0, n - 3) + "..." : s);
