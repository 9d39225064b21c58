// The command table. A listener's table is these plus its extensions' commands (AUTH for
// submission), filtered by role.
import type { CommandSpec } from "./command.ts";
import type { ListenerRole, SmtpExtension } from "../types.ts";
import { ehlo, helo, lhlo } from "./ehlo.ts";
import { mail } from "./mail.ts";
import { rcpt } from "./rcpt.ts";
import { data } from "./data.ts";
import { bdat } from "./bdat.ts";
import { rset } from "./rset.ts";
import { noop } from "./noop.ts";
import { quit } from "./quit.ts";
import { vrfy } from "./vrfy.ts";
import { help } from "./help.ts";
import { starttls } from "./starttls.ts";

export const CORE_COMMANDS: readonly CommandSpec[] = [ehlo, helo, lhlo, mail, rcpt, data, bdat, rset, noop, quit, vrfy, help, starttls];

export function commandTable(role: ListenerRole, extensions: readonly SmtpExtension[]): ReadonlyMap<string, CommandSpec> {
  const table = new Map<string, CommandSpec>();
  for (const spec of [...CORE_COMMANDS, ...extensions.flatMap((e) => e.commands ?? [])]) {
    if (spec.roles && !spec.roles.includes(role)) continue;
    if (table.has(spec.verb)) throw new Error(`command ${spec.verb} defined twice`);
    table.set(spec.verb, spec);
  }
  return table;
}
