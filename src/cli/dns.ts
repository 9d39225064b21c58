// `freehold dns records DOMAIN`: every DNS record the domain needs (src/health/records.ts),
// from the live configuration: server.publicIps, the relays serving the domain, its DKIM keys.
import type { Command } from "commander";
import type { CliIo } from "./context.ts";
import { CliError, EXIT_USAGE, dataDirOf, print, withDataDir } from "./context.ts";
import { table } from "./table.ts";
import { domainRecords } from "../health/service.ts";
import { zoneSnippet } from "../health/records.ts";
import { loadRelayFile } from "../delivery/relays.ts";
import net from "node:net";

export function registerDns(program: Command, io: CliIo): void {
  const dns = program.command("dns").description("DNS records a domain needs");
  dns
    .command("records")
    .description("print every record DOMAIN needs, computed from the live configuration")
    .argument("<domain>", "the mail domain")
    .option("--ip <address...>", "the server's public IP addresses (default: server.publicIps in freehold.yaml)")
    .option("--include <domain...>", "SPF include of a relay serving this domain (default: the spfInclude of each relay whose routes serve it)")
    .option("--json", "print JSON")
    .option("--zone", "print a zone-file snippet")
    .action(async function (this: Command, domain: string) {
      const o = this.opts() as { ip?: string[]; include?: string[]; json?: boolean; zone?: boolean };
      for (const ip of o.ip ?? []) if (!net.isIP(ip)) throw new CliError(`not an IP address: ${ip}`, EXIT_USAGE);
      const relays = await loadRelayFile(dataDirOf(this, io));
      await withDataDir(this, io, async ({ config, dkim }) => {
        const recs = domainRecords(config, dkim, domain, { ips: o.ip, relayIncludes: o.include, relays });
        if (!recs.some((r) => r.type === "A" || r.type === "AAAA")) {
          io.stderr.write("freehold: no public IP: set server.publicIps in freehold.yaml (or pass --ip); SPF, A/AAAA and PTR are incomplete\n");
        }
        if (o.json) return print(io, JSON.stringify(recs, null, 2));
        if (o.zone) return print(io, zoneSnippet(recs).trimEnd());
        print(io, table(["NAME", "TYPE", "VALUE", "PURPOSE"], recs.map((r) => [r.name, r.type, r.value.length > 60 ? `${r.value.slice(0, 57)}...` : r.value, r.purpose])));
      });
    });
}
