// Progress for long CLI commands: a bar redrawn in place on a terminal, plain lines otherwise
// (a log file or a pipe gets one line per step and per ~10%, never carriage returns).
import type { Writable } from "node:stream";

export interface ProgressReporter {
  /** done/total of a phase; unit "bytes" prints MiB. */
  update(phase: string, done: number, total: number, unit?: "files" | "bytes"): void;
  /** Ends the current bar (a newline on a terminal). */
  end(): void;
}

const fmt = (n: number, unit: "files" | "bytes") => (unit === "bytes" ? `${(n / 1048576).toFixed(1)} MiB` : String(n));

export function progressReporter(out: Writable & { isTTY?: boolean; columns?: number }, now: () => number = Date.now): ProgressReporter {
  const tty = out.isTTY === true;
  let phase = "";
  let lastDraw = 0;
  let lastTenth = -1;
  let open = false;
  return {
    update(p, done, total, unit = "files") {
      const frac = total > 0 ? Math.min(1, done / total) : 0;
      const pct = Math.floor(frac * 100);
      if (p !== phase) {
        if (open && tty) out.write("\n");
        phase = p;
        lastTenth = -1;
        lastDraw = 0;
      }
      if (tty) {
        const t = now();
        // At most ~10 redraws a second, and always the last one.
        if (t - lastDraw < 100 && done < total) return;
        lastDraw = t;
        const width = Math.max(10, Math.min(40, (out.columns ?? 80) - 50));
        const filled = Math.round(frac * width);
        out.write(`\r${p.padEnd(8)} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${String(pct).padStart(3)}% ${fmt(done, unit)}/${fmt(total, unit)}\x1b[K`);
        open = true;
      } else {
        const tenth = Math.floor(pct / 10);
        if (tenth === lastTenth) return;
        lastTenth = tenth;
        out.write(`${p}: ${pct}% (${fmt(done, unit)} of ${fmt(total, unit)})\n`);
      }
    },
    end() {
      if (open && tty) out.write("\n");
      open = false;
      phase = "";
    },
  };
}
