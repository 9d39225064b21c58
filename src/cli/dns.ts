// `freehold dns records DOMAIN`: every DNS record the domain needs (src/health/records.ts).
import type { Command } from "commander";
import type { CliIo } from "./context.ts";
import { CliError, print, withDataDir } from "./context.ts";
import { table } from "./table.ts";
import { domainRecords } from "../health/service.ts";
import { zoneSnippet } from "../health/records.ts";
import net from "node:net";

export function registerDns(program: Command, io: CliIo): void {
  const dns = program.command("dns").description("DNS records a domain needs");
  dns
    .command("records")
    .description("print every record DOMAIN needs, computed from the live configuration")
    .argument("<domain>", "the mail domain")
    .option("--ip <address...>", "the server's public IP addresses")
    .option("--include <domain...>", "SPF include of a relay serving this domain")
    .option("--json", "print JSON")
    .option("--zone", "print a zone-file snippet")
    .action(async function (this: Command, domain: string) {
      const o = this.opts() as { ip?: string[]; include?: string[]; json?: boolean; zone?: boolean };
      const ips = o.ip ?? [];
      for (const ip of ips) if (!net.isIP(ip)) throw new CliError(`not an IP address: ${ip}`);
      await withDataDir(this, io, async ({ config, dkim }) => {
        const recs = domainRecords(config, dkim, domain, { ips, relayIncludes: o.include });
        if (o.json) return print(io, JSON.stringify(recs, null, 2));
        if (o.zone) return print(io, zoneSnippet(recs).trimEnd());
        print(io, table(["NAME", "TYPE", "VALUE", "PURPOSE"], recs.map((r) => [r.name, r.type, r.value.length > 60 ? `${r.value.slice(0, 57)}...` : r.value, r.purpose])));
      });
    });
}
