// The shape of a command handler: the states it is allowed in and what it does. The session
// checks the state, runs the handler, sends pending updates and the tagged response.
import type { Command, CommandName } from "../protocol/commands.ts";
import type { ResponseCode } from "../protocol/response.ts";
import type { Session, StateKind } from "../session.ts";

export type CommandResult = { text: string; code?: ResponseCode | null } | void;

export interface CommandEntry<N extends CommandName = CommandName> {
  states: readonly StateKind[];
  run(s: Session, cmd: Extract<Command, { name: N }>): Promise<CommandResult>;
}

/** The table's view of an entry: it only ever passes the command the entry was listed for. */
export interface AnyCommandEntry {
  states: readonly StateKind[];
  run(s: Session, cmd: Command): Promise<CommandResult>;
}

export const ANY: readonly StateKind[] = ["not-authenticated", "authenticated", "selected"];
export const NOT_AUTH: readonly StateKind[] = ["not-authenticated"];
export const AUTH: readonly StateKind[] = ["authenticated", "selected"];
export const SELECTED: readonly StateKind[] = ["selected"];
