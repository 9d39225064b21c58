// Byte sizes on the command line: "500M", "2G", "1.5GiB", "1048576", "unlimited" (0).
// Units are binary (K = 1024), as mail quotas conventionally are (Dovecot, Postfix).
import { CliError, EXIT_USAGE } from "./context.ts";

const UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

export function parseSize(input: string): number {
  const s = input.trim().toLowerCase();
  if (s === "unlimited" || s === "none") return 0;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/.exec(s) ?? /^(\d+)(b)$/.exec(s);
  if (!m) throw new CliError(`"${input}" is not a size (examples: 500M, 2G, 1048576, unlimited)`, EXIT_USAGE);
  const n = Math.round(Number(m[1]) * UNITS[m[2]]);
  if (!Number.isSafeInteger(n)) throw new CliError(`"${input}" is too large`, EXIT_USAGE);
  return n;
}

export function formatSize(bytes: number): string {
  if (bytes === 0) return "0 B";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0).replace(/\.0$/, "")} ${units[i]}`;
}
