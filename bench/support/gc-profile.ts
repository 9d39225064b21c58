// Preloaded into `freehold serve` for profiling (BENCH_FREEHOLD_NODE_ARGS="--import
// ./bench/support/gc-profile.ts", with BENCH_GC_FILE=path): records every garbage collection
// (v8.GCProfiler) and at exit appends one JSON line to the file: collections by kind, their
// total pause, and the bytes allocated (heap used before each GC minus after the previous one),
// so allocation per message = allocated ÷ messages (issue 14; not a part of the server).
import v8 from "node:v8";
import { appendFileSync } from "node:fs";

const file = process.env.BENCH_GC_FILE;
if (file) {
  const profiler = new v8.GCProfiler();
  profiler.start();
  const startUsed = v8.getHeapStatistics().used_heap_size;
  process.on("exit", () => {
    const r = profiler.stop();
    const byType: Record<string, { count: number; ms: number }> = {};
    let allocated = 0;
    let prevAfter = startUsed;
    for (const s of r?.statistics ?? []) {
      const t = (byType[s.gcType] ??= { count: 0, ms: 0 });
      t.count++;
      t.ms += s.cost / 1000; // µs
      const before = s.beforeGC.heapStatistics.usedHeapSize;
      allocated += Math.max(0, before - prevAfter);
      prevAfter = s.afterGC.heapStatistics.usedHeapSize;
    }
    allocated += Math.max(0, v8.getHeapStatistics().used_heap_size - prevAfter);
    const mem = process.memoryUsage();
    appendFileSync(file, JSON.stringify({ byType, allocatedBytes: allocated, rss: mem.rss, heapTotal: mem.heapTotal, external: mem.external, arrayBuffers: mem.arrayBuffers }) + "\n");
  });
}
