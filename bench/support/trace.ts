// Counting fsyncs and reading memory figures of server processes.
//
// fsyncs: each server runs under `strace -f --seccomp-bpf -e trace=fsync,fdatasync`. With
// seccomp-bpf only the traced calls (and process creation) stop the tracee, so the overhead is
// one ptrace stop per fsync — small next to the fsync itself. Counted from strace's output file
// after the server stopped (strace flushes on exit). Set BENCH_STRACE=0 to run untraced.
import fs from "node:fs/promises";
import { existsSync } from "node:fs";
import { processTree } from "../../test/support/peer-util.ts";

const STRACE = "/usr/bin/strace";

export const SYNC_CALLS = ["fsync", "fdatasync", "sync_file_range", "syncfs", "msync"];

export function straceAvailable(): boolean {
  return existsSync(STRACE);
}

/** Command prefix that runs a server under strace, writing one line per sync call to `outFile`. */
export function straceWrap(outFile: string): string[] {
  return [STRACE, "-f", "--seccomp-bpf", "-qq", "-e", `trace=${SYNC_CALLS.join(",")}`, "-o", outFile, "--"];
}

/** Sync calls recorded in an strace output file, by name. Unfinished calls appear once as
 * "fsync(5 <unfinished ...>" and once as "<... fsync resumed>": only the first is counted. */
export async function countSyncCalls(outFile: string): Promise<Record<string, number>> {
  const text = await fs.readFile(outFile, "utf8").catch(() => "");
  const counts: Record<string, number> = {};
  const re = new RegExp(`\\b(${SYNC_CALLS.join("|")})\\(`, "g");
  for (const m of text.matchAll(re)) counts[m[1]] = (counts[m[1]] ?? 0) + 1;
  return counts;
}

export function totalSyncs(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

async function statusField(pid: number, field: string): Promise<number | null> {
  const text = await fs.readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
  return m ? Number(m[1]) * 1024 : null;
}

/** Peak resident set size of one process (VmHWM), in bytes. */
export function peakRss(pid: number): Promise<number | null> {
  return statusField(pid, "VmHWM");
}

/** VmHWM summed over a process and its descendants (a store owner and its protocol processes,
 * issue 14), in bytes: an upper bound of the tree's peak, since the peaks need not coincide. */
export async function treePeakRss(pid: number): Promise<number | null> {
  let sum = 0;
  for (const p of processTree(pid)) sum += (await statusField(p, "VmHWM")) ?? 0;
  return sum || null;
}

/** Current RSS summed over a process and its descendants, in bytes. */
export async function treeRss(pid: number): Promise<number> {
  let sum = 0;
  for (const p of processTree(pid)) sum += (await statusField(p, "VmRSS")) ?? 0;
  return sum;
}

/** Proportional set size summed over a process tree (/proc/PID/smaps_rollup), in bytes: shared
 * pages are split among the processes sharing them, so forked servers are not over-counted. */
export async function treePss(pid: number): Promise<number> {
  let sum = 0;
  for (const p of processTree(pid)) {
    const text = await fs.readFile(`/proc/${p}/smaps_rollup`, "utf8").catch(() => "");
    const m = /^Pss:\s+(\d+) kB/m.exec(text);
    if (m) sum += Number(m[1]) * 1024;
  }
  return sum;
}
