// The two SMTP servers the inbound benchmark compares, behind one interface: Postfix delivering
// into Dovecot over LMTP (the reference) and Freehold started through its own CLI. Each is
// started fresh for every measurement, optionally under strace to count fsyncs.
import fs from "node:fs/promises";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { startPostfix } from "../../test/support/postfix.ts";
import { countFiles } from "../../test/support/peer-util.ts";
import { startDovecotBench } from "./dovecot-bench.ts";
import type { FaultHandler } from "../../test/support/dns-fault.ts";
import { startFreehold, Unavailable } from "./freehold-server.ts";
import { countSyncCalls, straceWrap, treeRss } from "./trace.ts";

export const BENCH_DOMAIN = "bench.test";
export const BENCH_RCPT = `bench@${BENCH_DOMAIN}`;
/** The load generator's MAIL FROM and EHLO domain. */
export const BENCH_SENDER_DOMAIN = "load.bench.test";

export interface SmtpTarget {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** Messages in the recipient's mailbox now. */
  delivered(): Promise<number>;
  /** DNS questions the server asked so far (Freehold: SPF, DKIM, DMARC ...), when known. */
  dnsQueries?(): number;
  /** The process whose peak RSS is reported (Freehold's node), or null. */
  rssPid(): number | null;
  /** Roots of the process trees whose CPU time is the server's (Postfix and Dovecot; Freehold's node). */
  cpuPids(): number[];
  /** Freehold: VmRSS of `serve` right after it started, before any load (bytes). */
  idleRssBytes?: number | null;
  /** Stops everything; sync-call counts per process group when traced. */
  stop(): Promise<{ syncCalls: Record<string, Record<string, number>> | null }>;
}

export { Unavailable };

export async function startPostfixTarget(dir: string, trace: boolean): Promise<SmtpTarget> {
  await fs.mkdir(dir, { recursive: true });
  const dovecotTrace = path.join(dir, "strace-dovecot.out");
  const postfixTrace = path.join(dir, "strace-postfix.out");
  const dovecot = await startDovecotBench({
    dir: path.join(dir, "dovecot"),
    users: ["bench"],
    domain: BENCH_DOMAIN,
    lmtp: true,
    wrap: trace ? straceWrap(dovecotTrace) : undefined,
  });
  let postfix;
  try {
    postfix = await startPostfix({
      dir: path.join(dir, "postfix"),
      hostname: `mx.${BENCH_DOMAIN}`,
      virtualDomains: [BENCH_DOMAIN],
      lmtp: { host: "127.0.0.1", port: dovecot.lmtpPort },
      wrap: trace ? straceWrap(postfixTrace) : undefined,
    });
  } catch (err) {
    await dovecot.stop();
    throw err;
  }
  const maildir = dovecot.maildir("bench");
  const p = postfix;
  return {
    name: "postfix",
    host: p.host,
    port: p.port,
    delivered: async () => (await countFiles(path.join(maildir, "new"))) + (await countFiles(path.join(maildir, "cur"))),
    rssPid: () => null,
    cpuPids: () => [p.pid, dovecot.pid()],
    async stop() {
      await p.stop({ keep: true });
      await dovecot.stop();
      if (!trace) return { syncCalls: null };
      return { syncCalls: { postfix: await countSyncCalls(postfixTrace), dovecot: await countSyncCalls(dovecotTrace) } };
    },
  };
}

/** Freehold with one mx listener (see freehold-server.ts), its messages counted in SQLite. */
export async function startFreeholdTarget(root: string, dir: string, trace: boolean, opts: { processes?: number } = {}): Promise<SmtpTarget> {
  const straceOut = path.join(dir, "strace-freehold.out");
  const fh = await startFreehold(root, dir, {
    // issue 14: server.processes (a store owner + protocol processes); the default is 1.
    configSet: opts.processes ? [[["server", "processes"], opts.processes]] : undefined,
    hostname: BENCH_DOMAIN,
    domain: BENCH_DOMAIN,
    user: { address: BENCH_RCPT, password: "bench-password" },
    roles: [{ role: "mx" }],
    dns: benchDns,
    wrap: trace ? straceWrap(straceOut) : undefined,
  });
  let db: { count(): number; close(): void };
  try {
    db = await openMessageCount(fh.data);
  } catch (err) {
    await fh.stop();
    throw err;
  }
  // Idle RSS (issue 14): the process at rest after start, its listeners open, before any mail.
  await new Promise((r) => setTimeout(r, 1000));
  const idleRssBytes = await treeRss(fh.server.targetPid());
  return {
    name: opts.processes && opts.processes > 1 ? `freehold (processes = ${opts.processes})` : "freehold",
    idleRssBytes,
    cpuPids: () => [fh.server.targetPid()],
    host: "127.0.0.1",
    port: fh.ports.mx,
    delivered: async () => db.count(),
    rssPid: () => fh.server.targetPid(),
    dnsQueries: () => fh.dns.log.length,
    async stop() {
      db.close();
      await fh.stop();
      if (!trace) return { syncCalls: null };
      return { syncCalls: { freehold: await countSyncCalls(straceOut) } };
    },
  };
}

/** The loopback DNS server's answers: the load generator's domain publishes SPF for loopback
 * (so SPF passes, as for a legitimate sender), everything else is NXDOMAIN with the zone's SOA
 * beside it, as every real server sends it (RFC 2308 §3: it is what makes a negative answer
 * cacheable), answered at once. Email authentication runs as in production, minus network
 * waits. */
const benchDns: FaultHandler = (q) => {
  if (q.name.toLowerCase() === BENCH_SENDER_DOMAIN && q.type === "TXT") {
    return { kind: "answer", answers: [{ name: q.name, type: "TXT", ttl: 300, data: ["v=spf1 ip4:127.0.0.0/8 -all"] }] };
  }
  return { kind: "rcode", rcode: "NXDOMAIN", authorities: [BENCH_SOA] };
};

const BENCH_SOA = {
  name: "test",
  type: "SOA" as const,
  ttl: 300,
  data: { mname: "ns.test", rname: "hostmaster.test", serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 300 },
};

/** Finds Freehold's SQLite file in the data folder (the one with a messages table) and counts
 * its rows. A WAL reader sees each commit as soon as it is durable. */
async function openMessageCount(data: string): Promise<{ count(): number; close(): void }> {
  const entries = await fs.readdir(data, { recursive: true, withFileTypes: true });
  const candidates = entries
    .filter((e) => e.isFile() && /\.(db|sqlite3?)$/.test(e.name))
    .map((e) => path.join(e.parentPath, e.name));
  for (const file of candidates) {
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(file, { readOnly: true });
      const stmt = db.prepare("SELECT count(*) AS n FROM messages");
      stmt.get();
      const open = db;
      return { count: () => Number((stmt.get() as { n: number }).n), close: () => open.close() };
    } catch {
      db?.close();
    }
  }
  throw new Unavailable(`no SQLite database with a messages table under ${data}`);
}

/** VmRSS of a process now, in bytes, or null. */
