// Reads the log files for `freehold trace` (trace.ts holds the rules): the current file and every
// rotated one, oldest first, line by line (constant memory whatever their size), twice — once for
// the seed lines' ids, once for every line carrying them — and adds the queue entries that are
// still queued, from the store.
import fs from "node:fs";
import readline from "node:readline";
import type { MetadataStore } from "../store/types.ts";
import { rotatedFiles } from "../log/logfile.ts";
import { parseQuery, TraceCollector } from "./trace.ts";
import type { TraceReport } from "./trace.ts";

export interface TraceOptions {
  /** The current log file (config log.file, absolute). */
  logFile: string;
  store: Pick<MetadataStore, "queue">;
  query: string;
  /** Lines before this time (ms) are skipped. */
  since: number;
}

async function eachLine(files: string[], since: number, fn: (l: Record<string, unknown>) => void): Promise<void> {
  for (const f of files) {
    let input: fs.ReadStream;
    try {
      input = fs.createReadStream(f, { encoding: "utf8" });
      await new Promise<void>((resolve, reject) => {
        input.once("open", () => resolve());
        input.once("error", reject);
      });
    } catch {
      continue; // rotated away meanwhile
    }
    const rl = readline.createInterface({ input, crlfDelay: Infinity });
    for await (const text of rl) {
      if (!text.startsWith("{")) continue;
      let l: Record<string, unknown>;
      try {
        l = JSON.parse(text) as Record<string, unknown>;
      } catch {
        continue; // a line cut by a crash
      }
      if (typeof l.time === "number" && l.time < since) continue;
      fn(l);
    }
  }
}

export async function traceMessage(o: TraceOptions): Promise<TraceReport> {
  const q = parseQuery(o.query);
  const files = [...rotatedFiles(o.logFile).reverse(), o.logFile].filter((f) => fs.existsSync(f));
  const c = new TraceCollector(q);
  await eachLine(files, o.since, (l) => c.seed(l));
  await eachLine(files, o.since, (l) => c.collect(l));
  const queue: TraceReport["queue"] = [];
  for (const id of [...c.queueIds].sort((a, b) => a - b)) {
    const e = await o.store.queue.get(id);
    if (!e) continue;
    queue.push({
      id: e.id,
      mailFrom: e.mailFrom,
      recipients: e.recipients.map((r) => ({ recipient: r.recipient, state: r.state, attempts: r.attempts, lastReply: r.lastReply, nextAttemptAt: new Date(r.nextAttemptAt).toISOString() })),
    });
  }
  return { query: o.query, kind: q.kind, since: new Date(o.since).toISOString(), filesRead: files, events: c.timeline(), queue };
}
