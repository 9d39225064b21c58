// CPU time used by a server's process tree, for a per-message cost that does not depend on how
// busy the machine was (the rates do: with other work on the 2 cores, a server made of many
// processes, like Postfix, gets more of the CPU than a single-process one).
import fs from "node:fs/promises";
import { processTree } from "../../test/support/peer-util.ts";

const TICK_MS = 10; // USER_HZ is 100 on Linux

/**
 * CPU ms used so far by `root` and its descendants: each live process's user+system time plus
 * what it collected from children it has reaped (cutime/cstime: Postfix's short-lived smtpd,
 * cleanup ...). A process that exits between two readings is counted once, in its parent's
 * cutime. Threads are part of their process's figures.
 */
export async function treeCpuMs(root: number): Promise<number> {
  let ticks = 0;
  for (const pid of processTree(root)) {
    const text = await fs.readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    // Fields after "(comm) ": state is [0], utime [11], stime [12], cutime [13], cstime [14].
    const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
    if (f.length > 14) ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  }
  return ticks * TICK_MS;
}

/**
 * CPU ms so far of one process, split into its main thread (the event loop: task id = pid) and
 * all its other threads (libuv's pool, V8's GC and compiler threads): how much of the work a
 * single event loop carries (issue 14). Threads that have exited are not counted.
 */
export async function threadCpuMs(pid: number): Promise<{ main: number; other: number; mainRunqueueMs: number }> {
  const tasks = await fs.readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  let main = 0;
  let other = 0;
  // /proc/PID/schedstat: ns on the CPU, ns runnable but waiting for a CPU, timeslices. The wait
  // is the time the event loop had work but another process had the core (a loaded machine).
  const sched = await fs.readFile(`/proc/${pid}/task/${pid}/schedstat`, "utf8").catch(() => "");
  const mainRunqueueMs = Number(sched.split(" ")[1] ?? 0) / 1e6 || 0;
  for (const tid of tasks) {
    const text = await fs.readFile(`/proc/${pid}/task/${tid}/stat`, "utf8").catch(() => "");
    const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
    if (f.length <= 12) continue;
    const ms = (Number(f[11]) + Number(f[12])) * TICK_MS;
    if (Number(tid) === pid) main += ms;
    else other += ms;
  }
  return { main, other, mainRunqueueMs };
}
