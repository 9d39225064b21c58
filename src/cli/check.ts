// `freehold check [DOMAIN] [--json] [--authoritative] [--only GROUP...]`: every live health
// check once (src/health/check.ts), as a table with the fixes, or as JSON (docs/dns.md "JSON
// output"). Exit status 1 when any check fails.
import type { Command } from "commander";
import type { CliIo } from "./context.ts";
import { CliError, EXIT_FAILURE, EXIT_USAGE, dataDirOf, print, withDataDir } from "./context.ts";
import { table } from "./table.ts";
import { runChecks } from "../health/check.ts";
import { checkDeps } from "../health/service.ts";
import { CHECK_GROUPS, reportFailed } from "../health/types.ts";
import type { CheckReport } from "../health/types.ts";
import { loadRelayFile, loadRelaySecrets } from "../delivery/relays.ts";
import { openSuppressionDb, SuppressionService } from "../suppression/service.ts";

const MARK = { ok: "ok", warn: "WARN", fail: "FAIL", unknown: "??" } as const;

/** The readable report: one row per check, then the fixes of everything not ok. */
export function formatReport(r: CheckReport): string {
  const rows = r.results.map((x) => [MARK[x.status], x.id, x.message]);
  const lines = [table(["STATUS", "CHECK", "RESULT"], rows)];
  const fixes = r.results.filter((x) => x.status !== "ok" && x.fix);
  if (fixes.length > 0) {
    lines.push("", "To fix:");
    for (const x of fixes) lines.push(`  ${MARK[x.status].padEnd(4)} ${x.id}`, `       ${x.fix}`);
  }
  const count = (s: string) => r.results.filter((x) => x.status === s).length;
  lines.push("", `${r.results.length} checks at ${r.startedAt}: ${count("ok")} ok, ${count("warn")} warn, ${count("fail")} fail, ${count("unknown")} unknown`);
  return lines.join("\n");
}

export function registerCheck(program: Command, io: CliIo): void {
  program
    .command("check")
    .description("check DNS records, reverse DNS, certificates, blocklists, relays, queue and disk live (exit 1 on any fail)")
    .argument("[domain]", "one mail domain (default: every domain)")
    .option("--json", "print JSON (shape in docs/dns.md)")
    .option("--authoritative", "also ask each of the zone's name servers directly and report disagreements")
    .option("--only <group...>", `only these groups: ${CHECK_GROUPS.join(", ")}`)
    .action(async function (this: Command, domain: string | undefined) {
      const o = this.opts() as { json?: boolean; authoritative?: boolean; only?: string[] };
      for (const g of o.only ?? []) if (!(CHECK_GROUPS as readonly string[]).includes(g)) throw new CliError(`--only: unknown group ${g} (${CHECK_GROUPS.join(", ")})`, EXIT_USAGE);
      const dataDir = dataDirOf(this, io);
      const relays = await loadRelayFile(dataDir);
      const secrets = await loadRelaySecrets(dataDir);
      const report = await withDataDir(this, io, async ({ config, store, accounts, dkim }) => {
        // suppression.sqlite is read beside a running server, as `freehold suppress` does.
        const sdb = openSuppressionDb(config.dataDir, { clock: io.clock });
        const suppression = new SuppressionService(sdb, io.clock, config.suppression);
        const deps = checkDeps({ config, store, accounts, dkim, relays, secrets, clock: io.clock, complaintStats: (days) => suppression.complaintStats(days) });
        try {
          return await runChecks(deps, { domain, authoritative: o.authoritative, only: o.only });
        } finally {
          deps.close();
          sdb.close();
        }
      });
      print(io, o.json ? JSON.stringify(report, null, 2) : formatReport(report));
      if (reportFailed(report)) throw new CliError(`${report.results.filter((x) => x.status === "fail").length} check(s) failed`, EXIT_FAILURE);
    });
}
