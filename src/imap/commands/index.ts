// The command table: every command name the parser knows, with its handler (one file each).
import type { CommandName } from "../protocol/commands.ts";
import type { AnyCommandEntry, CommandEntry } from "./types.ts";
import { capability } from "./capability.ts";
import { check, noop } from "./noop.ts";
import { logout } from "./logout.ts";
import { starttls } from "./starttls.ts";
import { login } from "./login.ts";
import { authenticate } from "./authenticate.ts";
import { enable } from "./enable.ts";
import { id } from "./id.ts";
import { namespace } from "./namespace.ts";
import { list, lsub } from "./list.ts";
import { status } from "./status.ts";
import { select } from "./select.ts";
import { create } from "./create.ts";
import { del } from "./delete.ts";
import { rename } from "./rename.ts";
import { subscribe, unsubscribe } from "./subscribe.ts";
import { append } from "./append.ts";
import { idle } from "./idle.ts";
import { close, unselect } from "./close.ts";
import { expunge } from "./expunge.ts";
import { search } from "./search.ts";
import { fetch } from "./fetch.ts";
import { store } from "./store.ts";
import { copy } from "./copy.ts";
import { getquota, getquotaroot, setquota } from "./quota.ts";
import { compress } from "./compress.ts";

const TABLE: { [N in CommandName]: CommandEntry<N> | CommandEntry<"SELECT" | "EXAMINE"> | CommandEntry<"COPY" | "MOVE"> } = {
  CAPABILITY: capability,
  NOOP: noop,
  LOGOUT: logout,
  STARTTLS: starttls,
  LOGIN: login,
  AUTHENTICATE: authenticate,
  ENABLE: enable,
  ID: id,
  NAMESPACE: namespace,
  LIST: list,
  LSUB: lsub,
  STATUS: status,
  SELECT: select,
  EXAMINE: select,
  CREATE: create,
  DELETE: del,
  RENAME: rename,
  SUBSCRIBE: subscribe,
  UNSUBSCRIBE: unsubscribe,
  APPEND: append,
  IDLE: idle,
  CHECK: check,
  CLOSE: close,
  UNSELECT: unselect,
  EXPUNGE: expunge,
  SEARCH: search,
  FETCH: fetch,
  STORE: store,
  COPY: copy,
  MOVE: copy,
  GETQUOTA: getquota,
  GETQUOTAROOT: getquotaroot,
  SETQUOTA: setquota,
  COMPRESS: compress,
};

/** Handlers by command name; the session checks `states` before calling `run`. */
export const COMMANDS = TABLE as unknown as Record<CommandName, AnyCommandEntry>;
