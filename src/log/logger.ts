// Structured logs (pino). Every protocol line carries a connection id (`cid`); secrets and
// message bodies are redacted by the paths below unless a trace level asks otherwise.
import { pino } from "pino";
import type { Logger as PinoLogger, LoggerOptions } from "pino";
import { openLogFile } from "./logfile.ts";
import type { LogFileSettings } from "./logfile.ts";

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

export const CENSOR = "[redacted]";

// REDACT_PATHS by depth: a top-level key, a key one level down ("*.password"), and the one
// dotted path ("auth.response").
const TOP_KEYS = new Set(REDACT_PATHS.filter((p) => !p.includes(".")));
const CHILD_KEYS = new Set(REDACT_PATHS.filter((p) => p.startsWith("*.")).map((p) => p.slice(2)));
const NAMED_CHILD = new Map<string, string[]>();
for (const p of REDACT_PATHS) {
  const [head, tail, more] = p.split(".");
  if (head !== "*" && tail !== undefined && more === undefined) NAMED_CHILD.set(head, [...(NAMED_CHILD.get(head) ?? []), tail]);
}

function censorChild(v: object, parentKey: string): object | null {
  const named = NAMED_CHILD.get(parentKey);
  let hit = false;
  for (const k of Object.keys(v)) {
    if (CHILD_KEYS.has(k) || named?.includes(k)) {
      hit = true;
      break;
    }
  }
  if (!hit) return null;
  // An Error is serialized as pino would (message, stack, own fields), then censored.
  const copy: Record<string, unknown> = v instanceof Error ? { ...pino.stdSerializers.err(v) } : { ...(v as Record<string, unknown>) };
  for (const k of Object.keys(copy)) if (CHILD_KEYS.has(k) || named?.includes(k)) copy[k] = CENSOR;
  return copy;
}

/**
 * Replaces the values at REDACT_PATHS with CENSOR, copying only the objects on a censored path
 * (the caller's object is never changed); an object with nothing to censor is returned as is.
 */
export function redactSecrets(obj: Record<string, unknown>): Record<string, unknown> {
  if (obj === null || typeof obj !== "object") return obj; // pino's root has no bindings (base: undefined)
  let out: Record<string, unknown> | null = null;
  for (const k of Object.keys(obj)) {
    let replacement: unknown;
    if (TOP_KEYS.has(k)) replacement = CENSOR;
    else {
      const v = obj[k];
      if (v === null || typeof v !== "object" || Array.isArray(v)) continue;
      const c = censorChild(v, k);
      if (c === null) continue;
      replacement = c;
    }
    out ??= { ...obj };
    out[k] = replacement;
  }
  return out ?? obj;
}

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
  /**
   * Also write every line to this file (created 0600 with its folder), rotated by size and
   * pruned by age (logfile.ts). `freehold trace` reads it.
   */
  file?: LogFileSettings;
}

export function createLogger(settings: LoggerSettings = {}): Logger {
  const opts: LoggerOptions = {
    level: settings.level ?? "info",
    base: undefined,
    // Named paths stay with pino's `redact` (a stringifier per named key, also for child
    // bindings: cheap, it runs only where that key is logged). The "*.x" paths are ours
    // (redactSecrets): pino runs a wildcard one on every value of every line, re-parsing each
    // path and copying the object, ~22 KB of garbage per received message (three lines), the
    // second-largest allocator on the smtp-in path (docs/benchmarks.md, issue 14).
    redact: { paths: REDACT_PATHS.filter((p) => !p.startsWith("*.")), censor: CENSOR },
    formatters: { log: redactSecrets },
  };
  const dest = settings.destination ?? 1;
  if (settings.file) {
    const file = openLogFile(settings.file, { bufferBytes: settings.bufferBytes ?? 4096, flushMs: settings.flushMs ?? 100, onError: reportWriteError });
    const out = typeof dest === "number" ? fdStream(dest, settings) : dest;
    return pino(opts, pino.multistream([{ stream: out, level: opts.level as pino.Level }, { stream: file, level: opts.level as pino.Level }]));
  }
  if (typeof dest !== "number") return pino(opts, dest);
  return pino(opts, fdStream(dest, settings));
}

// pino stops logging quietly on EPIPE (the reader went away) and re-emits every other write
// error (EIO, ENOSPC on a file): without a listener that 'error' would end the process. A mail
// server that cannot log keeps serving; it says so on stderr, at most once a minute.
let lastReported = 0;
function reportWriteError(err: NodeJS.ErrnoException): void {
  const now = Date.now();
  if (now - lastReported < 60_000) return;
  lastReported = now;
  try {
    process.stderr.write(`freehold: log write failed (${err.code ?? err.message}); lines are being lost\n`);
  } catch {
    // stderr is gone too
  }
}

function fdStream(dest: number, settings: LoggerSettings) {
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
  stream.on("error", reportWriteError);
  return stream;
}

/** A logger that drops everything: for tests that do not inspect logs. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
