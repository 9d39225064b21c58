// `freehold alias add|list|remove`.
import type { Command } from "commander";
import { SYSTEM } from "../accounts/authz.ts";
import type { CliIo } from "./context.ts";
import { print, withDataDir } from "./context.ts";
import { table } from "./table.ts";

export function registerAlias(program: Command, io: CliIo): void {
  const alias = program.command("alias").description("addresses that forward to users or external addresses");

  alias
    .command("add")
    .description("create an alias (or add targets to it); @domain is the catch-all")
    .argument("<address>", "alias address, e.g. sales@example.com, or @example.com")
    .argument("<target...>", "local or external addresses")
    .action(async function (this: Command, address: string, targets: string[]) {
      await withDataDir(this, io, async ({ accounts }) => {
        const { alias: a, created } = await accounts.addAlias(SYSTEM, address, targets);
        print(io, `${created ? "Added alias" : "Updated alias"} ${a.address} -> ${a.targets.join(", ")}`);
      });
    });

  alias
    .command("list")
    .description("list aliases")
    .argument("[domain]", "only this domain")
    .option("--json", "print JSON")
    .action(async function (this: Command, domain: string | undefined) {
      const { json } = this.opts() as { json?: boolean };
      await withDataDir(this, io, async ({ accounts }) => {
        const list = await accounts.listAliases(SYSTEM, domain);
        if (json) return print(io, JSON.stringify(list.map((a) => ({ address: a.address, targets: a.targets })), null, 2));
        if (list.length === 0) return print(io, "No aliases.");
        print(io, table(["ALIAS", "TARGETS"], list.map((a) => [a.address, a.targets.join(", ")])));
      });
    });

  alias
    .command("remove")
    .description("remove an alias, or only the given targets from it")
    .argument("<address>", "alias address")
    .argument("[target...]", "targets to remove (default: the whole alias)")
    .action(async function (this: Command, address: string, targets: string[]) {
      await withDataDir(this, io, async ({ accounts }) => {
        await accounts.removeAlias(SYSTEM, address, targets);
        print(io, targets.length > 0 ? `Removed ${targets.join(", ")} from ${address}` : `Removed alias ${address}`);
      });
    });
}
