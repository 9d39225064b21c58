// Which component and connection the running code belongs to, carried across callbacks, timers
// and promise continuations by AsyncLocalStorage. Only the last-resort handlers read it
// (server/last-resort.ts): an exception that escaped every handler carries no context of its
// own, and the fatal log line should still say which session it came from. The store is set
// once per connection (or queue pass) with `withContext`; nothing in it is mutable.
import { AsyncLocalStorage } from "node:async_hooks";

export interface LogContext {
  /** "smtp:mx", "smtp:submission", "imap", "queue" ... */
  readonly component: string;
  /** The connection id every log line of that session carries (`cid`). */
  readonly cid?: string;
}

const storage = new AsyncLocalStorage<LogContext>();

/** Runs `fn` (and everything it schedules) as part of `ctx`. */
export function withContext<T>(ctx: LogContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

/** The context of the code running now, if any. */
export function currentContext(): LogContext | undefined {
  return storage.getStore();
}
