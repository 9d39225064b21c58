// The last line: process-wide handlers for an exception no callback caught and a rejection no
// one awaited. Every error path is meant to be handled where it happens (docs/operations.md,
// "When DNS or the network fails"), so these should never run; when they do, the process state
// is unknown and the only safe thing is to stop: log the error at fatal with the component and
// connection id it came from (log/context.ts), stop the listeners, close the database and the
// data lock in order, flush the log, and exit non-zero so the supervisor (systemd) restarts us.
// Nothing acknowledged is lost by this: a 250 after DATA is only sent after fsync (store), and a
// session cut off before its 250 is retried by its client.
import type { Logger } from "../log/logger.ts";
import { currentContext } from "../log/context.ts";

/** EX_SOFTWARE (sysexits.h): an internal software error. */
export const FATAL_EXIT_CODE = 70;

export interface LastResortOptions {
  logger: Logger;
  /** Closes listeners, then storage and the data lock (RunningServer.stop). */
  shutdown: () => Promise<void>;
  /** Longest the shutdown may take before the process exits anyway. Default 10 s. */
  shutdownTimeoutMs?: number;
  /** Default process.exit (tests inject their own). */
  exit?: (code: number) => void;
}

/** Installs the handlers; returns a function that removes them (a graceful stop calls it). */
export function installLastResort(o: LastResortOptions): () => void {
  const exit = o.exit ?? ((code: number) => process.exit(code));
  let ending = false;

  const fatal = (err: unknown, origin: "uncaughtException" | "unhandledRejection"): void => {
    const ctx = currentContext();
    o.logger.fatal({ err, origin, component: ctx?.component ?? "unknown", cid: ctx?.cid }, "fatal: unhandled error, shutting down");
    if (ending) return; // a second fault while stopping: logged, the stop already under way goes on
    ending = true;
    const timer = setTimeout(() => {
      o.logger.fatal({ timeoutMs: o.shutdownTimeoutMs ?? 10_000 }, "shutdown after fatal error timed out; exiting");
      finish();
    }, o.shutdownTimeoutMs ?? 10_000);
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      void flushLog(o.logger).then(() => exit(FATAL_EXIT_CODE));
    };
    o.shutdown().then(
      () => {
        o.logger.info("shutdown after fatal error complete");
        finish();
      },
      (e: unknown) => {
        o.logger.error({ err: e }, "shutdown after fatal error failed");
        finish();
      },
    );
  };

  const onException = (err: Error): void => fatal(err, "uncaughtException");
  const onRejection = (reason: unknown): void => fatal(reason, "unhandledRejection");
  process.on("uncaughtException", onException);
  process.on("unhandledRejection", onRejection);
  return () => {
    process.off("uncaughtException", onException);
    process.off("unhandledRejection", onRejection);
  };
}

/**
 * Writes out what the logger buffers (pino.destination with sync: false gathers lines): waits
 * for the pending writes, at most `ms`, so the fatal line itself reaches the journal.
 */
function flushLog(logger: Logger, ms = 2000): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    try {
      logger.flush((err?: Error) => {
        clearTimeout(t);
        // EINVAL: fsync(2) on a pipe or the journal's socket, where there is nothing to sync.
        if (err && (err as NodeJS.ErrnoException).code !== "EINVAL") process.stderr.write(`log flush failed: ${err.message}\n`);
        resolve();
      });
    } catch {
      // The log cannot be written (a closed pipe): exit regardless.
      clearTimeout(t);
      resolve();
    }
  });
}
