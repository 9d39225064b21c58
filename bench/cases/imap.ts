// Case imap (issue 3): a large mailbox (default 100,000 messages, written straight into Dovecot's
// Maildir) and the times a client feels: SELECT (cold: Dovecot builds its index; warm), UID FETCH
// 1:* (FLAGS), FETCH ENVELOPE of the newest 200, UID SEARCH by header and by body; a mixed
// workload of persistent clients (commands/s); clients that log in and out (logins/s); memory per
// idle IMAPS connection (PSS from /proc/PID/smaps_rollup over the server's process tree, with N
// clients in IDLE minus the same tree with none).
//
// Freehold side: not wired yet (needs the IMAP server and an import of the same messages); the
// case measures Dovecot and says so. The Freehold target must expose the same four things:
// imap port, imaps port, the PID whose process tree holds the connections, and stop().
import path from "node:path";
import { envInt, type BenchCase, type CaseContext, type CaseResult, type Row } from "../support/case.ts";
import { ImapConn } from "../support/imap-client.ts";
import { BODY_TOKEN, SUBJECT_TOKEN, bodyHas, fillMaildir, subjectHas } from "../support/maildir-fill.ts";
import { startDovecotBench } from "../support/dovecot-bench.ts";
import { treePss } from "../support/trace.ts";
import { sleep, systemUser } from "../../test/support/peer-util.ts";
import { selfSignedCert } from "../support/cert.ts";

const USER = "bench";
const PASS = "pass";

interface ImapTarget {
  host: string;
  imapPort: number;
  imapsPort: number;
  pid(): number;
  stop(): Promise<void>;
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await fn();
  return [v, performance.now() - t0];
}

async function login(t: ImapTarget, opts: { tls?: boolean } = {}): Promise<ImapConn> {
  const c = await ImapConn.connect(t.host, opts.tls ? t.imapsPort : t.imapPort, opts);
  await c.ok(`LOGIN ${USER} ${PASS}`);
  return c;
}

interface Figures {
  selectColdMs: number;
  selectWarmMs: number;
  exists: number;
  fetchFlagsMs: number;
  fetchEnvelopeMs: number;
  searchHeaderMs: number;
  searchHeaderHits: number;
  searchBodyMs: number;
  searchBodyHits: number;
  mixedCmdsPerS: number;
  loginsPerS: number;
  idleClients: number;
  pssPerIdleBytes: number | null;
}

async function measure(ctx: CaseContext, t: ImapTarget, p: { count: number; seconds: number; clients: number; idle: number }): Promise<Figures> {
  const f = {} as Figures;
  // Cold SELECT: the first open of the mailbox (Dovecot scans the Maildir and writes its index).
  {
    const c = await login(t);
    const [r, ms] = await timed(() => c.ok("SELECT INBOX"));
    f.selectColdMs = ms;
    f.exists = Number(/^\* (\d+) EXISTS/m.exec(r.lines.join("\n"))?.[1] ?? 0);
    await c.logout();
  }
  const c = await login(t);
  [, f.selectWarmMs] = await timed(() => c.ok("SELECT INBOX"));
  let r;
  [r, f.fetchFlagsMs] = await timed(() => c.ok("UID FETCH 1:* (FLAGS)"));
  if (r.lines.length < f.exists) throw new Error(`UID FETCH 1:* returned ${r.lines.length} of ${f.exists}`);
  const from = Math.max(1, f.exists - 199);
  [r, f.fetchEnvelopeMs] = await timed(() => c.ok(`FETCH ${from}:* (ENVELOPE)`));
  [r, f.searchHeaderMs] = await timed(() => c.ok(`UID SEARCH SUBJECT ${SUBJECT_TOKEN}`));
  f.searchHeaderHits = searchCount(r.lines);
  [r, f.searchBodyMs] = await timed(() => c.ok(`UID SEARCH BODY ${BODY_TOKEN}`));
  f.searchBodyHits = searchCount(r.lines);
  await c.logout();
  ctx.log(`select ${f.selectColdMs.toFixed(0)}/${f.selectWarmMs.toFixed(0)} ms, fetch flags ${f.fetchFlagsMs.toFixed(0)} ms, searches ${f.searchHeaderHits}/${f.searchBodyHits} hits`);

  f.mixedCmdsPerS = await mixed(t, p.clients, p.seconds, f.exists);
  ctx.log(`mixed: ${f.mixedCmdsPerS.toFixed(0)} commands/s`);
  f.loginsPerS = await logins(t, p.clients, p.seconds);
  ctx.log(`logins: ${f.loginsPerS.toFixed(0)}/s`);
  f.idleClients = p.idle;
  f.pssPerIdleBytes = p.idle > 0 ? await idleMemory(ctx, t, p.idle) : null;
  return f;
}

function searchCount(lines: string[]): number {
  const l = lines.find((x) => x.startsWith("* SEARCH"));
  return l ? l.split(" ").length - 2 : 0;
}

/** `clients` persistent sessions, each looping over a fixed mix for `seconds`. */
async function mixed(t: ImapTarget, clients: number, seconds: number, exists: number): Promise<number> {
  let done = 0;
  const end = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, k) => {
      const c = await login(t);
      await c.ok("SELECT INBOX");
      let i = k * 7919;
      const pick = () => 1 + ((i = (i * 1103515245 + 12345) % 2147483648) % exists);
      const mix = [
        () => "NOOP",
        () => {
          const a = pick();
          return `FETCH ${a}:${Math.min(exists, a + 49)} (FLAGS)`;
        },
        () => `FETCH ${pick()} (ENVELOPE)`,
        () => `FETCH ${pick()} (BODY.PEEK[])`,
        () => `STORE ${pick()} +FLAGS (\\Flagged)`,
        () => `STORE ${pick()} -FLAGS (\\Flagged)`,
        () => "STATUS INBOX (MESSAGES UNSEEN)",
      ];
      let n = 0;
      while (Date.now() < end) {
        await c.ok(mix[n++ % mix.length]());
        done++;
      }
      await c.logout();
    }),
  );
  return done / seconds;
}

async function logins(t: ImapTarget, clients: number, seconds: number): Promise<number> {
  let done = 0;
  const end = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (Date.now() < end) {
        const c = await login(t);
        await c.logout();
        done++;
      }
    }),
  );
  return done / seconds;
}

/** PSS of the server's process tree with `n` IMAPS clients in IDLE, minus the tree at rest. */
async function idleMemory(ctx: CaseContext, t: ImapTarget, n: number): Promise<number> {
  await sleep(500);
  const before = await treePss(t.pid());
  const conns: ImapConn[] = [];
  try {
    for (let i = 0; i < n; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(50, n - i) }, async () => {
          const c = await login(t, { tls: true });
          await c.ok("SELECT INBOX");
          await c.idle();
          return c;
        }),
      );
      conns.push(...batch);
    }
    await sleep(1000);
    const after = await treePss(t.pid());
    ctx.log(`idle: ${n} IMAPS clients, PSS ${(before / 2 ** 20).toFixed(1)} → ${(after / 2 ** 20).toFixed(1)} MiB`);
    return (after - before) / n;
  } finally {
    for (const c of conns) c.close();
  }
}

export const benchCase: BenchCase = {
  name: "imap",
  description: "IMAP on a large mailbox: SELECT, FETCH, SEARCH, mixed load, logins, memory per IDLE client; vs Dovecot",
  async run(ctx): Promise<CaseResult> {
    const count = envInt(ctx.env, "BENCH_IMAP_MESSAGES", 100_000);
    const seconds = envInt(ctx.env, "BENCH_IMAP_SECONDS", 10);
    const clients = envInt(ctx.env, "BENCH_IMAP_CLIENTS", 10);
    const idle = envInt(ctx.env, "BENCH_IMAP_IDLE", 1000);
    const cert = await selfSignedCert(ctx.tmpDir, "imap.bench.test");
    const dir = path.join(ctx.tmpDir, "dovecot");
    const slack = idle + 200;
    const dovecot = await startDovecotBench({
      dir,
      users: [USER],
      domain: "bench.test",
      lmtp: false,
      imap: true,
      imaps: cert,
      maxUserIpConnections: slack,
      // Room for `idle` clients: one imap and (high-security mode, Debian's default) one
      // imap-login process per TLS connection, and enough client slots in the helper services.
      extra: [`default_process_limit = ${slack}`, `default_client_limit = ${3 * slack + 1000}`],
    });
    let figures: Figures;
    let bytes = 0;
    try {
      const mail = await systemUser("mail");
      const t0 = Date.now();
      bytes = await fillMaildir(dovecot.maildir(USER), count, mail, (done) => ctx.log(`maildir: ${done}/${count}`));
      ctx.log(`maildir: ${count} messages, ${(bytes / 2 ** 20).toFixed(0)} MiB in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      const target: ImapTarget = {
        host: "127.0.0.1",
        imapPort: dovecot.imapPort,
        imapsPort: dovecot.imapsPort,
        pid: () => dovecot.pid(),
        stop: () => dovecot.stop(),
      };
      figures = await measure(ctx, target, { count, seconds, clients, idle });
    } finally {
      await dovecot.stop();
    }
    let expectSubject = 0;
    let expectBody = 0;
    for (let i = 0; i < count; i++) {
      if (subjectHas(i)) expectSubject++;
      if (bodyHas(i)) expectBody++;
    }
    const ms = (m: string, v: number): Row => ({ metric: m, unit: "ms", freehold: null, reference: v, better: "lower" });
    const rows: Row[] = [
      ms("SELECT INBOX, first (index build)", figures.selectColdMs),
      ms("SELECT INBOX, warm", figures.selectWarmMs),
      ms("UID FETCH 1:* (FLAGS)", figures.fetchFlagsMs),
      ms("FETCH ENVELOPE, newest 200", figures.fetchEnvelopeMs),
      ms(`UID SEARCH SUBJECT (header)`, figures.searchHeaderMs),
      ms(`UID SEARCH BODY (text)`, figures.searchBodyMs),
      { metric: `mixed, ${clients} persistent clients`, unit: "cmd/s", freehold: null, reference: figures.mixedCmdsPerS, better: "higher" },
      { metric: `LOGIN+LOGOUT, ${clients} clients`, unit: "logins/s", freehold: null, reference: figures.loginsPerS, better: "higher" },
      { metric: "login cache off (Freehold only)", unit: "logins/s", freehold: null, reference: null, better: "higher" },
      {
        metric: `PSS per idle IMAPS client (${figures.idleClients} in IDLE)`,
        unit: "KiB",
        freehold: null,
        reference: figures.pssPerIdleBytes === null ? null : figures.pssPerIdleBytes / 1024,
        better: "lower",
      },
    ];
    const notes = [
      "freehold: not available yet (IMAP server and Maildir import not wired into this case)",
      `${figures.exists} messages (${(bytes / 2 ** 20).toFixed(0)} MiB) written straight into Dovecot's Maildir; ` +
        "Dovecot has no FTS configured (Debian default): SUBJECT uses its cache/headers, BODY reads every message.",
      `search hits: SUBJECT ${figures.searchHeaderHits} (expected ${expectSubject}), BODY ${figures.searchBodyHits} (expected ${expectBody}).`,
      `mixed = NOOP, FETCH 50×FLAGS, FETCH ENVELOPE, FETCH BODY.PEEK[], STORE ±\\Flagged, STATUS, in turn, ${seconds} s.`,
      "Dovecot in high-security mode (one imap-login process per TLS client), as Debian ships it; PSS over its whole process tree.",
    ];
    if (figures.searchHeaderHits !== expectSubject || figures.searchBodyHits !== expectBody) {
      notes.push("WARNING: search hits differ from the generator's count");
    }
    return {
      reference: "Dovecot 2.3 (Maildir)",
      sections: [{ title: `mailbox of ${figures.exists} messages`, rows }],
      notes,
      params: { count, seconds, clients, idle, bytes, figures },
    };
  },
};
