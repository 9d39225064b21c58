// `freehold suppress list|add|remove`: the suppression list (src/suppression/), read and changed
// beside a running server (its own SQLite file, WAL).
import type { Command } from "commander";
import type { CliIo } from "./context.ts";
import { CliError, print, withDataDir } from "./context.ts";
import { table } from "./table.ts";
import { openSuppressionDb, SuppressionService } from "../suppression/service.ts";
import type { SuppressionEntry } from "../suppression/service.ts";
import { domainOf } from "../suppression/policy.ts";

const day = (ms: number | null) => (ms == null ? "-" : new Date(ms).toISOString().slice(0, 10));

function state(e: SuppressionEntry, now: number): string {
  if (e.suppressedAt == null) return `counting (${e.bounces})`;
  if (e.expiresAt != null && e.expiresAt <= now) return "expired";
  return "suppressed";
}

export function registerSuppress(program: Command, io: CliIo): void {
  const cmd = program.command("suppress").description("recipients refused at submission after hard bounces");
  const withService = <T>(c: Command, fn: (s: SuppressionService) => Promise<T>) =>
    withDataDir(c, io, async ({ config }) => {
      const db = openSuppressionDb(config.dataDir, { clock: io.clock });
      try {
        return await fn(new SuppressionService(db, io.clock, config.suppression));
      } finally {
        db.close();
      }
    });
  cmd
    .command("list")
    .description("every entry: suppressed, expired, or still counting bounces")
    .argument("[domain]", "only this sending domain")
    .option("--json", "print JSON")
    .action(async function (this: Command, domain: string | undefined) {
      const { json } = this.opts() as { json?: boolean };
      await withService(this, async (s) => {
        const rows = await s.list(domain);
        if (json) return print(io, JSON.stringify(rows, null, 2));
        if (rows.length === 0) return print(io, domain ? `No suppressed recipients for ${domain}.` : "No suppressed recipients.");
        const now = io.clock.now();
        print(
          io,
          table(
            ["SENDING DOMAIN", "RECIPIENT", "STATE", "BOUNCES", "SINCE", "UNTIL", "REASON"],
            rows.map((e) => [e.senderDomain, e.address, state(e, now), String(e.bounces), day(e.suppressedAt ?? e.firstAt), day(e.expiresAt), e.reason.slice(0, 60)]),
          ),
        );
      });
    });
  cmd
    .command("stats")
    .description("complaints (feedback loops) and messages sent per domain, with the complaint rate")
    .option("--days <n>", "window in days", "30")
    .option("--json", "print JSON")
    .action(async function (this: Command) {
      const { days, json } = this.opts() as { days: string; json?: boolean };
      const n = Number(days);
      if (!Number.isInteger(n) || n < 1 || n > 3650) throw new CliError("--days: expected a number from 1 to 3650");
      await withDataDir(this, io, async ({ config }) => {
        const db = openSuppressionDb(config.dataDir, { clock: io.clock });
        try {
          const rows = await new SuppressionService(db, io.clock, config.suppression).complaintStats(n);
          if (json) return print(io, JSON.stringify(rows, null, 2));
          if (rows.length === 0) return print(io, `Nothing sent and no complaints in the last ${n} days.`);
          const warn = config.suppression.complaintRateWarn;
          print(
            io,
            table(
              ["DOMAIN", "SENT", "COMPLAINTS", "RATE", ""],
              rows.map((r) => [r.senderDomain, String(r.sent), String(r.complaints), `${(r.rate * 100).toFixed(2)}%`, r.rate > warn ? `above ${(warn * 100).toFixed(2)}%: find out what was sent` : ""]),
            ),
          );
        } finally {
          db.close();
        }
      });
    });
  cmd
    .command("add")
    .description("suppress a recipient for a sending domain by hand")
    .argument("<domain>", "the sending domain (e.g. example.com)")
    .argument("<address>", "the recipient address")
    .option("--reason <text>", "why (shown in the refusal)", "added by the administrator")
    .option("--days <n>", "expire after n days (default: never)")
    .action(async function (this: Command, domain: string, address: string) {
      const { reason, days } = this.opts() as { reason: string; days?: string };
      if (!domainOf(address)) throw new CliError(`not an address: ${address}`);
      const n = days === undefined ? undefined : Number(days);
      if (n !== undefined && (!Number.isInteger(n) || n < 1 || n > 3650)) throw new CliError("--days: expected a number from 1 to 3650");
      await withService(this, async (s) => {
        const e = await s.add(domain, address, reason, n);
        print(io, `Suppressed ${e.address} for ${e.senderDomain}${e.expiresAt ? ` until ${day(e.expiresAt)}` : ""}.`);
      });
    });
  cmd
    .command("remove")
    .description("lift a suppression (and forget its bounce count)")
    .argument("<domain>", "the sending domain")
    .argument("<address>", "the recipient address")
    .action(async function (this: Command, domain: string, address: string) {
      await withService(this, async (s) => {
        if (!(await s.remove(domain, address))) throw new CliError(`${address} is not on the suppression list for ${domain}`);
        print(io, `Lifted the suppression of ${address.toLowerCase()} for ${domain.toLowerCase()}.`);
      });
    });
}
