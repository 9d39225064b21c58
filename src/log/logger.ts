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
}

export function createLogger(settings: LoggerSettings = {}): Logger {
  const opts: LoggerOptions = {
    level: settings.level ?? "info",
    base: undefined,
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
  };
  const dest = settings.destination ?? 1;
  return pino(opts, typeof dest === "number" ? pino.destination({ fd: dest, sync: false }) : dest);
}

/** A logger that drops everything: for tests that do not inspect logs. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
