// Case smtp-out (issue 4): messages submitted over 10 connections (STARTTLS and AUTH PLAIN once
// per connection) and relayed to Postfix's smtp-sink; end-to-end msg/s = messages / time until
// smtp-sink has counted them all.
// - Reference: Postfix as a submission server (STARTTLS required, SASL through an auth-only
//   Dovecot, only authenticated clients relay), sink.test routed to smtp-sink.
// - Freehold: started through its CLI with a submission listener, a relay "sink" in relays.yaml
//   (tls none: loopback) and a route sending sink.test to it. If it accepts but nothing reaches
//   the sink (the queue runner not started by `serve` yet), the case says so.
// Each side starts fresh with its own smtp-sink; fsyncs come from a separate pass under strace.
import path from "node:path";
import fs from "node:fs/promises";
import { envBool, envInt, percentile, type BenchCase, type CaseContext, type CaseResult, type Row } from "../support/case.ts";
import { runLoad, type LoadOptions, type LoadResult } from "../support/smtp-load.ts";
import { countSyncCalls, straceAvailable, straceWrap, totalSyncs } from "../support/trace.ts";
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
}

type Side = "postfix" | "freehold";

/** Submits the load to `port` and waits until the sink has every accepted message. */
async function submitAndWait(
  ctx: CaseContext,
  side: Side,
  sink: SmtpSink,
  port: number,
  from: string,
  auth: LoadOptions["auth"],
  p: PassParams,
): Promise<{ load: LoadResult; e2eMs: number | null; delivered: number }> {
  const before = sink.messages();
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
  const delivered = sink.messages() - before;
  ctx.log(`${side}: smtp-sink counted ${delivered}${e2eMs ? ` after ${e2eMs} ms` : " (timed out)"}`);
  return { load, e2eMs, delivered };
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
      r = await submitAndWait(ctx, "postfix", sink, postfix.port, "bench@bench.test", user, p);
    } finally {
      await postfix.stop({ keep: true });
    }
    return { ...r, syncs: p.trace ? totalSyncs(await countSyncCalls(straceOut)) : null };
  } finally {
    await sink.stop();
  }
}

async function freeholdPass(ctx: CaseContext, dir: string, p: PassParams): Promise<PassResult> {
  const straceOut = path.join(dir, "strace-freehold.out");
  const user = { user: "bench@bench.test", pass: "bench-password" };
  const sink = await startSmtpSink();
  try {
    const relays = {
      relays: [{ name: "sink", host: "127.0.0.1", port: sink.port, tls: "none" }],
      routes: { recipientDomains: { "sink.test": ["sink"] } },
    };
    const fh = await startFreehold(ctx.root, dir, {
      hostname: "bench.test",
      domain: "bench.test",
      user: { address: user.user, password: user.pass },
      roles: [{ role: "submission", tls: "starttls" }],
      configSet: [[["queue", "holdOutbound"], false]],
      files: { "relays.yaml": JSON.stringify(relays) },
      wrap: p.trace ? straceWrap(straceOut) : undefined,
    });
    let r;
    try {
      r = await submitAndWait(ctx, "freehold", sink, fh.ports.submission, user.user, user, p);
    } finally {
      await fh.stop();
    }
    if (r.load.acked === 0) throw new Unavailable(`submission accepted nothing (${r.load.errorSamples.join(" | ")})`);
    return { ...r, syncs: p.trace ? totalSyncs(await countSyncCalls(straceOut)) : null };
  } finally {
    await sink.stop();
  }
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
    let fhSyncs: PassResult | null = null;
    try {
      fh = await freeholdPass(ctx, path.join(ctx.tmpDir, "freehold-timed"), params);
      if (trace && fh.delivered > 0) fhSyncs = await freeholdPass(ctx, path.join(ctx.tmpDir, "freehold-traced"), traced);
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
    const rows: Row[] = [
      { metric: "accepted (submission)", unit: "msg/s", freehold: rate(fh, (r) => r.load.lastAckMs), reference: rate(ref, (r) => r.load.lastAckMs), better: "higher" },
      { metric: "end-to-end to smtp-sink", unit: "msg/s", freehold: rate(fh, (r) => r.e2eMs), reference: rate(ref, (r) => r.e2eMs), better: "higher" },
      { metric: "end-to-end, Freehold without DKIM", unit: "msg/s", freehold: null, reference: rate(ref, (r) => r.e2eMs), better: "higher" },
      { metric: "accept latency p50", unit: "ms", freehold: p50(fh), reference: p50(ref), better: "lower" },
      { metric: "fsync-family calls per message", unit: "calls", freehold: perMsg(fhSyncs), reference: perMsg(refSyncs), better: "lower" },
    ];
    notes.push(
      `${messages} messages of ${bytes} bytes over ${connections} reused connections, each doing STARTTLS and AUTH PLAIN once; ` +
        "Postfix (SASL through Dovecot auth, no DKIM) and Freehold (its default signing) relay to their own smtp-sink.",
      "Freehold without DKIM: no switch the case can set yet; that row's reference is the same Postfix figure.",
    );
    if (trace) notes.push(`fsyncs counted in separate passes of ${fsyncMessages} messages under strace; rates come from the untraced passes.`);
    if (fh && fh.delivered === 0) {
      notes.push("freehold: accepted the messages but none reached smtp-sink (queue runner or relay route not active in `serve` yet?)");
    }
    for (const [side, r] of [["postfix", ref], ["freehold", fh]] as const) {
      if (r && (r.load.acked < messages || r.load.errors || r.e2eMs === null)) {
        notes.push(
          `${side}: ${r.load.acked}/${messages} accepted, ${r.delivered} reached the sink, ${r.load.errors} errors ${r.load.errorSamples.join(" | ")}`,
        );
      }
    }
    const summary = (r: PassResult | null) =>
      r && { acked: r.load.acked, lastAckMs: r.load.lastAckMs, e2eMs: r.e2eMs, delivered: r.delivered, errors: r.load.errors };
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
        syncsPerMessage: { postfix: perMsg(refSyncs), freehold: perMsg(fhSyncs) },
      },
    };
  },
};
