// `freehold user add|list|passwd|disable|enable|quota|remove|app-password`.
import type { Command } from "commander";
import { SYSTEM } from "../accounts/authz.ts";
import type { Role } from "../store/types.ts";
import type { CliIo } from "./context.ts";
import { CliError, EXIT_USAGE, obtainPassword, print, printGeneratedPassword, withDataDir } from "./context.ts";
import { formatSize, parseSize } from "./size.ts";
import { table } from "./table.ts";

const ROLES: Role[] = ["user", "domain-admin", "admin"];

function parseRole(r: string): Role {
  if (!(ROLES as string[]).includes(r)) throw new CliError(`--role: expected one of ${ROLES.join(", ")}, got "${r}"`, EXIT_USAGE);
  return r as Role;
}

/** "default" → null (the server default), else bytes (0 = unlimited). */
function parseQuota(q: string): number | null {
  return q.trim().toLowerCase() === "default" ? null : parseSize(q);
}

export function registerUser(program: Command, io: CliIo): void {
  const user = program.command("user").description("mail accounts");

  user
    .command("add")
    .description("create a user with INBOX, Sent, Drafts, Trash, Junk and Archive")
    .argument("<address>", "e.g. ann@example.com (the domain must exist)")
    .option("--password-stdin", "read the password from standard input (default: piped input, else generated)")
    .option("--quota <size>", "mailbox quota: 500M, 2G, unlimited, or default (the server's quota.defaultBytes)")
    .option("--name <display name>", "display name")
    .option("--role <role>", `one of ${ROLES.join(", ")}`, "user")
    .action(async function (this: Command, address: string) {
      const o = this.opts() as { passwordStdin?: boolean; quota?: string; name?: string; role: string };
      const role = parseRole(o.role);
      const quotaBytes = o.quota === undefined ? null : parseQuota(o.quota);
      await withDataDir(this, io, async ({ accounts }) => {
        const { password, generated } = await obtainPassword(io, o.passwordStdin);
        const u = await accounts.addUser(SYSTEM, { address, password, displayName: o.name, role, quotaBytes });
        const q = accounts.quotaOf(u);
        print(io, `Added user ${u.address}${role === "user" ? "" : ` (${role})`}, quota ${q === 0 ? "unlimited" : formatSize(q)}`);
        if (generated) printGeneratedPassword(io, u.address, password);
      });
    });

  user
    .command("list")
    .description("list users with quota and usage")
    .argument("[domain]", "only this domain")
    .option("--json", "print JSON")
    .action(async function (this: Command, domain: string | undefined) {
      const { json } = this.opts() as { json?: boolean };
      await withDataDir(this, io, async ({ accounts }) => {
        const users = await accounts.listUsers(SYSTEM, domain);
        if (json) return print(io, JSON.stringify(users, null, 2));
        if (users.length === 0) return print(io, "No users.");
        print(
          io,
          table(
            ["ADDRESS", "ROLE", "STATE", "USED", "QUOTA", "NAME"],
            users.map((u) => [
              u.address,
              u.role,
              u.disabled ? "disabled" : "active",
              formatSize(u.usedBytes),
              (u.quotaBytes === 0 ? "unlimited" : formatSize(u.quotaBytes)) + (u.quotaIsDefault ? " (default)" : ""),
              u.displayName,
            ]),
          ),
        );
      });
    });

  user
    .command("passwd")
    .description("set a new password (from standard input, or generated and printed once)")
    .argument("<address>", "the user")
    .option("--password-stdin", "read the password from standard input")
    .action(async function (this: Command, address: string) {
      const o = this.opts() as { passwordStdin?: boolean };
      await withDataDir(this, io, async ({ accounts }) => {
        const u = await accounts.getUser(SYSTEM, address); // fail before reading stdin
        const { password, generated } = await obtainPassword(io, o.passwordStdin);
        await accounts.setPassword(SYSTEM, u.address, password);
        print(io, `Password changed for ${u.address}`);
        if (generated) printGeneratedPassword(io, u.address, password);
      });
    });

  // App passwords (issue 9 §4): for IMAP and SMTP AUTH only, never the web login.
  const app = user.command("app-password").description("app passwords for mail clients (IMAP, SMTP; never the web login)");
  app
    .command("add")
    .description("create an app password; it is printed once and stored only hashed")
    .argument("<address>", "the user")
    .argument("<name>", 'what it is for, e.g. "Phone"')
    .action(async function (this: Command, address: string, name: string) {
      await withDataDir(this, io, async ({ accounts }) => {
        const { appPassword, secret } = await accounts.addAppPassword(SYSTEM, address, name);
        const u = await accounts.getUser(SYSTEM, address);
        print(io, `App password "${appPassword.name}" (id ${appPassword.id}) for ${u.address} (shown only now; IMAP and SMTP only): ${secret}`);
      });
    });
  app
    .command("list")
    .description("list a user's app passwords with when each was created and last used")
    .argument("<address>", "the user")
    .option("--json", "print JSON")
    .action(async function (this: Command, address: string) {
      const { json } = this.opts() as { json?: boolean };
      await withDataDir(this, io, async ({ accounts }) => {
        const list = await accounts.listAppPasswords(SYSTEM, address);
        if (json) return print(io, JSON.stringify(list, null, 2));
        if (list.length === 0) return print(io, "No app passwords.");
        const when = (t: number | null) => (t === null ? "never" : new Date(t).toISOString().replace(/\.\d+Z$/, "Z"));
        print(io, table(["ID", "NAME", "CREATED", "LAST USED"], list.map((a) => [String(a.id), a.name, when(a.createdAt), when(a.lastUsedAt)])));
      });
    });
  app
    .command("revoke")
    .description("revoke an app password (by id or name); it stops working at the next login")
    .argument("<address>", "the user")
    .argument("<id-or-name>", "as shown by list")
    .action(async function (this: Command, address: string, key: string) {
      await withDataDir(this, io, async ({ accounts }) => {
        const r = await accounts.revokeAppPassword(SYSTEM, address, key);
        print(io, `Revoked app password "${r.name}" (id ${r.id})`);
      });
    });

  for (const [name, disabled] of [["disable", true], ["enable", false]] as const) {
    user
      .command(name)
      .description(disabled ? "refuse logins and incoming mail (mail stays stored)" : "undo disable")
      .argument("<address>", "the user")
      .action(async function (this: Command, address: string) {
        await withDataDir(this, io, async ({ accounts }) => {
          const u = await accounts.getUser(SYSTEM, address);
          await accounts.setDisabled(SYSTEM, u.address, disabled);
          print(io, `${disabled ? "Disabled" : "Enabled"} ${u.address}`);
        });
      });
  }

  user
    .command("quota")
    .description("set a user's quota")
    .argument("<address>", "the user")
    .argument("<size>", "500M, 2G, unlimited, or default")
    .action(async function (this: Command, address: string, size: string) {
      const q = parseQuota(size);
      await withDataDir(this, io, async ({ accounts }) => {
        const u = await accounts.getUser(SYSTEM, address);
        await accounts.setQuota(SYSTEM, u.address, q);
        const eff = accounts.quotaOf({ quotaBytes: q });
        print(io, `Quota of ${u.address}: ${eff === 0 ? "unlimited" : formatSize(eff)}${q === null ? " (server default)" : ""}`);
      });
    });

  user
    .command("remove")
    .description("delete a user with all their mail")
    .argument("<address>", "the user")
    .option("--yes", "confirm: the user's mailboxes and messages are deleted")
    .action(async function (this: Command, address: string) {
      const { yes } = this.opts() as { yes?: boolean };
      await withDataDir(this, io, async ({ accounts, store }) => {
        const u = await accounts.getUser(SYSTEM, address);
        const usage = await store.mail.userUsage(u.id);
        if (!yes) {
          throw new CliError(`removing ${u.address} deletes ${usage.messages} message${usage.messages === 1 ? "" : "s"} (${formatSize(usage.bytes)}); add --yes to confirm`, EXIT_USAGE);
        }
        await accounts.removeUser(SYSTEM, u.address);
        print(io, `Removed user ${u.address} and ${usage.messages} message${usage.messages === 1 ? "" : "s"}`);
      });
    });
}
