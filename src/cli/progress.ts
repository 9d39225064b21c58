// Progress for long CLI operations (export, import): a one-line bar redrawn in place on a
// terminal, plain lines at most every few seconds otherwise (logs, pipes). Written to stderr so
// stdout keeps the command's result.
import type { Writable } from "node:stream";
import { formatSize } from "./size.ts";

export interface ProgressState {
  label: string;
  done: number;
  total?: number;
  bytes: number;
  bytesTotal?: number;
  detail?: string;
}

export class Progress {
  #out: Writable & { isTTY?: boolean; columns?: number };
  #now: () => number;
  #start: number;
  #last = 0;
  #drawn = false;
  constructor(out: Writable, now: () => number = Date.now) {
    this.#out = out as Writable & { isTTY?: boolean; columns?: number };
    this.#now = now;
    this.#start = now();
  }

  update(s: ProgressState, force = false): void {
    const t = this.#now();
    const tty = this.#out.isTTY === true;
    if (!force && t - this.#last < (tty ? 100 : 5000)) return;
    this.#last = t;
    const secs = Math.max(0.001, (t - this.#start) / 1000);
    const rate = s.done / secs;
    let line = `${s.label} ${s.done}${s.total !== undefined ? `/${s.total}` : ""} messages, ${formatSize(s.bytes)}${s.bytesTotal !== undefined ? `/${formatSize(s.bytesTotal)}` : ""}, ${rate.toFixed(rate < 10 ? 1 : 0)} msg/s, ${formatSize(s.bytes / secs)}/s`;
    if (s.bytesTotal && s.bytes > 0 && s.bytes < s.bytesTotal) line += `, ETA ${Math.ceil(((s.bytesTotal - s.bytes) * secs) / s.bytes)}s`;
    else if (!s.bytesTotal && s.total && s.done > 0 && s.done < s.total) line += `, ETA ${Math.ceil(((s.total - s.done) * secs) / s.done)}s`;
    if (s.detail) line += ` — ${s.detail}`;
    if (tty) {
      const width = Math.max(10, Math.min(30, (this.#out.columns ?? 80) - line.length - 4));
      const frac = s.total ? Math.min(1, s.done / s.total) : 0;
      const bar = s.total ? `[${"#".repeat(Math.round(frac * width)).padEnd(width, ".")}] ` : "";
      this.#out.write(`\r\x1b[K${bar}${line}`.slice(0, (this.#out.columns ?? 200) + 5));
      this.#drawn = true;
    } else this.#out.write(line + "\n");
  }

  done(s: ProgressState): void {
    this.update(s, true);
    if (this.#drawn) this.#out.write("\n");
  }
}
