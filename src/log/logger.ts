// Structured logs (pino). Every protocol line carries a connection id (`cid`); secrets and
// message bodies are redacted by the paths below unless a trace level asks otherwise.
import { pino } from "pino";
import type { Logger as PinoLogger, LoggerOptions } from "pino";

export type Logger = PinoLogger;

/** Log keys that never reach the output in clear. */
export const REDACT_PATHS = [
  "password",
  "*.password",
  "secret",
  "*.secret",
  "auth.response",
  "authResponse",
  "body",
  "*.body",
  "credentials",
  "*.credentials",
];

export interface LoggerSettings {
  level?: string;
  /** Where to write; defaults to stdout. */
  destination?: NodeJS.WritableStream | number;
  /**
   * For a file descriptor destination: lines are gathered until this many octets wait, or for
   * at most `flushMs`, then written in one write(2). Default 4096; 0 writes each line at once.
   */
  bufferBytes?: number;
  /** Longest a buffered line waits, ms. Default 100. */
  flushMs?: number;
}

export function createLogger(settings: LoggerSettings = {}): Logger {
  const opts: LoggerOptions = {
    level: settings.level ?? "info",
    base: undefined,
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
  };
  const dest = settings.destination ?? 1;
  if (typeof dest !== "number") return pino(opts, dest);
  // Each asynchronous write is a hand-off to libuv's thread pool, and a busy server logs a few
  // lines per message: gathering them makes that one hand-off per ~4 KiB instead of one per
  // line (measured in docs/benchmarks.md, smtp-in log). pino flushes the buffer synchronously
  // on exit, also after an uncaught exception; only SIGKILL can lose its last `flushMs`.
  const bufferBytes = settings.bufferBytes ?? 4096;
  const stream = pino.destination({
    fd: dest,
    sync: false,
    minLength: bufferBytes,
    ...(bufferBytes > 0 ? { periodicFlush: settings.flushMs ?? 100 } : {}),
  });
  // pino stops logging quietly on EPIPE (the reader went away) and re-emits every other write
  // error (EIO, ENOSPC on a file): without a listener that 'error' would end the process. A mail
  // server that cannot log keeps serving; it says so on stderr, at most once a minute.
  let lastReported = 0;
  stream.on("error", (err: NodeJS.ErrnoException) => {
    const now = Date.now();
    if (now - lastReported < 60_000) return;
    lastReported = now;
    try {
      process.stderr.write(`freehold: log write failed (${err.code ?? err.message}); lines are being lost\n`);
    } catch {
      // stderr is gone too
    }
  });
  return pino(opts, stream);
}

/** A logger that drops everything: for tests that do not inspect logs. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
