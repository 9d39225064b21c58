// Case smtp-in (issue 2): inbound SMTP, Freehold vs Postfix delivering into Dovecot over LMTP,
// same run, same load generator. 10 KiB messages from 10 parallel senders, once with a new
// connection per message and once with connections reused. Each side starts fresh for each
// mode, so the mailbox is empty at the start of every measurement.
//
// Reported per mode: acknowledged msg/s (messages / time to the last 250), end-to-end msg/s
// (messages / time until all are in the mailbox: Dovecot's Maildir new/+cur/, Freehold's
// messages table), ack latency p50/p99, sync calls (fsync, fdatasync ...) per message from a
// separate, shorter pass under strace, and Freehold's peak RSS (VmHWM).
import path from "node:path";
import { envBool, envInt, percentile, type BenchCase, type CaseContext, type CaseResult, type Row, type Section } from "../support/case.ts";
import { runLoad, type LoadResult } from "../support/smtp-load.ts";
import {
  BENCH_RCPT,
  BENCH_SENDER_DOMAIN,
  startFreeholdTarget,
  startPostfixTarget,
  Unavailable,
  type SmtpTarget,
} from "../support/smtp-targets.ts";
import { straceAvailable, totalSyncs, treePeakRss, treePss } from "../support/trace.ts";
import { waitUntil } from "../../test/support/peer-util.ts";
import { threadCpuMs, treeCpuMs } from "../support/smtp-cpu.ts";

interface SideResult {
  load: LoadResult;
  /** ms from the load's start until every acknowledged message was in the mailbox; null if not. */
  e2eMs: number | null;
  delivered: number;
  syncs: number | null;
  syncDetail: Record<string, Record<string, number>> | null;
  /** Messages the sync counts divide by (the traced pass may be shorter than the timed one). */
  syncDelivered: number;
  /** VmHWM summed over the server's processes (the owner and its protocol processes). */
  peakRssBytes: number | null;
  /** PSS summed over the server's processes when the load ended (shared pages split, issue 14). */
  pssBytes: number | null;
  dnsQueries: number | null;
  /** CPU ms of the server's process trees from the first connection until all were in the mailbox. */
  cpuMs: number | null;
  /** Freehold: CPU ms of the event loop's thread and of the process's other threads, same span. */
  threadMs: { main: number; other: number; mainRunqueueMs: number } | null;
  idleRssBytes: number | null;
}

const MODES = [
  { key: "new", title: "new connection per message", reuse: false },
  { key: "reuse", title: "connections reused", reuse: true },
] as const;

async function measure(
  ctx: CaseContext,
  target: SmtpTarget,
  p: { messages: number; connections: number; bytes: number; reuse: boolean; deadlineMs: number },
): Promise<SideResult> {
  const cpuOf = async () => (await Promise.all(target.cpuPids().filter((p) => p > 0).map((p) => treeCpuMs(p)))).reduce((a, b) => a + b, 0);
  const cpuBefore = await cpuOf();
  const rssPid = target.rssPid();
  const threadsBefore = rssPid ? await threadCpuMs(rssPid) : null;
  const load = await runLoad({
    host: target.host,
    port: target.port,
    messages: p.messages,
    connections: p.connections,
    reuse: p.reuse,
    messageBytes: p.bytes,
    from: `sender@${BENCH_SENDER_DOMAIN}`,
    helo: BENCH_SENDER_DOMAIN,
    rcpt: () => BENCH_RCPT,
    deadlineMs: p.deadlineMs,
  });
  ctx.log(`${target.name}: ${load.acked} acked, ${load.rejected} rejected, ${load.errors} errors in ${load.elapsedMs} ms`);
  if (load.errorSamples.length) ctx.log(`${target.name}: samples: ${load.errorSamples.join(" | ")}`);
  let delivered = 0;
  const ok = await waitUntil(
    async () => {
      delivered = await target.delivered();
      return delivered >= load.acked;
    },
    p.deadlineMs,
    25,
  );
  const e2eMs = ok ? Date.now() - load.startedAt : null;
  const cpuMs = (await cpuOf()) - cpuBefore;
  const threadsAfter = rssPid ? await threadCpuMs(rssPid) : null;
  const threadMs =
        threadsBefore && threadsAfter
      ? {
          main: threadsAfter.main - threadsBefore.main,
          other: threadsAfter.other - threadsBefore.other,
          mainRunqueueMs: threadsAfter.mainRunqueueMs - threadsBefore.mainRunqueueMs,
        }
      : null;
  ctx.log(`${target.name}: ${delivered} in the mailbox${ok ? ` after ${e2eMs} ms` : " (timed out)"}`);
  const pid = target.rssPid();
  const peakRssBytes = pid ? await treePeakRss(pid) : null;
  const pssBytes = pid ? await treePss(pid) : null;
  const dnsQueries = target.dnsQueries?.() ?? null;
  const stopped = await target.stop();
  const syncs = stopped.syncCalls ? Object.values(stopped.syncCalls).reduce((a, c) => a + totalSyncs(c), 0) : null;
  return {
    load,
    e2eMs,
    delivered,
    syncs,
    syncDetail: stopped.syncCalls,
    syncDelivered: delivered,
    peakRssBytes,
    pssBytes,
    dnsQueries,
    cpuMs,
    threadMs,
    idleRssBytes: target.idleRssBytes ?? null,
  };
}

function adoptSyncs(into: SideResult, traced: SideResult): void {
  into.syncs = traced.syncs;
  into.syncDetail = traced.syncDetail;
  into.syncDelivered = traced.delivered;
}

function rate(n: number, ms: number | null): number | null {
  return ms && ms > 0 ? (n * 1000) / ms : null;
}

function rows(f: SideResult | null, r: SideResult | null): Row[] {
  const ackRate = (s: SideResult | null) => (s ? rate(s.load.acked, s.load.lastAckMs) : null);
  const e2eRate = (s: SideResult | null) => (s ? rate(s.load.acked, s.e2eMs) : null);
  const pct = (s: SideResult | null, p: number) => (s && s.load.latenciesMs.length ? percentile(s.load.latenciesMs, p) : null);
  const perMsg = (s: SideResult | null) => (s && s.syncs !== null && s.syncDelivered > 0 ? s.syncs / s.syncDelivered : null);
  const cpu = (s: SideResult | null) => (s && s.cpuMs !== null && s.load.acked > 0 ? s.cpuMs / s.load.acked : null);
  const mib = (b: number | null | undefined) => (b ? b / 2 ** 20 : null);
  // Goals of issue 14: ≥ 3.5× Postfix acknowledged and into the mailbox; CPU per message halved
  // from ~1 ms; peak RSS ≤ 160 MiB; an idle `serve` ≤ 90 MiB.
  return [
    { metric: "acknowledged", unit: "msg/s", freehold: ackRate(f), reference: ackRate(r), better: "higher", goal: { ratio: 3.5 } },
    { metric: "end-to-end into mailbox", unit: "msg/s", freehold: e2eRate(f), reference: e2eRate(r), better: "higher", goal: { ratio: 3.5 } },
    { metric: "server CPU per message (process trees)", unit: "ms", freehold: cpu(f), reference: cpu(r), better: "lower", goal: { atMost: 0.5 } },
    { metric: "ack latency p50", unit: "ms", freehold: pct(f, 50), reference: pct(r, 50), better: "lower" },
    { metric: "ack latency p99", unit: "ms", freehold: pct(f, 99), reference: pct(r, 99), better: "lower" },
    { metric: "fsync-family calls per message", unit: "calls", freehold: perMsg(f), reference: perMsg(r), better: "lower" },
    {
      metric: "peak RSS (VmHWM, summed over the server's processes)",
      unit: "MiB",
      freehold: mib(f?.peakRssBytes),
      reference: null,
      better: "lower",
      goal: { atMost: 160 },
    },
    { metric: "PSS at the end of the load (summed over processes)", unit: "MiB", freehold: mib(f?.pssBytes), reference: null, better: "lower" },
    { metric: "RSS of the idle serve, before the load", unit: "MiB", freehold: mib(f?.idleRssBytes), reference: null, better: "lower", goal: { atMost: 90 } },
  ];
}

export const benchCase: BenchCase = {
  name: "smtp-in",
  description: "inbound SMTP: Freehold vs Postfix→Dovecot LMTP, 10 KiB messages, new vs reused connections",
  async run(ctx): Promise<CaseResult> {
    const messages = envInt(ctx.env, "BENCH_MESSAGES", 5000);
    const connections = envInt(ctx.env, "BENCH_CONNECTIONS", 10);
    const bytes = envInt(ctx.env, "BENCH_MESSAGE_BYTES", 10 * 1024);
    const deadlineMs = envInt(ctx.env, "BENCH_DEADLINE_S", 300) * 1000;
    const onlyModes = (ctx.env.BENCH_MODES ?? "new,reuse").split(",");
    // issue 14: server.processes values to measure, each beside Postfix in the same run.
    const processCounts = (ctx.env.BENCH_PROCESSES ?? "1,2").split(",").map(Number).filter((n) => n >= 1);
    const trace = envBool(ctx.env, "BENCH_STRACE", true) && straceAvailable();
    const fsyncMessages = Math.min(messages, envInt(ctx.env, "BENCH_FSYNC_MESSAGES", 1000));
    const notes: string[] = [];
    const sections: Section[] = [];
    const raw: Record<string, unknown> = {};
    let freeholdMissing: string | null = null;

    for (const mode of MODES.filter((m) => onlyModes.includes(m.key))) {
      const params = { messages, connections, bytes, reuse: mode.reuse, deadlineMs };
      ctx.log(`mode: ${mode.title}`);
      const dir = (side: string) => path.join(ctx.tmpDir, `${mode.key}-${side}`);

      // Timed pass untraced: ptrace stops cost Postfix up to a quarter of its rate here.
      const ref = await measure(ctx, await startPostfixTarget(dir("postfix"), false), params);
      const byProcs = new Map<number, SideResult>();
      for (const n of processCounts) {
        if (freeholdMissing !== null) break;
        const tag = n === 1 ? "freehold" : `freehold-p${n}`;
        try {
          byProcs.set(n, await measure(ctx, await startFreeholdTarget(ctx.root, dir(tag), false, { processes: n }), params));
        } catch (err) {
          if (!(err instanceof Unavailable)) throw err;
          freeholdMissing = err.message;
          ctx.log(`freehold: not available (${err.message})`);
        }
      }
      const fh: SideResult | null = byProcs.get(processCounts[0]) ?? null;
      // Counting pass under strace, fresh servers, fewer messages (the per-message count is stable).
      if (trace) {
        const traced = { ...params, messages: fsyncMessages };
        adoptSyncs(ref, await measure(ctx, await startPostfixTarget(dir("postfix-strace"), true), traced));
        for (const [n, side] of byProcs) {
          try {
            const tag = n === 1 ? "freehold-strace" : `freehold-p${n}-strace`;
            adoptSyncs(side, await measure(ctx, await startFreeholdTarget(ctx.root, dir(tag), true, { processes: n }), traced));
          } catch (err) {
            if (!(err instanceof Unavailable)) throw err;
            ctx.log(`freehold: traced pass not available (${err.message})`);
          }
        }
      }
      for (const [n, side] of byProcs) {
        sections.push({ title: n === 1 ? mode.title : `${mode.title}, server.processes = ${n}`, rows: rows(side, ref) });
        const one = byProcs.get(1);
        if (n !== 1 && one) {
          const r = (a: number | null, b: number | null) => (a !== null && b !== null && b > 0 ? `${(a / b).toFixed(2)}×` : "n/a");
          const ack = (s: SideResult) => rate(s.load.acked, s.load.lastAckMs);
          const e2e = (s: SideResult) => rate(s.load.acked, s.e2eMs);
          const cpu = (s: SideResult) => (s.cpuMs !== null && s.load.acked > 0 ? s.cpuMs / s.load.acked : null);
          const fs = (s: SideResult) => (s.syncs !== null && s.syncDelivered > 0 ? s.syncs / s.syncDelivered : null);
          notes.push(
            `freehold processes = ${n} vs 1 (${mode.title}, same run): acknowledged ${r(ack(side), ack(one))}, end-to-end ${r(e2e(side), e2e(one))}, ` +
              `CPU per message ${r(cpu(side), cpu(one))}, fsyncs per message ${fs(side)?.toFixed(2) ?? "n/a"} vs ${fs(one)?.toFixed(2) ?? "n/a"}, ` +
              `peak RSS (sum) ${r(side.peakRssBytes, one.peakRssBytes)}, PSS at the end ${r(side.pssBytes, one.pssBytes)}`,
          );
        }
      }
      raw[mode.key] = {
        postfix: summary(ref),
        freehold: fh ? summary(fh) : null,
        ...Object.fromEntries([...byProcs].filter(([n]) => n !== 1).map(([n, s]) => [`freehold_processes_${n}`, summary(s)])),
      };
      const perProcess = [fh, ref]
        .filter((s): s is SideResult => s !== null && s.syncDetail !== null && s.syncDelivered > 0)
        .flatMap((s) =>
          Object.entries(s.syncDetail!).map(
            ([proc, calls]) =>
              `${proc} ${Object.entries(calls)
                .map(([call, n]) => `${call} ${(n / s.syncDelivered).toFixed(2)}`)
                .join(", ") || "none"}`,
          ),
        );
      if (fh?.dnsQueries != null && fh.delivered > 0) {
        notes.push(`freehold (${mode.title}): ${(fh.dnsQueries / fh.delivered).toFixed(2)} DNS questions per message to the loopback DNS server`);
      }
      if (fh?.threadMs && fh.e2eMs && fh.load.acked > 0) {
        const t = fh.threadMs;
        notes.push(
          `freehold (${mode.title}): CPU per message ${(t.main / fh.load.acked).toFixed(2)} ms on the event loop's thread + ` +
            `${(t.other / fh.load.acked).toFixed(2)} ms on other threads (pool, GC, JIT); the event loop was busy ` +
            `${((100 * t.main) / fh.e2eMs).toFixed(0)}% of the measurement and waited for a CPU (runnable, another process on the core) ` +
            `${((100 * t.mainRunqueueMs) / fh.e2eMs).toFixed(0)}%; the rest it waited for I/O (fsync, the pool) or for clients`,
        );
      }
      if (perProcess.length) notes.push(`sync calls per message (${mode.title}): ${perProcess.join("; ")}`);
      for (const [side, s] of [["freehold", fh], ["postfix", ref]] as const) {
        if (s && (s.load.acked < messages || s.load.errors > 0 || s.e2eMs === null)) {
          notes.push(
            `${side} (${mode.title}): ${s.load.acked}/${messages} acknowledged, ${s.load.rejected} rejected, ${s.load.errors} errors` +
              `${s.e2eMs === null ? ", not all delivered before the deadline" : ""}` +
              `${s.load.errorSamples.length ? ` (${s.load.errorSamples.join(" | ")})` : ""}`,
          );
        }
      }
    }
    if (freeholdMissing !== null) notes.unshift(`freehold: not available (${freeholdMissing})`);
    notes.push(
      `${messages} messages of ${bytes} bytes over ${connections} parallel senders per mode; loopback; the same Node load generator for both.`,
    );
    notes.push(
      trace
        ? `fsync-family = fsync+fdatasync+sync_file_range+syncfs+msync, counted in a separate pass of ${fsyncMessages} messages ` +
            "under strace -f --seccomp-bpf over the server's whole life (start to stop); Postfix's figure includes Dovecot's LMTP delivery. Rates and latencies come from untraced servers."
        : "sync calls not counted (BENCH_STRACE=0 or strace missing).",
    );
    return {
      reference: "Postfix 3.7 → Dovecot 2.3 LMTP",
      sections,
      notes,
      params: { messages, connections, bytes, trace, fsyncMessages, modes: onlyModes, raw },
    };
  },
};

function summary(s: SideResult) {
  return {
    acked: s.load.acked,
    rejected: s.load.rejected,
    errors: s.load.errors,
    errorSamples: s.load.errorSamples,
    lastAckMs: s.load.lastAckMs,
    e2eMs: s.e2eMs,
    delivered: s.delivered,
    syncCalls: s.syncDetail,
    peakRssBytes: s.peakRssBytes,
    pssBytes: s.pssBytes,
    dnsQueries: s.dnsQueries,
    cpuMs: s.cpuMs,
    threadMs: s.threadMs,
    idleRssBytes: s.idleRssBytes,
    latencyMs: {
      p50: percentile(s.load.latenciesMs, 50),
      p90: percentile(s.load.latenciesMs, 90),
      p99: percentile(s.load.latenciesMs, 99),
      max: percentile(s.load.latenciesMs, 100),
    },
  };
}
