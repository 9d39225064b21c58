// The log file: every line `serve` logs, also in <dataDir>/logs/freehold.log (config log.file),
// so `freehold trace` can follow a message without journald. Rotated by size, as logrotate's
// `size` + `rotate N` would do: freehold.log → freehold.log.1 → … → freehold.log.<keepFiles>,
// the oldest dropped; rotated files older than keepDays are deleted. The size is looked at once
// a minute (and at start), not per line: a line costs nothing extra on the hot path.
//
// One process rotates (the one that opened the file with rotation on). Another process writing
// the same file (the CLI never does) keeps its descriptor, so its lines land in the renamed file
// until it reopens; `freehold trace` reads every rotated file, so nothing is lost to it.
import fs from "node:fs";
import path from "node:path";
import { pino } from "pino";

export interface LogFileSettings {
  /** Absolute path of the current file. */
  path: string;
  /** Rotate when the file is larger than this (bytes). */
  maxBytes: number;
  /** Rotated files kept (freehold.log.1 … .N). */
  keepFiles: number;
  /** Rotated files older than this many days are deleted. */
  keepDays: number;
  /** How often the size is checked, ms (default 60 s; tests use less). */
  checkMs?: number;
  /** False in a protocol process: it appends to the file, only the store owner rotates it. */
  rotate?: boolean;
}

export interface LogFileStream {
  write(line: string): boolean;
}

/** The rotated file names, newest first (freehold.log.1, .2, …) that exist. */
export function rotatedFiles(file: string): string[] {
  const dir = path.dirname(file);
  const base = path.basename(file);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .map((n) => ({ n, k: n.startsWith(base + ".") ? Number(n.slice(base.length + 1)) : NaN }))
    .filter((x) => Number.isInteger(x.k) && x.k > 0)
    .sort((a, b) => a.k - b.k)
    .map((x) => path.join(dir, x.n));
}

/** Renames file → file.1 → … keeping `keep`, and deletes rotated files older than keepDays. */
export function rotate(file: string, keep: number, keepDays: number, now = Date.now()): void {
  const old = rotatedFiles(file);
  for (let i = old.length - 1; i >= 0; i--) {
    const k = Number(old[i].slice(file.length + 1));
    if (k >= keep) fs.rmSync(old[i], { force: true });
    else fs.renameSync(old[i], `${file}.${k + 1}`);
  }
  if (keep > 0 && fs.existsSync(file)) fs.renameSync(file, `${file}.1`);
  else fs.rmSync(file, { force: true });
  prune(file, keepDays, now);
}

function prune(file: string, keepDays: number, now: number): void {
  for (const f of rotatedFiles(file)) {
    try {
      if (now - fs.statSync(f).mtimeMs > keepDays * 86_400_000) fs.rmSync(f, { force: true });
    } catch {
      // gone meanwhile
    }
  }
}

export function openLogFile(s: LogFileSettings, o: { bufferBytes: number; flushMs: number; onError: (e: NodeJS.ErrnoException) => void }) {
  fs.mkdirSync(path.dirname(s.path), { recursive: true, mode: 0o700 });
  // Addresses and client IPs are personal data: the file is the owner's only (secrets are
  // redacted before any line is written, logger.ts).
  fs.closeSync(fs.openSync(s.path, "a", 0o600));
  fs.chmodSync(s.path, 0o600);
  const stream = pino.destination({
    dest: s.path,
    sync: false,
    append: true,
    minLength: o.bufferBytes,
    ...(o.bufferBytes > 0 ? { periodicFlush: o.flushMs } : {}),
  });
  stream.on("error", o.onError);
  const check = () => {
    try {
      if (fs.statSync(s.path).size <= s.maxBytes) return;
      stream.flushSync?.();
      rotate(s.path, s.keepFiles, s.keepDays);
      fs.closeSync(fs.openSync(s.path, "a", 0o600));
      stream.reopen();
    } catch (e) {
      o.onError(e as NodeJS.ErrnoException);
    }
  };
  if (s.rotate === false) return stream;
  try {
    if (fs.statSync(s.path).size > s.maxBytes) {
      rotate(s.path, s.keepFiles, s.keepDays);
      fs.closeSync(fs.openSync(s.path, "a", 0o600));
      stream.reopen();
    } else prune(s.path, s.keepDays, Date.now());
  } catch (e) {
    o.onError(e as NodeJS.ErrnoException);
  }
  setInterval(check, s.checkMs ?? 60_000).unref();
  return stream;
}
