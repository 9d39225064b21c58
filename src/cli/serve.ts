// Placeholder until the lead's `freehold serve` lands: main.ts registers it from here.
import type { Command } from "commander";

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("run the server (all listeners from freehold.yaml)")
    .option("--dev", "development mode: .freehold-dev, loopback listeners, demo logins")
    .action(() => {
      throw new Error("not implemented");
    });
}
