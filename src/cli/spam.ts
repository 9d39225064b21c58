// `freehold spam stats [USER]`: per account, messages filed per verdict, training events and the
// classifier's size (src/spam/service.ts spamStats), read beside a running server (WAL).
import type { Command } from "commander";
import type { CliIo } from "./context.ts";
import { CliError, print, withDataDir } from "./context.ts";
import { table } from "./table.ts";
import { spamStats } from "../spam/service.ts";
import { openSpamDb, SqliteSpamRepo } from "../store/sqlite/spam.ts";

export function registerSpam(program: Command, io: CliIo): void {
  const spam = program.command("spam").description("the spam filter");
  spam
    .command("stats")
    .description("messages per verdict (inbox, junk, reject), training counts and model size, per account")
    .argument("[user]", "one account's address (default: all)")
    .option("--json", "print JSON")
    .action(async function (this: Command, user: string | undefined) {
      const { json } = this.opts() as { json?: boolean };
      await withDataDir(this, io, async ({ store, config }) => {
        const side = openSpamDb(config.dataDir, { clock: io.clock });
        try {
          let rows;
          try {
            rows = await spamStats(store, new SqliteSpamRepo(side), user);
          } catch (e) {
            throw new CliError((e as Error).message);
          }
          if (json) return print(io, JSON.stringify(rows, null, 2));
          if (rows.length === 0) return print(io, "No accounts.");
          print(
            io,
            table(
              ["USER", "INBOX", "JUNK", "REJECTED", "TRAINED SPAM", "TRAINED HAM", "MODEL SPAM/HAM", "TOKENS"],
              rows.map((r) => [r.address, String(r.inbox), String(r.junk), String(r.reject), String(r.trainedSpam), String(r.trainedHam), `${r.modelSpam}/${r.modelHam}`, String(r.tokens)]),
            ),
          );
        } finally {
          side.close();
        }
      });
    });
}
