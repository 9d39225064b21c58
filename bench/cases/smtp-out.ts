// Case smtp-out (issue 4): messages submitted over 10 connections and relayed to Postfix's
// smtp-sink; end-to-end msg/s = messages / time until smtp-sink has counted them all.
// Reference: Postfix relaying the same load as a submission server: STARTTLS and AUTH PLAIN on
// each connection, as Freehold's submission requires.
// Freehold side: not wired yet (needs submission, the queue and a relay route to the sink);
// the case says so and measures Postfix only.
import path from "node:path";
import fs from "node:fs/promises";
import { envBool, envInt, percentile, type BenchCase, type CaseContext, type CaseResult, type Row } from "../support/case.ts";
import { runLoad, type LoadResult } from "../support/smtp-load.ts";
import { countSyncCalls, straceAvailable, straceWrap, totalSyncs } from "../support/trace.ts";
import { startPostfix } from "../../test/support/postfix.ts";
import { startSmtpSink } from "../../test/support/smtp-sink.ts";
import { selfSignedCert } from "../support/cert.ts";

const SUBMIT_USER = { user: "bench", pass: "bench-password" };

/** Postfix relaying `messages` to a fresh smtp-sink; optionally under strace. */
async function relayPass(
  ctx: CaseContext,
  dir: string,
  p: { messages: number; connections: number; bytes: number; deadlineMs: number; trace: boolean },
): Promise<{ load: LoadResult; e2eMs: number | null; syncs: number | null }> {
  await fs.mkdir(dir, { recursive: true });
  const straceOut = path.join(dir, "strace-postfix.out");
  const sink = await startSmtpSink();
  let postfix;
  try {
    // A submission server as Freehold's will be: STARTTLS required, AUTH PLAIN (through an
    // auth-only Dovecot), only authenticated clients relay; sink.test routed to smtp-sink.
    postfix = await startPostfix({
      dir: path.join(dir, "postfix"),
      hostname: "relay.bench.test",
      transports: { "sink.test": `smtp:[127.0.0.1]:${sink.port}` },
      tls: await selfSignedCert(dir, "relay.bench.test"),
      auth: { users: { [SUBMIT_USER.user]: SUBMIT_USER.pass } },
      wrap: p.trace ? straceWrap(straceOut) : undefined,
    });
  } catch (err) {
    await sink.stop();
    throw err;
  }
  let load: LoadResult;
  let e2eMs: number | null = null;
  try {
    const before = sink.messages();
    load = await runLoad({
      host: postfix.host,
      port: postfix.port,
      messages: p.messages,
      connections: p.connections,
      reuse: true,
      messageBytes: p.bytes,
      from: "sender@bench.test",
      rcpt: (i) => `rcpt${i % 100}@sink.test`,
      deadlineMs: p.deadlineMs,
      starttls: true,
      auth: SUBMIT_USER,
    });
    ctx.log(`postfix: ${load.acked} acked, ${load.rejected} rejected, ${load.errors} errors in ${load.elapsedMs} ms`);
    if (await sink.waitForMessages(before + load.acked, p.deadlineMs)) e2eMs = Date.now() - load.startedAt;
    ctx.log(`postfix: smtp-sink counted ${sink.messages() - before}${e2eMs ? ` after ${e2eMs} ms` : " (timed out)"}`);
  } finally {
    await postfix.stop({ keep: true });
    await sink.stop();
  }
  const syncs = p.trace ? totalSyncs(await countSyncCalls(straceOut)) : null;
  return { load, e2eMs, syncs };
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
    const notes: string[] = [];

    // Timed pass untraced; fsyncs counted in a shorter pass under strace (ptrace stops slow
    // Postfix down noticeably on this machine).
    const timed = await relayPass(ctx, path.join(ctx.tmpDir, "timed"), { messages, connections, bytes, deadlineMs, trace: false });
    const load = timed.load;
    const e2eMs = timed.e2eMs;
    const fsyncMessages = Math.min(messages, envInt(ctx.env, "BENCH_FSYNC_MESSAGES", 1000));
    let syncs: number | null = null;
    if (trace) {
      const traced = await relayPass(ctx, path.join(ctx.tmpDir, "traced"), {
        messages: fsyncMessages,
        connections,
        bytes,
        deadlineMs,
        trace: true,
      });
      syncs = traced.load.acked ? (traced.syncs ?? 0) / traced.load.acked : null;
    }
    const rate = (n: number, ms: number | null) => (ms ? (n * 1000) / ms : null);
    const rows: Row[] = [
      { metric: "accepted (submission)", unit: "msg/s", freehold: null, reference: rate(load.acked, load.lastAckMs), better: "higher" },
      { metric: "end-to-end to smtp-sink", unit: "msg/s", freehold: null, reference: rate(load.acked, e2eMs), better: "higher" },
      { metric: "end-to-end, Freehold with DKIM", unit: "msg/s", freehold: null, reference: rate(load.acked, e2eMs), better: "higher" },
      {
        metric: "accept latency p50",
        unit: "ms",
        freehold: null,
        reference: load.latenciesMs.length ? percentile(load.latenciesMs, 50) : null,
        better: "lower",
      },
      {
        metric: "fsync-family calls per message",
        unit: "calls",
        freehold: null,
        reference: syncs,
        better: "lower",
      },
    ];
    notes.push("freehold: not available yet (submission, queue and relay routes are not wired into this case)");
    notes.push(
      `${messages} messages of ${bytes} bytes over ${connections} reused connections; Postfix relays to smtp-sink; ` +
        "each connection does STARTTLS and AUTH PLAIN once (Postfix: SASL through Dovecot auth), no DKIM. The DKIM row compares against the same Postfix figure.",
    );
    if (trace) notes.push(`fsyncs counted in a separate pass of ${fsyncMessages} messages under strace; rates come from the untraced pass.`);
    if (load.acked < messages || load.errors) {
      notes.push(`postfix: ${load.acked}/${messages} acknowledged, ${load.errors} errors ${load.errorSamples.join(" | ")}`);
    }
    return {
      reference: "Postfix 3.7 → smtp-sink",
      sections: [{ title: "relay to smtp-sink, connections reused", rows }],
      notes,
      params: { messages, connections, bytes, trace, fsyncMessages, acked: load.acked, lastAckMs: load.lastAckMs, e2eMs, syncsPerMessage: syncs },
    };
  },
};
