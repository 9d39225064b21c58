// The two SMTP servers the inbound benchmark compares, behind one interface: Postfix delivering
// into Dovecot over LMTP (the reference) and Freehold started through its own CLI. Each is
// started fresh for every measurement, optionally under strace to count fsyncs.
import fs from "node:fs/promises";
import { existsSync, openSync, closeSync } from "node:fs";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { parseDocument } from "yaml";
import { startPostfix } from "../../test/support/postfix.ts";
import { countFiles, freePort, run, spawnManaged, waitForGreeting } from "../../test/support/peer-util.ts";
import { startDovecotBench } from "./dovecot-bench.ts";
import { startFaultServer, type FaultServer } from "../../test/support/dns-fault.ts";
import { countSyncCalls, straceWrap } from "./trace.ts";

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
  /** Stops everything; sync-call counts per process group when traced. */
  stop(): Promise<{ syncCalls: Record<string, Record<string, number>> | null }>;
}

/** The target cannot run here; the case prints the reason and measures the other side. */
export class Unavailable extends Error {}

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
    async stop() {
      await p.stop({ keep: true });
      await dovecot.stop();
      if (!trace) return { syncCalls: null };
      return { syncCalls: { postfix: await countSyncCalls(postfixTrace), dovecot: await countSyncCalls(dovecotTrace) } };
    },
  };
}

/** Starts Freehold as the real product runs: `init`, `domain add`, `user add`, then `serve`
 * with the mx listener moved to a loopback port. Throws Unavailable when a step fails (the CLI
 * is still being built), with the step's error as the reason. */
export async function startFreeholdTarget(root: string, dir: string, trace: boolean): Promise<SmtpTarget> {
  const cli = path.join(root, "src", "cli", "main.ts");
  if (!existsSync(cli)) throw new Unavailable("src/cli/main.ts does not exist yet");
  const node = process.execPath;
  await fs.mkdir(dir, { recursive: true });
  const data = path.join(dir, "data");
  const step = async (what: string, args: string[], input?: string) => {
    const r = await run(node, [cli, ...args], { input, cwd: root, timeoutMs: 60_000 });
    if (r.code !== 0) {
      const why = (r.stderr || r.stdout).trim().split("\n").slice(0, 3).join(" / ");
      throw new Unavailable(`\`freehold ${what}\` failed (exit ${r.code}): ${why}`);
    }
  };
  await step("init", ["init", "--hostname", BENCH_DOMAIN, "--data", data]);
  await step("domain add", ["--data", data, "domain", "add", BENCH_DOMAIN]);
  await step("user add", ["--data", data, "user", "add", BENCH_RCPT, "--password-stdin"], "bench-password\n");

  // Only an mx listener, on a free loopback port, and DNS from our loopback server (never the
  // system's resolver, which is off the machine); the rest stays as init wrote it.
  const port = await freePort();
  const configFile = path.join(data, "freehold.yaml");
  if (!existsSync(configFile)) throw new Unavailable(`init wrote no ${path.relative(dir, configFile)}`);
  const dns = await startBenchDns();
  const doc = parseDocument(await fs.readFile(configFile, "utf8"));
  doc.set("listeners", [{ role: "mx", address: "127.0.0.1", port }]);
  doc.setIn(["dns", "servers"], [dns.address]);
  await fs.writeFile(configFile, doc.toString());

  const logFile = path.join(dir, "freehold.log");
  const logFd = openSync(logFile, "a");
  const straceOut = path.join(dir, "strace-freehold.out");
  const server = spawnManaged(node, [cli, "--data", data, "serve"], {
    cwd: root,
    stdio: ["ignore", logFd, logFd],
    wrap: trace ? straceWrap(straceOut) : undefined,
  });
  closeSync(logFd);
  try {
    await waitForGreeting("127.0.0.1", port, { timeoutMs: 30_000, isAlive: () => server.alive() });
  } catch (err) {
    await server.stop();
    await dns.close();
    const lines = (await fs.readFile(logFile, "utf8").catch(() => "")).trim().split("\n");
    // The first error line and the one after it say more than a stack trace's tail.
    const at = lines.findIndex((l) => /error/i.test(l));
    const log = (at >= 0 ? lines.slice(at, at + 2) : lines.slice(-2)).map((l) => l.trim()).join(" / ");
    throw new Unavailable(`\`freehold serve\` did not answer on the mx port: ${(err as Error).message}; log: ${log}`);
  }
  const db = await openMessageCount(data);
  return {
    name: "freehold",
    host: "127.0.0.1",
    port,
    delivered: async () => db.count(),
    rssPid: () => server.targetPid(),
    dnsQueries: () => dns.log.length,
    async stop() {
      db.close();
      await server.stop();
      await dns.close();
      if (!trace) return { syncCalls: null };
      return { syncCalls: { freehold: await countSyncCalls(straceOut) } };
    },
  };
}

/** A DNS server on loopback for the benchmark's one sender domain: the load generator's domain
 * publishes SPF for loopback (so SPF passes, as for a legitimate sender), everything else is
 * NXDOMAIN, answered at once. Email authentication runs as in production, minus network waits. */
function startBenchDns(): Promise<FaultServer> {
  return startFaultServer((q) => {
    if (q.name.toLowerCase() === BENCH_SENDER_DOMAIN && q.type === "TXT") {
      return { kind: "answer", answers: [{ name: q.name, type: "TXT", ttl: 300, data: ["v=spf1 ip4:127.0.0.0/8 -all"] }] };
    }
    return { kind: "rcode", rcode: "NXDOMAIN" };
  });
}

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
