// `freehold audit`: the audit log, newest first (the same entries as GET /api/v1/audit).
import type { Command } from "commander";
import { SYSTEM } from "../accounts/authz.ts";
import type { CliIo } from "./context.ts";
import { CliError, EXIT_USAGE, print, withDataDir } from "./context.ts";
import { table } from "./table.ts";

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

export function registerAudit(program: Command, io: CliIo): void {
  program
    .command("audit")
    .description("list the audit log, newest first: who changed what, through which door (cli, session, token)")
    .option("--domain <domain>", "only this domain's entries")
    .option("--action <prefix>", "only actions starting with this (user., alias.add, queue.)")
    .option("--limit <n>", "how many entries (default 50, at most 10000)", "50")
    .option("--before <id>", "entries older than this id (the next page)")
    .option("--json", "print JSON")
    .action(async function (this: Command) {
      const o = this.opts() as { domain?: string; action?: string; limit: string; before?: string; json?: boolean };
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new CliError(`--limit: expected 1 to 10000 (got ${o.limit})`, EXIT_USAGE);
      const before = o.before === undefined ? undefined : Number(o.before);
      if (before !== undefined && (!Number.isInteger(before) || before < 1)) throw new CliError(`--before: not an entry id: ${o.before}`, EXIT_USAGE);
      await withDataDir(this, io, async ({ accounts }) => {
        const rows = await accounts.auditPage(SYSTEM, { limit, beforeId: before, domain: o.domain?.toLowerCase(), actionPrefix: o.action });
        if (o.json) return print(io, JSON.stringify(rows, null, 2));
        if (rows.length === 0) return print(io, "No audit entries.");
        const change = (r: { before: string | null; after: string | null; detail: string | null }) =>
          [r.before && `before ${r.before}`, r.after && `after ${r.after}`].filter(Boolean).join(" ") || (r.detail ?? "");
        print(io, table(["ID", "AT", "ACTOR", "SOURCE", "ACTION", "TARGET", "CHANGE"], rows.map((r) => [String(r.id), iso(r.at), r.actor, r.source, r.action, r.target, change(r).slice(0, 100)])));
      });
    });
}
