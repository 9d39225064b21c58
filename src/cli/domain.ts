// `freehold domain add|list|remove`.
import type { Command } from "commander";
import { SYSTEM } from "../accounts/authz.ts";
import type { CliIo } from "./context.ts";
import { print, withDataDir } from "./context.ts";
import { table } from "./table.ts";

export function registerDomain(program: Command, io: CliIo): void {
  const domain = program.command("domain").description("mail domains this server receives for");

  domain
    .command("add")
    .description("add one or more domains")
    .argument("<name...>", "domain names, e.g. example.com")
    .action(async function (this: Command, names: string[]) {
      await withDataDir(this, io, async ({ accounts }) => {
        for (const n of names) {
          const d = await accounts.addDomain(SYSTEM, n);
          print(io, `Added domain ${d.name}`);
        }
      });
    });

  domain
    .command("list")
    .description("list domains")
    .option("--json", "print JSON")
    .action(async function (this: Command) {
      const { json } = this.opts() as { json?: boolean };
      await withDataDir(this, io, async ({ accounts, store }) => {
        const rows = [];
        for (const d of await accounts.listDomains(SYSTEM)) {
          const users = (await store.accounts.listUsers(d.id)).length;
          const aliases = (await store.accounts.listAliases(d.id)).length;
          rows.push({ name: d.name, users, aliases, disabled: d.disabled, stagedSince: await accounts.domainStagedSince(d.name) });
        }
        if (json) return print(io, JSON.stringify(rows, null, 2));
        if (rows.length === 0) return print(io, "No domains yet: freehold domain add example.com");
        print(io, table(["DOMAIN", "USERS", "ALIASES", "STATE"], rows.map((r) => [r.name, String(r.users), String(r.aliases), r.disabled ? "disabled" : r.stagedSince ? `staged since ${r.stagedSince.slice(0, 10)}` : "active"])));
      });
    });

  domain
    .command("stage")
    .description("mark a domain staged: accounts can be prepared and mail imported, but it receives no mail from outside and sends none until unstaged (before its MX points here)")
    .argument("<name>", "domain name")
    .action(async function (this: Command, name: string) {
      await withDataDir(this, io, async ({ accounts }) => {
        const changed = await accounts.stageDomain(SYSTEM, name);
        print(io, changed ? `Staged ${name.toLowerCase()}: it receives and sends no mail until \`freehold domain unstage ${name.toLowerCase()}\`` : `${name.toLowerCase()} was already staged`);
      });
    });

  domain
    .command("unstage")
    .description("make a staged domain live: it receives and sends mail from now on (point its MX here at the same time)")
    .argument("<name>", "domain name")
    .action(async function (this: Command, name: string) {
      await withDataDir(this, io, async ({ accounts }) => {
        const changed = await accounts.unstageDomain(SYSTEM, name);
        print(io, changed ? `${name.toLowerCase()} is live: it receives and sends mail` : `${name.toLowerCase()} was not staged`);
      });
    });

  domain
    .command("remove")
    .description("remove a domain and its aliases (refused while it has users)")
    .argument("<name>", "domain name")
    .action(async function (this: Command, name: string) {
      await withDataDir(this, io, async ({ accounts }) => {
        await accounts.removeDomain(SYSTEM, name);
        print(io, `Removed domain ${name.toLowerCase()}`);
      });
    });
}
