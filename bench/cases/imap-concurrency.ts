// Case imap-concurrency (issue 16): many clients on ONE account doing what mail clients do at
// once — reading, flagging, deleting and expunging under each other's feet, appending — as the
// outside stress tool of issue 16 did, side by side with Dovecot in the same run.
//
// Why the imap case's "mixed" line could not show this: its clients only read and toggled
// \Flagged on a 100,000-message mailbox (no APPEND, no EXPUNGE, so no message ever vanished under
// another session), with every STORE renaming a file in a 100,000-entry Maildir for Dovecot —
// a load that is Dovecot's worst case and Freehold's best. Here the mailbox is small and busy
// (BENCH_IMAPC_MESSAGES, default 1,000, kept about steady by APPEND against EXPUNGE), and
// every write is a durable write on both sides.
//
// Per (transport × clients): commands/s, p50/p99 per command type, failed commands (any tagged
// NO/BAD, disconnects, timeouts; listed by reason in the notes) and memory at rest and under
// load. Transports: "plain" = the cleartext port (Dovecot: LOGIN in clear; Freehold: LOGIN in
// clear if it allows it on loopback, else STARTTLS, and the note says which), "tls" = IMAPS.
import path from "node:path";
import { envInt, percentile, type BenchCase, type CaseResult, type Row, type Section } from "../support/case.ts";
import { COMMAND_TYPES, runMix, type MixResult, type Transport } from "../support/imap-mix.ts";
import { treePss, treeRss } from "../support/trace.ts";
import { treeCpuMs } from "../support/smtp-cpu.ts";
import { sleep } from "../../test/support/peer-util.ts";
import { startDovecotImapTarget, startFreeholdImapTarget, type ImapTarget } from "../support/imap-targets.ts";
import { Unavailable } from "../support/freehold-server.ts";

interface Measured {
  mix: MixResult;
  /** PSS of the server's process tree just before the load, and its peak during it (bytes). */
  pssRest: number;
  pssPeak: number;
  /** The same for RSS summed over the tree (Freehold: one process). */
  rssRest: number;
  rssPeak: number;
  /** CPU time of the server's process tree while the clock ran (ms). */
  cpuMs: number;
}

function envList(env: NodeJS.ProcessEnv, name: string, dflt: string): string[] {
  return (env[name] || dflt).split(",").map((s) => s.trim()).filter(Boolean);
}

async function measure(t: ImapTarget, transport: Transport, clients: number, seconds: number, seed: number): Promise<Measured> {
  await sleep(300);
  const pssRest = await treePss(t.pid());
  const rssRest = await treeRss(t.pid());
  let pssPeak = pssRest;
  let rssPeak = rssRest;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      pssPeak = Math.max(pssPeak, await treePss(t.pid()));
      rssPeak = Math.max(rssPeak, await treeRss(t.pid()));
      await sleep(250);
    }
  })();
  let cpu0 = 0;
  let cpuMs = 0;
  try {
    const mix = await runMix(
      { host: t.host, plainPort: t.plainPort, imapsPort: t.imapsPort, user: t.user, pass: t.pass },
      {
        clients,
        seconds,
        transport,
        seed,
        onStart: async () => void (cpu0 = await treeCpuMs(t.pid())),
        onEnd: async () => void (cpuMs = (await treeCpuMs(t.pid())) - cpu0),
      },
    );
    return { mix, pssRest, pssPeak, rssRest, rssPeak, cpuMs };
  } finally {
    sampling = false;
    await sampler;
  }
}

function all(m: MixResult): number[] {
  return COMMAND_TYPES.flatMap((c) => m.latencies[c]);
}

function pct(xs: number[], p: number): number | null {
  return xs.length ? percentile(xs, p) : null;
}

function describeFailures(m: MixResult): string {
  const e = Object.entries(m.failures).sort((a, b) => b[1] - a[1]);
  return e.length ? e.map(([k, v]) => `${v} × ${k}`).join("; ") : "none";
}

export const benchCase: BenchCase = {
  name: "imap-concurrency",
  description: "IMAP: 10 and 100 clients on one account, mixed reads/writes/EXPUNGE/APPEND, plain and TLS; vs Dovecot",
  repeat: 3,
  async run(ctx): Promise<CaseResult> {
    const count = envInt(ctx.env, "BENCH_IMAPC_MESSAGES", 1000);
    const seconds = envInt(ctx.env, "BENCH_IMAPC_SECONDS", 20);
    const clientCounts = envList(ctx.env, "BENCH_IMAPC_CLIENTS", "10,100").map(Number);
    const transports = envList(ctx.env, "BENCH_IMAPC_TRANSPORTS", "plain,tls") as Transport[];
    for (const n of clientCounts) if (!Number.isInteger(n) || n < 1) throw new Error(`BENCH_IMAPC_CLIENTS: ${n}`);
    for (const t of transports) if (t !== "plain" && t !== "tls") throw new Error(`BENCH_IMAPC_TRANSPORTS: ${t}`);
    const maxConnections = Math.max(...clientCounts) + 50;
    const notes: string[] = [];

    const dovecot = await startDovecotImapTarget(path.join(ctx.tmpDir, "dovecot"), { count, tls: true, idle: 0, log: ctx.log, maxConnections });
    let freehold: (ImapTarget & { bytes: number }) | null = null;
    try {
      try {
        freehold = await startFreeholdImapTarget(ctx.root, path.join(ctx.tmpDir, "freehold"), {
          count,
          tls: true,
          idle: 0,
          loginCache: true,
          log: ctx.log,
          maxConnections,
        });
      } catch (err) {
        if (!(err instanceof Unavailable)) throw err;
        ctx.log(`freehold: not available (${err.message})`);
        notes.push(`freehold: not available (${err.message})`);
      }
      const sections: Section[] = [];
      const raw: Record<string, { dovecot: Measured; freehold: Measured | null }> = {};
      let seed = 1;
      for (const transport of transports) {
        for (const clients of clientCounts) {
          const key = `${transport}, ${clients} clients`;
          const ref = await measure(dovecot, transport, clients, seconds, seed);
          ctx.log(`dovecot ${key}: ${(ref.mix.commands / ref.mix.elapsedS).toFixed(0)} cmd/s, ${ref.mix.failed} failed (${ref.mix.login})`);
          const fh = freehold ? await measure(freehold, transport, clients, seconds, seed) : null;
          if (fh) ctx.log(`freehold ${key}: ${(fh.mix.commands / fh.mix.elapsedS).toFixed(0)} cmd/s, ${fh.mix.failed} failed (${fh.mix.login})`);
          seed++;
          raw[key] = { dovecot: ref, freehold: fh };
          const both = (metric: string, unit: string, better: Row["better"], f: (m: Measured) => number | null): Row => ({
            metric,
            unit,
            better,
            freehold: fh ? f(fh) : null,
            reference: f(ref),
          });
          const rows: Row[] = [
            both("commands/s", "cmd/s", "higher", (m) => m.mix.commands / m.mix.elapsedS),
            both("failed commands (NO, BAD, disconnect, timeout)", "cmds", "lower", (m) => m.mix.failed),
            both("server CPU per command (process tree)", "ms", "lower", (m) => (m.mix.commands ? m.cpuMs / m.mix.commands : null)),
            both("latency p50, all commands", "ms", "lower", (m) => pct(all(m.mix), 50)),
            both("latency p99, all commands", "ms", "lower", (m) => pct(all(m.mix), 99)),
          ];
          for (const c of COMMAND_TYPES) {
            rows.push(both(`${c} p50`, "ms", "lower", (m) => pct(m.mix.latencies[c], 50)));
            rows.push(both(`${c} p99`, "ms", "lower", (m) => pct(m.mix.latencies[c], 99)));
          }
          rows.push(
            both("memory at rest (PSS, process tree)", "MiB", "lower", (m) => m.pssRest / 2 ** 20),
            both("memory under load, peak (PSS, process tree)", "MiB", "lower", (m) => m.pssPeak / 2 ** 20),
            both("memory growth under load (PSS)", "MiB", "lower", (m) => (m.pssPeak - m.pssRest) / 2 ** 20),
            { metric: "Freehold RSS growth under load (goal ≤ 50)", unit: "MiB", better: "lower", freehold: fh ? (fh.rssPeak - fh.rssRest) / 2 ** 20 : null, reference: null },
          );
          sections.push({ title: key, rows });
          notes.push(
            `${key}: dovecot failed: ${describeFailures(ref.mix)}; freehold failed: ${fh ? describeFailures(fh.mix) : "—"}` +
              `; logins: dovecot ${ref.mix.login}, freehold ${fh?.mix.login ?? "—"}` +
              `; INBOX at the end: dovecot ${ref.mix.finalExists}, freehold ${fh?.mix.finalExists ?? "—"}.`,
          );
        }
      }
      notes.push(
        `${count} messages in INBOX at the start (the imap case's generator, written straight into the Maildir / the store), ` +
          `one account, every client on its INBOX; ${seconds} s per measurement, Dovecot then Freehold, the same command sequence (seeded) on both.`,
        "mix per 100 commands: SELECT 3, FETCH 20×(UID FLAGS) 16, FETCH 5×(UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE) 14, FETCH BODY.PEEK[] 12, " +
          "STORE ±\\Seen/\\Flagged 14, STORE +FLAGS.SILENT (\\Deleted) 8, EXPUNGE 8, APPEND (1–6 KiB, LITERAL+) 9, SEARCH (UNSEEN, FLAGGED, SUBJECT, SINCE … NOT DELETED) 8, NOOP 8; " +
          "message numbers drawn within the count each client was told (EXISTS/EXPUNGE), so another session's EXPUNGE not yet announced can hit it.",
        "Dovecot 2.3 as Debian ships it (Maildir, mail_fsync = optimized, high-security login processes), mail_max_userip_connections and " +
          `Freehold's imap.maxConnectionsPerUser/PerIp raised to ${maxConnections} (Freehold's default is 50 sessions per user).`,
        "memory: PSS summed over the server's process tree (Dovecot: a process per session), at rest just before each measurement and its peak " +
          "(sampled every 250 ms) during it; Freehold's RSS row is the goal of issue 16. " +
          "server CPU per command: user+system time of the server's process tree while the clock ran ÷ commands; it depends far less on the " +
          "machine's other load than the rates (a server of many processes, Dovecot, gets more of a busy machine's cores than a single process).",
      );
      return {
        reference: "Dovecot 2.3 (Maildir)",
        sections,
        notes,
        params: { count, seconds, clientCounts, transports, maxConnections, raw: summarise(raw) },
      };
    } finally {
      await freehold?.stop();
      await dovecot.stop();
    }
  },
};

/** The JSON keeps counts and percentiles, not every latency. */
function summarise(raw: Record<string, { dovecot: Measured; freehold: Measured | null }>): unknown {
  const one = (m: Measured | null) =>
    m && {
      commands: m.mix.commands,
      elapsedS: m.mix.elapsedS,
      failed: m.mix.failed,
      failures: m.mix.failures,
      login: m.mix.login,
      finalExists: m.mix.finalExists,
      perType: Object.fromEntries(
        COMMAND_TYPES.map((c) => [c, { n: m.mix.latencies[c].length, p50: pct(m.mix.latencies[c], 50), p99: pct(m.mix.latencies[c], 99) }]),
      ),
      cpuMs: m.cpuMs,
      pssRest: m.pssRest,
      pssPeak: m.pssPeak,
      rssRest: m.rssRest,
      rssPeak: m.rssPeak,
    };
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, { dovecot: one(v.dovecot), freehold: one(v.freehold) }]));
}
