// `freehold config example|check`.
import { stat } from "node:fs/promises";
import type { Command } from "commander";
import { configExample } from "../config/example.ts";
import { configPath, loadConfig } from "../config/load.ts";
import { loadTlsContext } from "../tls/context.ts";
import type { CliIo } from "./context.ts";
import { dataDirOf, print } from "./context.ts";

export function registerConfig(program: Command, io: CliIo): void {
  const config = program.command("config").description("the configuration file");

  config
    .command("example")
    .description("print a commented freehold.yaml with every key and its default")
    .action(() => {
      io.stdout.write(configExample());
    });

  config
    .command("check")
    .description("validate freehold.yaml and the TLS files it names")
    .action(async function (this: Command) {
      const dataDir = dataDirOf(this, io);
      const c = await loadConfig(dataDir);
      const tls = await loadTlsContext(c.tls.cert, c.tls.key);
      print(io, `${configPath(dataDir)}: ok`);
      print(io, `  hostname ${c.hostname}${c.dev ? " (dev mode)" : ""}`);
      for (const l of c.listeners) print(io, `  ${l.role.padEnd(12)} ${l.address}:${l.port} tls=${l.tls}`);
      const days = Math.floor((tls.notAfter - io.clock.now()) / 86_400_000);
      print(io, `  certificate ${tls.subject}, ${days >= 0 ? `expires in ${days} days` : `EXPIRED ${-days} days ago`}`);
      const keyMode = (await stat(c.tls.key)).mode & 0o777;
      if ((keyMode & 0o077) !== 0) {
        io.stderr.write(`freehold: warning: ${c.tls.key} is readable by others (mode ${keyMode.toString(8)}); run: chmod 600 ${c.tls.key}\n`);
      }
    });
}
