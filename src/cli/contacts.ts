// `freehold contacts export|import` and `freehold calendar export|import` (issue 11 §3): the
// user's address books and calendars to and from files (.vcf, Google/Outlook .csv, .ics) or
// another CardDAV/CalDAV server (--from). Through DavTransfer, the layer the API uses too;
// dav.sqlite is its own WAL file, so this runs beside a serving process.
import { readFile, writeFile } from "node:fs/promises";
import type { Command } from "commander";
import type { CliIo } from "./context.ts";
import { CliError, obtainPassword, print, withDataDir } from "./context.ts";
import { DavStore, openDavDb } from "../dav/store.ts";
import type { CollectionKind } from "../dav/store.ts";
import { DavTransfer, fetchRemote } from "../dav/transfer.ts";
import { ContentError } from "../dav/content.ts";

function register(program: Command, io: CliIo, name: string, kind: CollectionKind, ext: string): void {
  const cmd = program.command(name).description(kind === "addressbook" ? "address books (CardDAV): export and import" : "calendars (CalDAV): export and import");
  const withTransfer = <T>(c: Command, user: string, fn: (t: DavTransfer, owner: string) => Promise<T>) =>
    withDataDir(c, io, async ({ config, store }) => {
      const u = await store.accounts.getUserByAddress(user.toLowerCase());
      if (!u) throw new CliError(`no such user: ${user}`);
      const db = openDavDb(config.dataDir, { clock: io.clock });
      try {
        return await fn(new DavTransfer(new DavStore(db, io.clock)), u.address);
      } catch (e) {
        if (e instanceof ContentError) throw new CliError(e.message);
        throw e;
      } finally {
        db.close();
      }
    });
  cmd
    .command("export")
    .description(`every ${kind === "addressbook" ? "address book" : "calendar"} of the user as one .${ext} file`)
    .argument("<user>", "the user's address")
    .requiredOption("--out <file>", `the .${ext} file to write`)
    .action(async function (this: Command, user: string) {
      const { out } = this.opts() as { out: string };
      await withTransfer(this, user, async (t, owner) => {
        const text = await t.exportAll(owner, kind);
        await writeFile(out, text, { mode: 0o600 });
        const n = (text.match(kind === "addressbook" ? /^BEGIN:VCARD\r?$/gim : /^BEGIN:VCALENDAR\r?$/gim) ?? []).length;
        print(io, `Wrote ${n} ${kind === "addressbook" ? "contacts" : "calendar objects"} to ${out}.`);
      });
    });
  cmd
    .command("import")
    .description(kind === "addressbook" ? "import a .vcf, or a Google Contacts or Outlook .csv export; or --from a CardDAV collection" : "import an .ics; or --from a CalDAV collection")
    .argument("<user>", "the user's address")
    .argument("[file]", kind === "addressbook" ? "FILE.vcf or FILE.csv" : "FILE.ics")
    .option("--from <url>", "copy from this CardDAV/CalDAV collection URL (https)")
    .option("--username <name>", "basic auth user for --from (the password is read from stdin)")
    .option("--bearer-stdin", "read a bearer token for --from from stdin")
    .option("--collection <name>", "the target collection", "default")
    .action(async function (this: Command, user: string, file: string | undefined) {
      const o = this.opts() as { from?: string; username?: string; bearerStdin?: boolean; collection: string };
      if ((file === undefined) === (o.from === undefined)) throw new CliError("give a file or --from URL (one of them)");
      let objects: string[];
      if (o.from) {
        const secret = o.username || o.bearerStdin ? (await obtainPassword(io, true)).password : undefined;
        try {
          objects = await fetchRemote(o.from, kind, o.bearerStdin ? { bearer: secret } : o.username ? { basic: { user: o.username, password: secret ?? "" } } : {});
        } catch (e) {
          throw new CliError(`--from: ${(e as Error).message}`);
        }
      } else {
        objects = DavTransfer.objectsOf(kind, file!, await readFile(file!, "utf8"));
      }
      await withTransfer(this, user, async (t, owner) => {
        const r = await t.importObjects(owner, kind, objects, o.collection);
        for (const x of r.refused) io.stderr.write(`object ${x.index + 1} refused: ${x.reason}\n`);
        print(io, `Imported ${r.imported} of ${objects.length}.`);
        if (r.refused.length && r.imported === 0) throw new CliError("nothing imported");
      });
    });
}

export function registerContacts(program: Command, io: CliIo): void {
  register(program, io, "contacts", "addressbook", "vcf");
  const contacts = program.commands.find((c) => c.name() === "contacts")!;
  contacts
    .command("collect")
    .description('whether recipients of mail the user sends are added to their "Collected" address book (default on)')
    .argument("<user>", "the user's address")
    .argument("[state]", "on or off; without it, print the current state")
    .action(async function (this: Command, user: string, state: string | undefined) {
      if (state !== undefined && state !== "on" && state !== "off") throw new CliError("state: on or off");
      await withDataDir(this, io, async ({ config, store }) => {
        const u = await store.accounts.getUserByAddress(user.toLowerCase());
        if (!u) throw new CliError(`no such user: ${user}`);
        const db = openDavDb(config.dataDir, { clock: io.clock });
        try {
          const s = new DavStore(db, io.clock);
          if (state !== undefined) await s.setCollectAddresses(u.address, state === "on");
          print(io, `Collecting addresses for ${u.address}: ${(await s.collectAddresses(u.address)) ? "on" : "off"}.`);
        } finally {
          db.close();
        }
      });
    });
  register(program, io, "calendar", "calendar", "ics");
}
