// Case imap (issue 3): a large mailbox (default 100,000 messages) and the times a client feels:
// SELECT (first: Dovecot scans its Maildir and builds its index; then warm), UID FETCH 1:*
// (FLAGS), FETCH ENVELOPE of the newest 200, UID SEARCH by header and by body; a mixed workload
// of persistent clients (commands/s); clients that log in and out (logins/s); memory per idle
// IMAPS connection (PSS from /proc/PID/smaps_rollup over the server's process tree, with N
// clients in IDLE minus the same tree with none).
//
// Both get the messages written straight into their storage: Dovecot's Maildir, Freehold's store
// before `serve` starts (imap-targets.ts). When Freehold cannot run, the case says why and
// measures Dovecot alone.
import path from "node:path";
import { envBool, envInt, type BenchCase, type CaseContext, type CaseResult, type Row } from "../support/case.ts";
import { ImapConn } from "../support/imap-client.ts";
import { BODY_TOKEN, SUBJECT_TOKEN, bodyHas, subjectHas } from "../support/maildir-fill.ts";
import { treePss } from "../support/trace.ts";
import { sleep } from "../../test/support/peer-util.ts";
import { startDovecotImapTarget, startFreeholdImapTarget, type ImapTarget } from "../support/imap-targets.ts";
import { Unavailable } from "../support/freehold-server.ts";

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await fn();
  return [v, performance.now() - t0];
}

/** A logged-in session; `imaps` forces the implicit-TLS port (the IDLE figure). */
async function login(t: ImapTarget, opts: { imaps?: boolean } = {}): Promise<ImapConn> {
  const c = opts.imaps
    ? await ImapConn.connect(t.host, t.imapsPort, { tls: true })
    : await ImapConn.connect(t.host, t.port, { tls: t.tls });
  await c.ok(`LOGIN ${quote(t.user)} ${quote(t.pass)}`);
  return c;
}

/** RFC 9051 quoted string (our test credentials have no CR/LF). */
function quote(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
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
  ctx.log(`${t.name}: select ${f.selectColdMs.toFixed(0)}/${f.selectWarmMs.toFixed(0)} ms, fetch flags ${f.fetchFlagsMs.toFixed(0)} ms, searches ${f.searchHeaderHits}/${f.searchBodyHits} hits`);

  f.mixedCmdsPerS = await mixed(t, p.clients, p.seconds, f.exists);
  ctx.log(`${t.name}: mixed: ${f.mixedCmdsPerS.toFixed(0)} commands/s`);
  f.loginsPerS = await logins(t, p.clients, p.seconds);
  ctx.log(`${t.name}: logins: ${f.loginsPerS.toFixed(0)}/s`);
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
  await t.atRest?.();
  await sleep(500);
  const before = await treePss(t.pid());
  const conns: ImapConn[] = [];
  try {
    for (let i = 0; i < n; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(50, n - i) }, async () => {
          const c = await login(t, { imaps: true });
          await c.ok("SELECT INBOX");
          await c.idle();
          return c;
        }),
      );
      conns.push(...batch);
    }
    await sleep(1000);
    const after = await treePss(t.pid());
    ctx.log(`${t.name}: idle: ${n} IMAPS clients, PSS ${(before / 2 ** 20).toFixed(1)} → ${(after / 2 ** 20).toFixed(1)} MiB`);
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
    const tls = envBool(ctx.env, "BENCH_IMAP_TLS", true);
    const params = { count, seconds, clients, idle };
    const notes: string[] = [];

    const dovecot = await startDovecotImapTarget(path.join(ctx.tmpDir, "dovecot"), { count, tls, idle, log: ctx.log });
    let ref: Figures;
    let dovecotHashedLogins: number | null = null;
    try {
      ref = await measure(ctx, dovecot, params);
      // Freehold stores scrypt (ln=15) hashes; Dovecot's {PLAIN} costs nothing to check. The
      // same logins again with Dovecot's strongest stock scheme (its default cost), no cache.
      await dovecot.hashPassword("ARGON2ID");
      await (await login(dovecot)).logout();
      dovecotHashedLogins = await logins(dovecot, clients, seconds);
      ctx.log(`dovecot: logins with ARGON2ID: ${dovecotHashedLogins.toFixed(0)}/s`);
    } finally {
      await dovecot.stop();
    }

    let fh: Figures | null = null;
    let fhBytes = 0;
    let loginsNoCache: number | null = null;
    try {
      const freehold = await startFreeholdImapTarget(ctx.root, path.join(ctx.tmpDir, "freehold"), { count, tls, idle, loginCache: true, log: ctx.log });
      fhBytes = freehold.bytes;
      try {
        fh = await measure(ctx, freehold, params);
      } finally {
        await freehold.stop();
      }
      // Logins with the cache off (`login.cacheSeconds: 0`): a second server, empty mailbox
      // (LOGIN does not open it), so every login pays the password hash.
      const nocache = await startFreeholdImapTarget(ctx.root, path.join(ctx.tmpDir, "freehold-nocache"), { count: 0, tls, idle: 0, loginCache: false, log: ctx.log });
      try {
        loginsNoCache = await logins(nocache, clients, seconds);
        ctx.log(`freehold: logins, cache off: ${loginsNoCache.toFixed(0)}/s`);
      } finally {
        await nocache.stop();
      }
    } catch (err) {
      if (!(err instanceof Unavailable)) throw err;
      ctx.log(`freehold: not available (${err.message})`);
      notes.push(`freehold: not available (${err.message})`);
    }

    let expectSubject = 0;
    let expectBody = 0;
    for (let i = 0; i < count; i++) {
      if (subjectHas(i)) expectSubject++;
      if (bodyHas(i)) expectBody++;
    }
    const pick = (f: Figures | null, k: keyof Figures) => (f ? (f[k] as number | null) : null);
    const row = (metric: string, unit: string, k: keyof Figures, better: Row["better"], scale = 1): Row => {
      const v = (f: Figures | null) => {
        const x = pick(f, k);
        return x === null ? null : x / scale;
      };
      return { metric, unit, freehold: v(fh), reference: v(ref), better };
    };
    const rows: Row[] = [
      row("SELECT INBOX, first", "ms", "selectColdMs", "lower"),
      row("SELECT INBOX, warm", "ms", "selectWarmMs", "lower"),
      row("UID FETCH 1:* (FLAGS)", "ms", "fetchFlagsMs", "lower"),
      row("FETCH ENVELOPE, newest 200", "ms", "fetchEnvelopeMs", "lower"),
      row("UID SEARCH SUBJECT (header)", "ms", "searchHeaderMs", "lower"),
      row("UID SEARCH BODY (text)", "ms", "searchBodyMs", "lower"),
      row(`mixed, ${clients} persistent clients`, "cmd/s", "mixedCmdsPerS", "higher"),
      // Dovecot's auth cache is off by default (auth_cache_size = 0) and its password {PLAIN}.
      row(`LOGIN+LOGOUT, ${clients} clients, cache on (Dovecot {PLAIN})`, "logins/s", "loginsPerS", "higher"),
      { metric: `LOGIN+LOGOUT, ${clients} clients, cache off (Dovecot {PLAIN})`, unit: "logins/s", freehold: loginsNoCache, reference: ref.loginsPerS, better: "higher" },
      { metric: `LOGIN+LOGOUT, ${clients} clients, cache off (Dovecot {ARGON2ID})`, unit: "logins/s", freehold: loginsNoCache, reference: dovecotHashedLogins, better: "higher" },
      { ...row(`PSS per idle IMAPS client (${idle} in IDLE)`, "KiB", "pssPerIdleBytes", "lower", 1024), goal: { atMost: 40 } },
    ];
    notes.push(
      `${ref.exists} messages (Dovecot ${(dovecot.bytes / 2 ** 20).toFixed(0)} MiB with LF, Freehold ${(fhBytes / 2 ** 20).toFixed(0)} MiB with CRLF), ` +
        "written straight into Dovecot's Maildir and into Freehold's store (its delivery writer, search index filled as its indexer does on delivery). " +
        "Dovecot has no FTS configured (Debian default): BODY reads every message; Freehold answers from its FTS5 index.",
      tls
        ? "sessions over implicit TLS (IMAPS) on both sides (BENCH_IMAP_TLS); IDLE clients always over IMAPS."
        : "BENCH_IMAP_TLS=0: Dovecot's timed sessions in plain text, Freehold's still over IMAPS (it refuses LOGIN without TLS); IDLE clients over IMAPS.",
    );
    for (const [side, f] of [["dovecot", ref], ["freehold", fh]] as const) {
      if (!f) continue;
      notes.push(`${side} search hits: SUBJECT ${f.searchHeaderHits} (expected ${expectSubject}), BODY ${f.searchBodyHits} (expected ${expectBody}).`);
      if (f.searchHeaderHits !== expectSubject || f.searchBodyHits !== expectBody) {
        notes.push(`WARNING: ${side}'s search hits differ from the generator's count`);
      }
    }
    notes.push(
      `mixed = NOOP, FETCH 50×FLAGS, FETCH ENVELOPE, FETCH BODY.PEEK[], STORE ±\\Flagged, STATUS, in turn, ${seconds} s.`,
      "Dovecot in high-security mode (one imap-login process per TLS client), as Debian ships it; PSS over its whole process tree. " +
        "Freehold is restarted before the memory baseline (a fresh process at rest); its IDLE clients' first SELECT loads the mailbox index, counted in.",
      "logins: Dovecot's auth cache is off (its default); its password {PLAIN} (nothing to compute), then {ARGON2ID} (doveadm pw defaults: " +
        "m=64 MiB, t=3). Freehold's is scrypt ln=15 (32 MiB); cache on = default (login.cacheSeconds 600), cache off = a second server " +
        "with login.cacheSeconds 0 and an empty mailbox.",
    );
    return {
      reference: "Dovecot 2.3 (Maildir)",
      sections: [{ title: `mailbox of ${count} messages`, rows }],
      notes,
      params: { count, seconds, clients, idle, tls, bytes: dovecot.bytes, dovecot: ref, freehold: fh },
    };
  },
};
