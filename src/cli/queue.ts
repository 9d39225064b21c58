// `freehold queue list|show|retry|remove|flush`: the outbound queue, read and changed beside a
// running server (SQLite WAL; the runner picks changes up on its next pass, within a second).
import type { Command } from "commander";
import type { CliIo } from "./context.ts";
import { CliError, EXIT_USAGE, print, withDataDir } from "./context.ts";
import { table } from "./table.ts";
import type { QueueRecord } from "../store/types.ts";
import { routeStatusLine } from "../health/watch/route-status.ts";
import { SYSTEM } from "../accounts/authz.ts";
import { isAccountError } from "../accounts/errors.ts";
import { QueueAdmin } from "../queue/admin.ts";

const iso = (ms: number | null): string => (ms === null ? "-" : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z"));

function parseId(s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n <= 0) throw new CliError(`not a queue id: ${s}`, EXIT_USAGE);
  return n;
}

/** Recipients listed per message by `queue list` (all of them: `queue show`). */
const MAX_LISTED_RECIPIENTS = 10;

/** queued (not tried yet), deferred (tried, will retry), in flight, delivered, failed. */
function recipientState(r: QueueRecord["recipients"][number]): string {
  if (r.inFlightAt !== null) return "in flight";
  if (r.state === "pending") return r.attempts === 0 ? "queued" : `deferred (${r.attempts} tries)`;
  return r.state;
}

function summary(q: QueueRecord) {
  const pending = q.recipients.filter((r) => r.state === "pending");
  const next = pending.length > 0 ? Math.min(...pending.map((r) => r.nextAttemptAt)) : null;
  const last = [...q.recipients].sort((a, b) => b.updatedAt - a.updatedAt)[0];
  return { pending, next, lastReply: last?.lastReply ?? null };
}

export function registerQueue(program: Command, io: CliIo): void {
  const queue = program.command("queue").description("the outbound mail queue");

  queue
    .command("list")
    .description("list queued messages")
    .option("--json", "print JSON")
    .action(async function (this: Command) {
      const { json } = this.opts() as { json?: boolean };
      await withDataDir(this, io, async ({ store, watch, config }) => {
        const list = await store.queue.list();
        if (json) return print(io, JSON.stringify(list, null, 2));
        // Issue 8 §4: where direct mail goes right now (the relay switch).
        print(io, routeStatusLine(watch.route(), config.routing));
        if (list.length === 0) return print(io, "The queue is empty.");
        // Like mailq: each message, then each recipient with its state and last reply, so an
        // operator sees at a glance where mail is stuck (the rest: freehold queue show ID).
        const rows: string[][] = [];
        for (const q of list) {
          const s = summary(q);
          const shown = q.recipients.slice(0, MAX_LISTED_RECIPIENTS);
          shown.forEach((r, i) => {
            const head = i === 0 ? [String(q.id), q.mailFrom === "" ? "<>" : q.mailFrom, `${s.pending.length}/${q.recipients.length}`, iso(q.createdAt), iso(s.next)] : ["", "", "", "", ""];
            rows.push([...head, r.recipient, recipientState(r), (r.lastReply ?? "-").slice(0, 60)]);
          });
          const more = q.recipients.length - shown.length;
          if (more > 0) rows.push(["", "", "", "", "", `... ${more} more (freehold queue show ${q.id})`, "", ""]);
        }
        print(io, table(["ID", "FROM", "PENDING", "QUEUED", "NEXT ATTEMPT", "RECIPIENT", "STATE", "LAST REPLY"], rows));
      });
    });

  queue
    .command("show")
    .description("one message: envelope, DSN parameters, each recipient and each attempt")
    .argument("<id>", "queue id")
    .option("--json", "print JSON")
    .action(async function (this: Command, idArg: string) {
      const { json } = this.opts() as { json?: boolean };
      const id = parseId(idArg);
      await withDataDir(this, io, async ({ store }) => {
        const q = await store.queue.get(id);
        if (!q) throw new CliError(`no queue entry ${id}`);
        const attempts = await store.queue.attempts(id);
        if (json) return print(io, JSON.stringify({ ...q, attempts }, null, 2));
        print(io, `Queue entry ${q.id} (${q.origin}), queued ${iso(q.createdAt)}`);
        print(io, `  MAIL FROM: <${q.mailFrom}>`);
        // RFC 3461 §4.3 / §4.4.
        print(io, `  RET: ${q.ret ?? "-"}   ENVID: ${q.envid ?? "-"}`);
        print(io);
        print(
          io,
          table(
            ["RCPT", "STATE", "ATTEMPTS", "NEXT", "NOTIFY", "ORCPT", "ROUTE", "STATUS", "LAST REPLY"],
            q.recipients.map((r) => [
              r.recipient,
              r.state + (r.inFlightAt !== null ? " (in flight)" : ""),
              String(r.attempts),
              r.state === "pending" ? iso(r.nextAttemptAt) : "-",
              r.notify?.join(",") ?? "-",
              r.orcpt ?? "-",
              r.route ?? "-",
              r.status ?? "-",
              r.lastReply ?? "-",
            ]),
          ),
        );
        print(io);
        if (attempts.length === 0) return print(io, "No attempts yet.");
        const rcptOf = new Map(q.recipients.map((r) => [r.id, r.recipient]));
        print(
          io,
          table(
            ["AT", "ROUTE", "HOST", "RCPT", "OUTCOME", "REPLY"],
            attempts.map((a) => [iso(a.at), a.route, a.host ?? "-", a.recipientId === null ? "*" : (rcptOf.get(a.recipientId) ?? "?"), a.outcome, a.reply ?? "-"]),
          ),
        );
      });
    });

  queue
    .command("retry")
    .description("make a message's pending recipients due now (or every message with --all)")
    .argument("[id]", "queue id")
    .option("--all", "every queued message")
    .action(async function (this: Command, idArg: string | undefined) {
      const { all } = this.opts() as { all?: boolean };
      if (!idArg && !all) throw new CliError("give a queue id or --all", EXIT_USAGE);
      await withDataDir(this, io, async ({ store }) => {
        // Through the service layer, so the audit log records it (src/queue/admin.ts).
        const admin = new QueueAdmin({ store, clock: io.clock });
        const n = await notFoundAsCli(() => (all ? admin.retryAll(SYSTEM) : admin.retry(SYSTEM, parseId(idArg!))));
        print(io, `${n} recipient(s) due now.`);
      });
    });

  queue
    .command("flush")
    .description("make everything in the queue due now")
    .action(async function (this: Command) {
      await withDataDir(this, io, async ({ store }) => {
        const n = await new QueueAdmin({ store, clock: io.clock }).retryAll(SYSTEM);
        print(io, `${n} recipient(s) due now.`);
      });
    });

  queue
    .command("remove")
    .description("delete a message from the queue without notifying anyone")
    .argument("<id>", "queue id")
    .action(async function (this: Command, idArg: string) {
      const id = parseId(idArg);
      await withDataDir(this, io, async ({ store }) => {
        await notFoundAsCli(() => new QueueAdmin({ store, clock: io.clock }).remove(SYSTEM, id));
        print(io, `Removed queue entry ${id}.`);
      });
    });
}

async function notFoundAsCli<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isAccountError(e, "not-found")) throw new CliError(e.message);
    throw e;
  }
}
