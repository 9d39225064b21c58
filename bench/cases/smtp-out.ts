// Case smtp-out (issue 4): messages submitted over 10 connections (STARTTLS and AUTH PLAIN once
// per connection) and relayed to Postfix's smtp-sink; end-to-end msg/s = messages / time until
// smtp-sink has counted them all.
// - Reference: Postfix as a submission server (STARTTLS required, SASL through an auth-only
//   Dovecot, only authenticated clients relay), sink.test routed to smtp-sink.
// - Freehold: started through its CLI with a submission listener, a relay "sink" (tls none:
//   loopback) and a route sending sink.test to it, both made with `freehold relay ...`; the queue runner inside `serve`
//   delivers. Measured twice: without DKIM (the domain's keys never published, so still "new")
//   and with DKIM (records on the loopback DNS, activated by `freehold dkim check`).
// Each pass starts fresh with its own smtp-sink; fsyncs come from a separate pass under strace.
import path from "node:path";
import fs from "node:fs/promises";
import { envBool, envInt, percentile, type BenchCase, type CaseContext, type CaseResult, type Row } from "../support/case.ts";
import { runLoad, type LoadOptions, type LoadResult } from "../support/smtp-load.ts";
import { countSyncCalls, peakRss, straceAvailable, straceWrap, totalSyncs } from "../support/trace.ts";
import { activateDkim, zoneHandler, type TxtZone } from "../support/smtp-out-dkim.ts";
import { treeCpuMs } from "../support/smtp-cpu.ts";
import { addLoopbackRelay } from "../support/smtp-out-relay.ts";
import { startPostfix } from "../../test/support/postfix.ts";
import { startSmtpSink, type SmtpSink } from "../../test/support/smtp-sink.ts";
import { selfSignedCert } from "../support/cert.ts";
import { startFreehold, Unavailable } from "../support/freehold-server.ts";
import { waitUntil } from "../../test/support/peer-util.ts";

interface PassParams {
  messages: number;
  connections: number;
  bytes: number;
  deadlineMs: number;
  trace: boolean;
}

interface PassResult {
  load: LoadResult;
  e2eMs: number | null;
  syncs: number | null;
  delivered: number;
  /** SMTP sessions smtp-sink saw: how well the relay side reuses connections. */
  sinkSessions: number;
  peakRssBytes: number | null;
  /** Freehold: submissions logged as DKIM-signed. */
  signed: number | null;
  /** CPU ms the server's processes used from the first connection until the sink had everything. */
  cpuMs: number | null;
}

type Side = "postfix" | "freehold" | "freehold+dkim";

/** Submits the load to `port` and waits until the sink has every accepted message. */
async function submitAndWait(
  ctx: CaseContext,
  side: Side,
  sink: SmtpSink,
  port: number,
  from: string,
  auth: LoadOptions["auth"],
  p: PassParams,
  serverPid: number,
): Promise<{ load: LoadResult; e2eMs: number | null; delivered: number; sinkSessions: number; cpuMs: number | null }> {
  const before = sink.messages();
  const sessionsBefore = sink.sessions();
  const cpuBefore = serverPid > 0 ? await treeCpuMs(serverPid) : null;
  const load = await runLoad({
    host: "127.0.0.1",
    port,
    messages: p.messages,
    connections: p.connections,
    reuse: true,
    messageBytes: p.bytes,
    from,
    rcpt: (i) => `rcpt${i % 100}@sink.test`,
    deadlineMs: p.deadlineMs,
    starttls: true,
    auth,
  });
  ctx.log(`${side}: ${load.acked} accepted, ${load.rejected} rejected, ${load.errors} errors in ${load.elapsedMs} ms`);
  if (load.errorSamples.length) ctx.log(`${side}: samples: ${load.errorSamples.join(" | ")}`);
  // Wait for the sink to count them all; give up early when it stops moving for 15 s.
  let e2eMs: number | null = null;
  let last = -1;
  let lastChange = Date.now();
  const ok = await waitUntil(
    () => {
      const n = sink.messages();
      if (n !== last) [last, lastChange] = [n, Date.now()];
      return n >= before + load.acked || Date.now() - lastChange > 15_000;
    },
    p.deadlineMs,
    25,
  );
  if (ok && sink.messages() >= before + load.acked) e2eMs = Date.now() - load.startedAt;
  const cpuMs = cpuBefore !== null ? (await treeCpuMs(serverPid)) - cpuBefore : null;
  const delivered = sink.messages() - before;
  const sinkSessions = sink.sessions() - sessionsBefore;
  ctx.log(`${side}: smtp-sink counted ${delivered}${e2eMs ? ` after ${e2eMs} ms` : " (timed out)"}`);
  return { load, e2eMs, delivered, sinkSessions, cpuMs };
}

async function postfixPass(ctx: CaseContext, dir: string, p: PassParams): Promise<PassResult> {
  await fs.mkdir(dir, { recursive: true });
  const straceOut = path.join(dir, "strace-postfix.out");
  const user = { user: "bench", pass: "bench-password" };
  const sink = await startSmtpSink();
  try {
    const postfix = await startPostfix({
      dir: path.join(dir, "postfix"),
      hostname: "relay.bench.test",
      transports: { "sink.test": `smtp:[127.0.0.1]:${sink.port}` },
      tls: await selfSignedCert(dir, "relay.bench.test"),
      auth: { users: { [user.user]: user.pass } },
      wrap: p.trace ? straceWrap(straceOut) : undefined,
    });
    let r;
    try {
      r = await submitAndWait(ctx, "postfix", sink, postfix.port, "bench@bench.test", user, p, postfix.pid);
    } finally {
      await postfix.stop({ keep: true });
    }
    r.sinkSessions = await sessionsAfterStop(sink);
    return { ...r, syncs: p.trace ? totalSyncs(await countSyncCalls(straceOut)) : null, peakRssBytes: null, signed: null };
  } finally {
    await sink.stop();
  }
}

async function freeholdPass(ctx: CaseContext, dir: string, p: PassParams, dkim: boolean): Promise<PassResult> {
  const straceOut = path.join(dir, "strace-freehold.out");
  const user = { user: "bench@bench.test", pass: "bench-password" };
  const sink = await startSmtpSink();
  try {
    const zone: TxtZone = new Map();
    let selectors: string[] = [];
    const fh = await startFreehold(ctx.root, dir, {
      hostname: "bench.test",
      domain: "bench.test",
      user: { address: user.user, password: user.pass },
      roles: [{ role: "submission", tls: "starttls" }],
      dns: zoneHandler(zone),
      // One user sends every message: the hourly limit (500 by default) would stop the load.
      configSet: [[["queue", "holdOutbound"], false], [["submission", "hourlyRecipients"], 0]],
      beforeServe: async (data) => {
        await addLoopbackRelay(ctx.root, data, "sink", sink.port, "sink.test");
        // Without DKIM the records are never published, so the keys stay "new" and sign nothing.
        if (dkim) selectors = await activateDkim(ctx.root, data, "bench.test", zone);
      },
      wrap: p.trace ? straceWrap(straceOut) : undefined,
    });
    let r;
    let rss: number | null = null;
    try {
      const pid = fh.server.targetPid() > 0 ? fh.server.targetPid() : fh.server.pid;
      r = await submitAndWait(ctx, dkim ? "freehold+dkim" : "freehold", sink, fh.ports.submission, user.user, user, p, pid);
      rss = await peakRss(pid);
    } finally {
      await fh.stop();
    }
    r.sinkSessions = await sessionsAfterStop(sink);
    if (r.load.acked === 0) throw new Unavailable(`submission accepted nothing (${r.load.errorSamples.join(" | ")})`);
    const signed = await countSigned(fh.logFile);
    ctx.log(`${dkim ? "freehold+dkim" : "freehold"}: ${signed} of ${r.load.acked} submissions signed${selectors.length ? ` (selectors ${selectors.join(", ")})` : ""}`);
    return { ...r, syncs: p.trace ? totalSyncs(await countSyncCalls(straceOut)) : null, peakRssBytes: rss, signed };
  } finally {
    await sink.stop();
  }
}

/** Sessions smtp-sink saw in all, once the server has closed the ones it kept open for reuse. */
async function sessionsAfterStop(sink: SmtpSink): Promise<number> {
  // smtp-sink prints its counters as sessions end; give the last lines a moment.
  await new Promise((r) => setTimeout(r, 300));
  return sink.sessions();
}

/** Submissions the server logged as signed (its "submitted" line lists each signature added). */
async function countSigned(logFile: string): Promise<number> {
  const text = await fs.readFile(logFile, "utf8").catch(() => "");
  let n = 0;
  for (const line of text.split("\n")) if (line.includes('"submitted"') && line.includes('"dkim":["d=')) n++;
  return n;
}

export const benchCase: BenchCase = {
  name: "smtp-out",
  description: "outbound relay: submitted messages delivered to smtp-sink, Freehold (±DKIM) vs Postfix",
  async run(ctx): Promise<CaseResult> {
    const messages = envInt(ctx.env, "BENCH_MESSAGES", 5000);
    const connections = envInt(ctx.env, "BENCH_CONNECTIONS", 10);
    const bytes = envInt(ctx.env, "BENCH_MESSAGE_BYTES", 10 * 1024);
    const deadlineMs = envInt(ctx.env, "BENCH_DEADLINE_S", 300) * 1000;
    const trace = envBool(ctx.env, "BENCH_STRACE", true) && straceAvailable();
    const fsyncMessages = Math.min(messages, envInt(ctx.env, "BENCH_FSYNC_MESSAGES", 1000));
    const notes: string[] = [];
    const params: PassParams = { messages, connections, bytes, deadlineMs, trace: false };
    const traced: PassParams = { ...params, messages: fsyncMessages, trace: true };

    // Timed passes untraced; fsyncs counted in shorter passes under strace.
    const ref = await postfixPass(ctx, path.join(ctx.tmpDir, "postfix-timed"), params);
    const refSyncs = trace ? await postfixPass(ctx, path.join(ctx.tmpDir, "postfix-traced"), traced) : null;
    let fh: PassResult | null = null;
    let fhDkim: PassResult | null = null;
    let fhSyncs: PassResult | null = null;
    try {
      fh = await freeholdPass(ctx, path.join(ctx.tmpDir, "freehold-timed"), params, false);
      fhDkim = await freeholdPass(ctx, path.join(ctx.tmpDir, "freehold-dkim-timed"), params, true);
      if (trace && fhDkim.delivered > 0) fhSyncs = await freeholdPass(ctx, path.join(ctx.tmpDir, "freehold-traced"), traced, true);
    } catch (err) {
      if (!(err instanceof Unavailable)) throw err;
      ctx.log(`freehold: not available (${err.message})`);
      notes.push(`freehold: not available (${err.message})`);
    }

    const rate = (r: PassResult | null, ms: (r: PassResult) => number | null) => {
      const t = r ? ms(r) : null;
      return r && t ? (r.load.acked * 1000) / t : null;
    };
    const perMsg = (r: PassResult | null) => (r && r.syncs !== null && r.load.acked ? r.syncs / r.load.acked : null);
    const p50 = (r: PassResult | null) => (r && r.load.latenciesMs.length ? percentile(r.load.latenciesMs, 50) : null);
    const mib = (r: PassResult | null) => (r?.peakRssBytes ? r.peakRssBytes / 2 ** 20 : null);
    const cpu = (r: PassResult | null) => (r && r.cpuMs !== null && r.load.acked ? r.cpuMs / r.load.acked : null);
    const acked = (r: PassResult) => r.load.lastAckMs;
    const e2e = (r: PassResult) => r.e2eMs;
    const rows: Row[] = [
      { metric: "end-to-end to smtp-sink, Freehold with DKIM", unit: "msg/s", freehold: rate(fhDkim, e2e), reference: rate(ref, e2e), better: "higher", goal: { ratio: 1.5 } },
      { metric: "end-to-end to smtp-sink, Freehold without DKIM", unit: "msg/s", freehold: rate(fh, e2e), reference: rate(ref, e2e), better: "higher", goal: { ratio: 1.7 } },
      { metric: "acknowledged (submission), with DKIM", unit: "msg/s", freehold: rate(fhDkim, acked), reference: rate(ref, acked), better: "higher" },
      { metric: "acknowledged (submission), without DKIM", unit: "msg/s", freehold: rate(fh, acked), reference: rate(ref, acked), better: "higher" },
      { metric: "ack latency p50, with DKIM", unit: "ms", freehold: p50(fhDkim), reference: p50(ref), better: "lower" },
      { metric: "server CPU per message, with DKIM", unit: "ms", freehold: cpu(fhDkim), reference: cpu(ref), better: "lower", goal: { atMost: 1.6 } },
      { metric: "server CPU per message, without DKIM", unit: "ms", freehold: cpu(fh), reference: cpu(ref), better: "lower" },
      { metric: "peak RSS (VmHWM), with DKIM", unit: "MiB", freehold: mib(fhDkim), reference: null, better: "lower" },
      { metric: "peak RSS (VmHWM), without DKIM", unit: "MiB", freehold: mib(fh), reference: null, better: "lower" },
      { metric: "fsync-family calls per message", unit: "calls", freehold: perMsg(fhSyncs), reference: perMsg(refSyncs), better: "lower" },
    ];
    notes.push(
      `${messages} messages of ${bytes} bytes over ${connections} reused connections, each doing STARTTLS and AUTH PLAIN once; ` +
        "Postfix (SASL through Dovecot auth, no DKIM) and Freehold relay to their own smtp-sink. Each Freehold pass starts fresh; " +
        "with DKIM its RSA-2048 and Ed25519 keys are published on the loopback DNS and activated by `freehold dkim check`, so every message gets two signatures.",
    );
    notes.push(
      "server CPU: user+system time of the server's process tree (Postfix: master and every child, reaped ones included; " +
        "not its auth-only Dovecot) from the first connection until the sink had every message; it depends far less than the rates on other load on the machine. " +
        "Freehold's includes its 10 logins (scrypt, ln=15: ~65 ms of CPU each, e.g. 0.13 ms per message over 5,000 messages).",
    );
    if (trace) notes.push(`fsyncs counted in separate passes of ${fsyncMessages} messages under strace (Freehold with DKIM); rates come from the untraced passes.`);
    for (const [side, r] of [["postfix", ref], ["freehold", fh], ["freehold+dkim", fhDkim]] as const) {
      if (!r) continue;
      notes.push(`${side}: smtp-sink saw ${r.sinkSessions} SMTP sessions in all (counted after the server stopped) for ${r.delivered} messages${r.signed !== null ? `; ${r.signed} submissions signed` : ""}`);
      if (r.load.acked < messages || r.load.errors || r.e2eMs === null) {
        notes.push(`${side}: ${r.load.acked}/${messages} accepted, ${r.delivered} reached the sink, ${r.load.errors} errors ${r.load.errorSamples.join(" | ")}`);
      }
    }
    if (fhDkim && fhDkim.signed !== null && fhDkim.signed < fhDkim.load.acked) notes.push(`freehold+dkim: only ${fhDkim.signed} of ${fhDkim.load.acked} messages were signed`);
    const summary = (r: PassResult | null) =>
      r && {
        acked: r.load.acked,
        lastAckMs: r.load.lastAckMs,
        e2eMs: r.e2eMs,
        delivered: r.delivered,
        errors: r.load.errors,
        sinkSessions: r.sinkSessions,
        peakRssBytes: r.peakRssBytes,
        signed: r.signed,
        cpuMs: r.cpuMs,
        latencyMs: r.load.latenciesMs.length ? { p50: percentile(r.load.latenciesMs, 50), p99: percentile(r.load.latenciesMs, 99) } : null,
      };
    return {
      reference: "Postfix 3.7 → smtp-sink",
      sections: [{ title: "relay to smtp-sink, connections reused", rows }],
      notes,
      params: {
        messages,
        connections,
        bytes,
        trace,
        fsyncMessages,
        postfix: summary(ref),
        freehold: summary(fh),
        freeholdDkim: summary(fhDkim),
        syncsPerMessage: { postfix: perMsg(refSyncs), freeholdDkim: perMsg(fhSyncs) },
      },
    };
  },
};
