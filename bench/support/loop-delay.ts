// Preloaded into `freehold serve` for profiling (BENCH_FREEHOLD_NODE_ARGS="--import
// ./bench/support/loop-delay.ts", with BENCH_LOOP_DELAY_FILE=path): samples the event loop's
// delay and appends its percentiles to the file every 5 s and at exit, so a run under load shows
// how long commands waited for the loop (not a part of the server).
import { monitorEventLoopDelay } from "node:perf_hooks";
import { appendFileSync } from "node:fs";

const file = process.env.BENCH_LOOP_DELAY_FILE;
if (file) {
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  const dump = (why: string) => {
    const ms = (ns: number) => (ns / 1e6).toFixed(1);
    appendFileSync(
      file,
      `${new Date().toISOString()} ${why} loop delay ms: p50 ${ms(h.percentile(50))} p90 ${ms(h.percentile(90))} p99 ${ms(h.percentile(99))} max ${ms(h.max)} (n ${h.count})\n`,
    );
    h.reset();
  };
  setInterval(() => dump("5s"), 5000).unref();
  process.on("exit", () => dump("exit"));
}
